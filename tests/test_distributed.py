"""Training with DistributedDataParallel on 2 CPU processes (gloo), on FakeData shaped like CIFAR-10."""
import json

import pytest
import torch
from torch.nn import functional as F
from torch.utils.data import Subset

from snnlab.models.classifier import ClassifierConfig, SpikingResNet
from snnlab.training.trainers import ClassifierTraining

CONFIG = ClassifierConfig(in_channels=3, image_size=32, classes=10, steps=2, stem=8, stages=[8, 16], blocks=1,
                          se_reduction=4)
SETTINGS = ClassifierTraining(epochs=2, batch_size=16, lr=1e-3, seed=0)


def data():
    from snnlab.data.loaders import image_dataset

    return Subset(image_dataset("fake-cifar10", "train", augment=False), range(48))  # 3 global batches per epoch


def _worker(rank, checkpoint, max_epochs, out):
    torch.set_num_threads(1)
    from snnlab.training.distributed import fit

    _, losses = fit(data(), CONFIG, SETTINGS, checkpoint, device="cpu", progress=False, max_epochs=max_epochs)
    if rank == 0:
        torch.save(losses, out)


def run(world, tmp_path, checkpoint=None, max_epochs=None):
    from snnlab.training.distributed import launch

    out = str(tmp_path / f"losses-{world}.pt")
    launch(_worker, world, checkpoint, max_epochs, out)
    return torch.load(out)


def by_hand(model, settings, world, step_loss):
    """One process doing by hand what DDP over ``world`` processes does: each global batch split the way the
    DistributedSampler splits it, each part through the model with its own BatchNorm statistics, the mean
    of the parts' losses as the step's loss. ``step_loss(parts, draws)`` is that mean for one global batch
    (``parts``: the ``world`` ``(x, y)`` parts; ``draws``: the generator seeded by seed and epoch)."""
    from snnlab.data.loaders import make_loader

    dataset, per = data(), settings.batch_size // world
    steps = len(dataset) // settings.batch_size
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, settings.epochs * steps)
    loaders = [make_loader(dataset, per, seed=settings.seed, rank=r, world=world) for r in range(world)]
    losses = []
    for epoch in range(settings.epochs):
        draws = torch.Generator().manual_seed(settings.seed * 1_000_003 + epoch)
        for loader in loaders:
            loader.sampler.set_epoch(epoch)
        for parts in zip(*(list(loader)[:steps] for loader in loaders)):
            loss = step_loss(parts, draws)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
    return losses


def reference_losses(world):
    """The classifier by hand (:func:`by_hand`)."""
    torch.manual_seed(SETTINGS.seed)
    model = SpikingResNet(CONFIG).train()
    return by_hand(model, SETTINGS, world,
                   lambda parts, draws: sum(F.cross_entropy(model(x), y) for x, y in parts) / world)


def test_two_processes_follow_the_same_global_batch_as_one(tmp_path):
    ddp = run(2, tmp_path)
    expected = reference_losses(2)
    assert len(ddp) == len(expected) == 6
    assert torch.allclose(torch.tensor(ddp), torch.tensor(expected), rtol=1e-4, atol=1e-5), (ddp, expected)


def test_one_process_is_the_plain_loop_and_checks_its_batch():
    from snnlab.training.distributed import fit

    _, losses = fit(data(), CONFIG, SETTINGS, device="cpu", progress=False)
    assert torch.allclose(torch.tensor(losses), torch.tensor(reference_losses(1)), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="do not fill one batch"):
        fit(Subset(data(), range(8)), CONFIG, SETTINGS, device="cpu", progress=False)


def test_a_checkpoint_written_by_two_processes_resumes_in_one(tmp_path):
    from snnlab.runs.checkpoints import load_checkpoint
    from snnlab.training.distributed import fit

    checkpoint = str(tmp_path / "classifier.pt")
    first = run(2, tmp_path, checkpoint, max_epochs=1)
    state = load_checkpoint(checkpoint, "classifier")
    assert state["epoch"] == 1 and state["world_size"] == 2 and len(first) == 3
    model, rest = fit(data(), CONFIG, SETTINGS, checkpoint, device="cpu", progress=False)
    assert len(rest) == 3  # only the second epoch ran, on the schedule where the first stopped
    state = load_checkpoint(checkpoint, "classifier")
    assert state["epoch"] == 2 and state["world_size"] == 1 and state["scheduler"]["last_epoch"] == 6
    assert all(torch.isfinite(torch.tensor(rest)))


