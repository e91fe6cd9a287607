"""The purifier family: one interface, the old names kept, each method's own guarantees."""
import pytest
import torch

import snnlab
from snnlab import purifiers
from snnlab.purifiers.consistency import EPSILON, ConsistencyConfig, ConsistencyPurifier, boundary_scalings


def test_the_shipped_defence_uses_the_snn_purifier():
    from snnlab.purifiers import snn

    assert isinstance(snnlab.load_pretrained("digits").purifier, snn.Purifier)


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match="unknown purifier 'nope'; choose from snn, consistency, masking, surgery"):
        purifiers.build("nope")


@pytest.mark.parametrize("name", purifiers.NAMES)
def test_every_purifier_maps_images_to_images_and_checks_its_input(name):
    model = purifiers.build(name, classifier=snnlab.load_pretrained("digits").classifier).eval()
    x = torch.rand(5, 1, 8, 8)
    with torch.no_grad():
        out = model(x)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model(x * 3)
    with pytest.raises(ValueError):
        model(torch.rand(5, 3, 8, 8))


def test_boundary_condition_makes_f_the_identity_at_the_smallest_noise():
    c_skip, c_out, _ = boundary_scalings(torch.tensor([EPSILON, 1.0]))
    assert c_skip[0] == pytest.approx(1.0) and c_out[0] == pytest.approx(0.0)
    assert 0 < c_skip[1] < 1 and c_out[1] > 0
    model = ConsistencyPurifier(ConsistencyConfig()).eval()
    x = torch.rand(4, 1, 8, 8)
    with torch.no_grad():
        assert torch.allclose(model.denoise(x, EPSILON / 2), x, atol=1e-5)  # t = 2 sigma = e


def test_the_consistency_purifier_is_random_unless_its_noise_is_fixed():
    model = ConsistencyPurifier(ConsistencyConfig()).eval()
    x = torch.rand(4, 1, 8, 8)
    with torch.no_grad():
        assert purifiers.is_random(model) and not torch.equal(model(x), model(x))
        model.noise_seed = 3
        assert not purifiers.is_random(model) and torch.equal(model(x), model(x))
    assert not purifiers.is_random(purifiers.build("snn"))