def test_snnlab_train_nproc_2_trains_a_cifar_shaped_defence_under_torchrun(tmp_path, capsys):
    """The full CIFAR-10 classifier (ResNet-20-like widths) and purifier, CI-sized: 32 FakeData images, one epoch
    each, two gloo processes launched through torchrun by `snnlab train --nproc 2`; then the detector on the
    calibration split, and a folder `load_models` reads."""
    from snnlab.cli import main
    from snnlab.pretrained import load_models
    from snnlab.runs.checkpoints import load_checkpoint

    out = tmp_path / "cifar"
    args = ["train", "--dataset", "cifar10", "--fake-data", "--nproc", "2", "--epochs", "1", "--limit", "32",
            "--batch-size", "16", "--workers", "0", "--out", str(out), "--quiet"]
    assert main(args) == 0
    state = load_checkpoint(str(out / "classifier.pt"), "classifier")
    assert state["training"]["epochs"] == 1 and state["config"]["stages"] == [64, 128, 256]
    assert load_checkpoint(str(out / "purifier.pt"), "purifier")["config"]["width"] == 64
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["processes"] == 2 and manifest["train_images"] == 32 and manifest["data"] == "fake-cifar10"
    defense = load_models(str(out))  # checks every file against the manifest's SHA-256
    assert 0 < defense.detector.threshold < 1 and defense(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    # started again, the finished run is kept, not retrained
    before = (out / "classifier.pt").read_bytes()
    assert main(args[:args.index("--nproc")] + args[args.index("--nproc") + 2:]) == 0
    assert (out / "classifier.pt").read_bytes() == before


def test_streamed_training_errors_are_one_line(capsys):
    from snnlab.cli import main

    assert main(["train", "--dataset", "mnist", "--fake-data", "--epochs", "1"]) == 2
    assert "--fake-data has the shapes of cifar10 and tiny-imagenet" in capsys.readouterr().err
    assert main(["train", "--dataset", "cifar10", "--stream", "--root", "/nonexistent", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "not found under /nonexistent" in err and len(err.strip().splitlines()) == 1
    assert main(["train", "--dataset", "cifar10", "--fake-data", "--pgd-eps", "8", "--epochs", "1"]) == 2
    assert "--pgd-eps must lie in (0, 1]" in capsys.readouterr().err


def _pgd_worker(rank, out):
    import dataclasses

    torch.set_num_threads(1)
    from snnlab.training.distributed import fit

    losses = {}
    for adversarial in (None, "pgd"):
        settings = dataclasses.replace(SETTINGS, epochs=1, adversarial=adversarial, eps=8 / 255, pgd_steps=3)
        losses[str(adversarial)] = fit(data(), CONFIG, settings, None, device="cpu", progress=False)[1]
    if rank == 0:
        torch.save(losses, out)


def test_pgd_adversarial_training_runs_distributed_and_its_examples_are_harder(tmp_path):
    import dataclasses

    from snnlab.training.distributed import fit, launch

    out = str(tmp_path / "pgd.pt")
    launch(_pgd_worker, 2, out)
    losses = torch.load(out)
    assert len(losses["pgd"]) == len(losses["None"]) == 3
    # the first step starts from the same weights: the PGD batch must cost more than the clean one
    assert losses["pgd"][0] > losses["None"][0]
    with pytest.raises(ValueError, match="plainly or with PGD"):
        fit(data(), CONFIG, dataclasses.replace(SETTINGS, adversarial="fgsm"), device="cpu", progress=False)


PURIFIER = dict(in_channels=3, image_size=32, steps=2, noise_channels=8, noise_layers=2, width=8, depth=2)


def purifier_settings():
    from snnlab.training.trainers import PurifierTraining

    return PurifierTraining(epochs=2, batch_size=16, lr=1e-3, seed=0)


def frozen_classifier():
    torch.manual_seed(1)
    return SpikingResNet(CONFIG).eval()


def _purifier_worker(rank, checkpoint, max_epochs, out):
    torch.set_num_threads(1)
    from snnlab.purifiers.snn import PurifierConfig
    from snnlab.training.distributed import fit_purifier

    _, losses = fit_purifier(data(), frozen_classifier(), PurifierConfig(**PURIFIER), purifier_settings(), checkpoint,
                             device="cpu", progress=False, max_epochs=max_epochs)
    if rank == 0:
        torch.save(losses, out)


def reference_purifier_losses(world):
    """The purifier by hand (:func:`by_hand`): per global batch one eps and one clean mask from the generator
    seeded by seed and epoch; each part gets FGSM against the frozen classifier and its slice of the mask."""
    import torchattacks

    from snnlab.purifiers.snn import Purifier, PurifierConfig

    settings, classifier = purifier_settings(), frozen_classifier()
    for p in classifier.parameters():
        p.requires_grad_(False)
    torch.manual_seed(settings.seed)
    purifier = Purifier(PurifierConfig(**PURIFIER)).train()
    (lo, hi), per = settings.eps_range, settings.batch_size // world

    def step_loss(parts, draws):
        eps = lo + (hi - lo) * torch.rand((), generator=draws).item()
        keep = torch.rand(settings.batch_size, generator=draws) < settings.clean_fraction
        loss = 0
        for r, (x, y) in enumerate(parts):
            adv = torchattacks.FGSM(classifier, eps=eps)(x, y)
            x_adv = torch.where(keep[r * per:(r + 1) * per, None, None, None], x, adv)
            x_hat, sigma_hat = purifier.estimate(x_adv)
            loss = loss + settings.loss(x_hat, x, sigma_hat, (x_adv - x).abs(), classifier(x_hat),
                                        classifier(x).detach()) / world
        return loss

    return by_hand(purifier, settings, world, step_loss)


def test_the_purifier_trains_on_fgsm_examples_with_two_processes_as_by_hand(tmp_path):
    from snnlab.training.distributed import launch

    out = str(tmp_path / "purifier-losses.pt")
    launch(_purifier_worker, 2, None, None, out)
    ddp, expected = torch.load(out), reference_purifier_losses(2)
    assert len(ddp) == len(expected) == 6
    # The first step is the same computation (eps, clean rows, FGSM, loss); DDP's averaged gradient then equals
    # the by-hand one to float rounding (about 1e-8 here), which a spike threshold can turn into a small
    # difference later (0.15% at most, measured): spikes are steps, not smooth functions of the weights.
    assert abs(ddp[0] - expected[0]) <= 1e-6 * expected[0], (ddp, expected)
    assert torch.allclose(torch.tensor(ddp), torch.tensor(expected), rtol=1e-2), (ddp, expected)
    assert ddp[-1] < ddp[0]  # it learns


def test_a_purifier_checkpoint_from_two_processes_resumes_in_one_and_is_one_snnlab_reads(tmp_path):
    from snnlab.purifiers.snn import PurifierConfig
    from snnlab.runs.checkpoints import load_checkpoint
    from snnlab.training.distributed import fit_purifier, launch

    checkpoint = str(tmp_path / "purifier.pt")
    launch(_purifier_worker, 2, checkpoint, 1, str(tmp_path / "first.pt"))
    state = load_checkpoint(checkpoint, "purifier")
    assert state["epoch"] == 1 and state["world_size"] == 2 and "loss_weights" in state
    purifier, rest = fit_purifier(data(), frozen_classifier(), PurifierConfig(**PURIFIER), purifier_settings(),
                                  checkpoint, device="cpu", progress=False)
    assert len(rest) == 3 and load_checkpoint(checkpoint, "purifier")["scheduler"]["last_epoch"] == 6
    assert all(torch.isfinite(torch.tensor(rest)))
    assert purifier(torch.rand(2, 3, 32, 32)).shape == (2, 3, 32, 32)