def test_consistency_training_is_seeded_and_resumes(tmp_path, monkeypatch):
    import snnlab.training.engine as train
    from snnlab.purifiers.consistency import ConsistencyTraining, train_consistency

    data = snnlab.load_dataset("digits", "train", limit=128)
    clf = snnlab.load_pretrained("digits").classifier
    settings = ConsistencyTraining(epochs=3, semantic_epochs=1, batch_size=32)
    a = train_consistency(clf, settings=settings, progress=False, data=data)
    b = train_consistency(clf, settings=settings, progress=False, data=data)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert all(p.requires_grad for p in clf.parameters())  # the classifier is unfrozen afterwards
    path = str(tmp_path / "c.pt")
    real_save, calls = train.save, []

    def crash_after_one(*args, **kwargs):
        real_save(*args, **kwargs)
        calls.append(1)
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "save", crash_after_one)
    with pytest.raises(KeyboardInterrupt):
        train_consistency(clf, settings=settings, checkpoint=path, progress=False, data=data)
    monkeypatch.setattr(train, "save", real_save)
    resumed = train_consistency(clf, settings=settings, checkpoint=path, progress=False, data=data)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), resumed.state_dict().values()))
    loaded = purifiers.load_checkpoint_file("consistency", path)
    assert isinstance(loaded, ConsistencyPurifier)
    from snnlab.pretrained import PRETRAINED_DIR
    from snnlab.runs.checkpoints import CheckpointError

    with pytest.raises(CheckpointError, match="expected a 'purifier-consistency'"):
        purifiers.load_checkpoint_file("consistency", f"{PRETRAINED_DIR}/digits/purifier.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        purifiers.load_checkpoint_file("consistency", str(tmp_path / "missing.pt"))


def test_masking_rebuilds_each_group_from_the_others_only():
    """A pixel's output does not depend on its own input value: change one pixel, its output stays."""
    from snnlab.purifiers.masking import MaskingConfig, MaskingPurifier

    model = MaskingPurifier(MaskingConfig()).eval()
    model.refine.weight.data.zero_()
    model.refine.bias.data.zero_()  # look at the assembly alone
    model.noise_seed = 0
    x = torch.rand(2, 1, 8, 8)
    y = x.clone()
    y[:, :, 3, 4] = 1 - y[:, :, 3, 4]
    with torch.no_grad():
        assert torch.allclose(model(x)[:, :, 3, 4], model(y)[:, :, 3, 4])
        groups = model.groups(2, "cpu", torch.Generator().manual_seed(0))
    assert all(int((groups == g).sum()) == 2 * 64 // 4 for g in range(4))  # balanced groups


def test_surgery_removes_the_most_salient_share_and_keeps_the_rest():
    from snnlab.purifiers.surgery import SurgeryConfig, SurgeryPurifier

    classifier = snnlab.load_pretrained("digits").classifier
    model = SurgeryPurifier(SurgeryConfig(remove=0.25), classifier).eval()
    x = snnlab.load_dataset("digits", "test")[0][:4]
    mask = model.removal_mask(x)
    assert mask.shape == (4, 1, 8, 8) and torch.all(mask.sum((1, 2, 3)) == 16)
    saliency = model.saliency(x).flatten(1)
    removed, kept = saliency[mask.flatten(1) == 1].reshape(4, -1), saliency[mask.flatten(1) == 0].reshape(4, -1)
    assert torch.all(removed.min(1).values >= kept.max(1).values)
    with torch.no_grad():
        out = model(x)
    assert torch.equal(out * (1 - mask), x * (1 - mask))  # kept pixels pass unchanged
    with pytest.raises(ValueError, match="needs a classifier"):
        SurgeryPurifier(SurgeryConfig())(x)
    assert "scorer" not in "".join(model.state_dict())  # the classifier is not saved with the purifier


def test_train_into_a_folder_then_load_and_evaluate_from_the_cli(tmp_path, capsys):
    """`snnlab train-purifier NAME` writes OUT/purifiers/NAME.pt and a manifest; `evaluate --purifier`
    loads it and recalibrates the detector."""
    import json
    import shutil

    from snnlab import load_models
    from snnlab.cli import main
    from snnlab.pretrained import PRETRAINED_DIR
    from snnlab.runs.checkpoints import weights_sha256

    out = tmp_path / "models"
    shutil.copytree(f"{PRETRAINED_DIR}/digits", out, ignore=shutil.ignore_patterns("purifiers"))
    assert main(["train-purifier", "consistency", "--models", str(out), "--out", str(out), "--epochs", "1",
                 "--quiet"]) == 0
    manifest = json.loads((out / "purifiers" / "manifest.json").read_text())
    assert set(manifest["sha256"]) == {"consistency.pt"} and manifest["runs"]["consistency"]["seed"] == 0
    model = purifiers.load("consistency", folder=str(out))
    assert isinstance(model, ConsistencyPurifier) and not model.training
    # a finished run is kept as recorded; another seed into the same file is refused, not silently ignored
    classifier = load_models(str(out)).classifier  # the request holds the classifier by content (its SHA-256)
    assert manifest["runs"]["consistency"]["inputs"]["classifier"] == weights_sha256(classifier)
    assert purifiers.train_into("consistency", classifier, str(out), epochs=1) == manifest
    assert main(["train-purifier", "consistency", "--models", str(out), "--out", str(out), "--seed", "1",
                 "--quiet"]) == 2
    assert "seed 0 here, 1 asked" in capsys.readouterr().err
    capsys.readouterr()
    assert main(["evaluate", "--models", str(out), "--purifier", "consistency", "--threat-models", "grey-box",
                 "--attacks", "fgsm", "--eps", "0.1", "--limit", "16", "--quiet"]) == 0
    assert "grey-box" in capsys.readouterr().out
    (out / "purifiers" / "consistency.pt").write_bytes(b"corrupt")
    assert main(["evaluate", "--models", str(out), "--purifier", "consistency", "--limit", "4", "--quiet"]) == 2
    assert "corrupt" in capsys.readouterr().err
    assert main(["evaluate", "--models", str(out), "--purifier", "masking", "--limit", "4", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no masking.pt" in err and "snnlab train-purifier masking" in err
    with pytest.raises(SystemExit):
        main(["train-purifier", "nope"])
    assert "choose from snn, consistency, masking, surgery" in capsys.readouterr().err


def test_defense_with_recalibrates_the_detector():
    defense = snnlab.load_pretrained("digits")
    model = ConsistencyPurifier(ConsistencyConfig()).eval()
    model.noise_seed = 0
    swapped = purifiers.defense_with(defense, model, fpr=0.05)
    calibration, _ = snnlab.load_dataset("digits", "calibration")
    flagged = swapped.detector.flags(calibration).float().mean().item()
    assert swapped.purifier is model and swapped.classifier is defense.classifier and flagged <= 0.05


def test_every_purifier_ships_a_checked_checkpoint_and_all_fit_in_5_mb():
    import glob
    import os

    from snnlab.pretrained import PRETRAINED_DIR

    for name in purifiers.NAMES:
        model = purifiers.load(name)
        assert not model.training
        with torch.no_grad():
            assert model(torch.rand(2, 1, 8, 8)).shape == (2, 1, 8, 8)
    for dataset in os.listdir(PRETRAINED_DIR):  # the package's budget: 8 MB of checkpoints per dataset
        total = sum(os.path.getsize(p) for p in glob.glob(f"{PRETRAINED_DIR}/{dataset}/**/*.pt", recursive=True))
        assert total < 8e6, f"the shipped {dataset} checkpoints take {total / 1e6:.1f} MB"


def test_a_corrupt_shipped_purifier_is_refused(tmp_path, monkeypatch):
    import shutil

    from snnlab.runs.checkpoints import CheckpointError

    folder = tmp_path / "digits" / "purifiers"
    shutil.copytree(purifiers.shipped_dir("digits"), folder)
    (folder / "masking.pt").write_bytes(b"not a checkpoint")
    monkeypatch.setattr(purifiers, "shipped_dir", lambda dataset="digits": str(folder))
    with pytest.raises(CheckpointError, match="corrupt"):
        purifiers.load("masking")
