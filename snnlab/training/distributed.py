"""Training at dataset scale, on one process or many, with PyTorch's own engine.

Launched by ``torchrun --nproc-per-node N`` (or called directly for one process), :func:`fit` trains
the MLF spiking classifier and :func:`fit_purifier` the SNN purifier (on FGSM examples against the
trained classifier, as :mod:`snnlab.training.trainers`) on a streamed dataset (:mod:`snnlab.data.loaders`) with
``DistributedDataParallel`` and a ``DistributedSampler``: NCCL on GPUs, gloo on CPUs.

- The **global batch** is ``settings.batch_size``; each of the ``world`` processes takes
  ``batch_size / world`` of it, and DDP averages their gradients, so a step follows the mean loss
  of the global batch. BatchNorm statistics are per process on the CPU (PyTorch's SyncBatchNorm
  needs GPUs) and synchronised on CUDA.
- Only rank 0 writes the checkpoint (atomically, after every epoch) and shows a progress bar.
  A checkpoint holds no per-process state (the weights, AdamW's state, the schedule position and
  the epoch; the data order is the seeded sampler's, the purifier's eps and clean rows come from a
  generator seeded by seed and epoch, and torch's global generator, which the augmentation and the DataLoader
  workers draw from, is seeded by seed, epoch and rank at each epoch's start), so a killed run resumes as
  it ran, and a run written with one world size resumes with another.
- bf16 autocast on GPUs that support it; gradient clipping when ``clip`` is set.
- The attacks that make training data run in each process on its own share of the batch, in fp32:
  FGSM for the purifier, PGD for adversarial training (``settings.adversarial='pgd'``, the baseline
  of :mod:`snnlab.training.trainers`).
- :func:`calibrate` sets the detector's threshold on a streamed calibration split.

No home-made process pool or parameter averaging: the process group, DDP and the sampler are
``torch.distributed``'s.
"""
from __future__ import annotations

import itertools
import os
import sys
from dataclasses import asdict, dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel

from ..data.loaders import make_loader
from ..devices import resolve_device
from ..models.classifier import ClassifierConfig, SpikingResNet
from ..models.detector import Detector, detection_threshold
from ..purifiers.snn import Purifier, PurifierConfig
from . import engine
from .trainers import fgsm_batch, frozen


@dataclass
class Process:
    rank: int  # this process, 0 .. world - 1
    world: int  # number of processes
    device: torch.device


LAUNCHER_ENV = "SNNLAB_LAUNCHER_PID"  # the pid of the `snnlab train --nproc N` process that holds the folder


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux ``prctl(PR_SET_PDEATHSIG)``; elsewhere
    nothing). ``snnlab train --nproc N`` holds its folder's lock in the launcher; torchrun starts each worker
    in a session of its own, so a launcher killed with SIGKILL would leave workers writing into a folder whose
    lock is gone. The launcher starts torchrun with this (``preexec_fn``), and each worker calls it, so the
    whole run dies with the process that holds the lock; a process whose launcher (:data:`LAUNCHER_ENV`) is
    already gone when it gets here kills itself. Written here: the standard library has no prctl."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
    launcher = int(os.environ.get(LAUNCHER_ENV, "0"))
    if launcher:
        try:
            os.kill(launcher, 0)  # alive? (signal 0 only checks)
        except ProcessLookupError:  # it died before the call: do as it would have made us
            os.kill(os.getpid(), signal.SIGKILL)
        except PermissionError:  # alive, another user's: not ours to judge
            pass


def setup(device: str = "auto") -> Process:
    """Join the process group torchrun describes in the environment (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``,
    ``MASTER_ADDR``, ``MASTER_PORT``), once; a single process when there is none. On CUDA each process
    takes the GPU of its local rank."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    device = resolve_device(device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    return Process(rank, dist.get_world_size() if dist.is_initialized() else 1, device)


def fit(dataset, config: ClassifierConfig, settings, checkpoint: str | None = None, device: str = "auto",
        progress: bool = True, workers: int = 0, clip: float | None = None, bf16: bool = True,
        max_epochs: int | None = None):
    """Train the spiking classifier on ``dataset`` (a Dataset of ``(image, label)``) in this process group.

    ``settings``: a :class:`snnlab.training.trainers.ClassifierTraining` (epochs, global batch size, lr, weight decay,
    seed). ``max_epochs`` stops early (the schedule still spans ``settings.epochs``: for interrupting and
    resuming). Returns ``(model, losses)``: the classifier in eval mode and the global batch's mean loss at
    every step this call ran.
    """
    proc = setup(device)
    if settings.adversarial not in (None, "pgd") or settings.noise_sigma:
        raise ValueError(f"the streamed path trains plainly or with PGD (adversarial='pgd'), got "
                         f"adversarial={settings.adversarial!r}, noise_sigma={settings.noise_sigma}")
    torch.manual_seed(settings.seed)  # the same initial weights in every process
    model = SpikingResNet(config).to(proc.device)
    attack = None
    if settings.adversarial == "pgd":  # Madry et al., as in .trainers: each process attacks its own part of the batch
        import torchattacks

        attack = torchattacks.PGD(model, eps=settings.eps, alpha=2.5 * settings.eps / settings.pgd_steps,
                                  steps=settings.pgd_steps, random_start=True)

    def loss(net, x, y, draws, autocast):
        if attack is not None:
            with frozen(model):  # the input's gradient alone, not the weights'
                x = attack(x, y)  # on the local model, in eval mode, in fp32; no gradient crosses processes
            net.train()
        with autocast:
            return F.cross_entropy(net(x), y)

    losses = _train(proc, "classifier", model, model, dataset, settings, loss, checkpoint, progress, workers, clip,
                    bf16, max_epochs, {"config": asdict(config)})
    return model.eval(), losses


class _Estimate(nn.Module):
    """The purifier seen through DDP: ``forward`` is ``estimate``, so both outputs carry synchronised gradients."""

    def __init__(self, purifier: Purifier):
        super().__init__()
        self.purifier = purifier

    def forward(self, images):  # (N, C, H, W) -> ((N, C, H, W) purified, (N, C, H, W) noise map)
        return self.purifier.estimate(images)


def fit_purifier(dataset, classifier: nn.Module, config: PurifierConfig, settings, checkpoint: str | None = None,
                 device: str = "auto", progress: bool = True, workers: int = 0, clip: float | None = None,
                 bf16: bool = True, max_epochs: int | None = None):
    """Train the SNN purifier (NeSNN + RecSNN, composite loss) on FGSM examples against ``classifier`` (frozen),
    as :func:`snnlab.training.trainers.train_purifier` does, in this process group.

    Per global batch one eps is drawn uniformly from ``settings.eps_range`` and one clean/adversarial mask over
    the whole global batch (``settings.clean_fraction`` kept clean), from a generator seeded by the seed and the
    epoch, the same in every process; each process makes the FGSM examples of its own part against its own
    copy of the classifier (fp32, torchattacks) and takes its part of the mask. ``settings``: a
    :class:`snnlab.training.trainers.PurifierTraining`. Returns ``(purifier, losses)`` as :func:`fit`.
    """
    proc = setup(device)
    classifier = classifier.to(proc.device).eval()
    torch.manual_seed(settings.seed)
    purifier = Purifier(config).to(proc.device)
    loss_fn, (lo, hi) = settings.loss, settings.eps_range
    local = settings.batch_size // max(proc.world, 1)
    part = slice(proc.rank * local, (proc.rank + 1) * local)  # this process's rows of the global batch

    def loss(net, x, y, draws, autocast):
        eps = lo + (hi - lo) * torch.rand((), generator=draws).item()
        keep = (torch.rand(settings.batch_size, generator=draws) < settings.clean_fraction)[part]  # (local,)
        x_adv = fgsm_batch(classifier, x, y, eps, keep)
        with autocast:
            x_hat, sigma_hat = net(x_adv)
            logits_hat = logits_clean = None
            if loss_fn.w_kl > 0:
                logits_hat = classifier(x_hat)
                with torch.no_grad():
                    logits_clean = classifier(x)
            return loss_fn(x_hat, x, sigma_hat, (x_adv - x).abs(), logits_hat, logits_clean)

    with frozen(classifier):
        losses = _train(proc, "purifier", purifier, _Estimate(purifier), dataset, settings, loss, checkpoint,
                        progress, workers, clip, bf16, max_epochs,
                        {"config": asdict(config), "loss_weights": asdict(loss_fn)})
    return purifier.eval(), losses


def _train(proc: Process, kind: str, model: nn.Module, trained: nn.Module, dataset, settings, loss, checkpoint,
           progress, workers, clip, bf16, max_epochs, record) -> list:
    """What :func:`fit` and :func:`fit_purifier` share on top of the one loop
    (:func:`snnlab.training.engine.fit`: resume, step, checkpoint): DDP and the sharded loader.
    ``trained`` is ``model`` or a view of it whose ``forward`` the loss calls;
    ``loss(net, x, y, draws, autocast)`` is this process's part of the global batch's mean loss, with ``net``
    the (DDP-wrapped) ``trained``, ``draws`` a generator seeded by seed and epoch, the same in every process,
    and ``autocast`` the bf16 context. Returns the global batch's mean loss per step."""
    if settings.batch_size % proc.world:
        raise ValueError(f"the global batch of {settings.batch_size} does not split over {proc.world} processes; "
                         f"choose a multiple of {proc.world}")
    steps = len(dataset) // settings.batch_size  # per epoch, the same for every world size
    if steps < 1:
        raise ValueError(f"{len(dataset)} images do not fill one batch of {settings.batch_size}")
    net = trained
    if proc.world > 1:
        if proc.device.type == "cuda":
            net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
        net = DistributedDataParallel(net, device_ids=[proc.device.index] if proc.device.type == "cuda" else None)
    loader = make_loader(dataset, settings.batch_size // proc.world, seed=settings.seed, workers=workers,
                         rank=proc.rank, world=proc.world)
    autocast = torch.autocast(proc.device.type, dtype=torch.bfloat16,
                              enabled=bf16 and proc.device.type == "cuda" and torch.cuda.is_bf16_supported())
    draws = {}  # this epoch's generator, seeded by seed and epoch: the same in every process, no state to save

    def batches(epoch):
        loader.sampler.set_epoch(epoch)
        draws["epoch"] = torch.Generator().manual_seed(settings.seed * 1_000_003 + epoch)
        # the augmentation (random crop, flip), the DataLoader workers' seeds and PGD's random start draw from
        # torch's global generator: seeded by seed, epoch and rank, a resumed epoch draws what it first drew
        torch.manual_seed((settings.seed * 1_000_003 + epoch) * 65_537 + proc.rank)
        for x, y in itertools.islice(loader, steps):
            yield x.to(proc.device, non_blocking=True), y.to(proc.device, non_blocking=True)

    label = f" ({proc.world} process{'es' if proc.world > 1 else ''})"
    return engine.fit(model, settings,
                      engine.Loop(kind, batches, lambda batch, epoch: loss(net, *batch, draws["epoch"], autocast),
                                  steps, label, extra=record),
                      checkpoint=checkpoint, progress=progress, clip=clip, process=proc, max_epochs=max_epochs)


def calibrate(purifier: nn.Module, dataset, fpr: float = 0.01, batch_size: int = 256, workers: int = 0):
    """A :class:`~snnlab.models.detector.Detector` calibrated at false-positive rate ``fpr`` on ``dataset`` (the
    streamed calibration split), scored batch by batch on the purifier's device; run it on one process."""
    from torch.utils.data import DataLoader

    detector = Detector(purifier.eval())
    device = next(purifier.parameters()).device
    with torch.no_grad():
        scores = torch.cat([detector.score(x.to(device)).cpu()
                            for x, _ in DataLoader(dataset, batch_size=batch_size, num_workers=workers)])  # (N,)
    detector.threshold, detector.fpr = detection_threshold(scores, fpr), fpr
    return detector


def _entry(rank: int, fn, world: int, port: int, args: tuple) -> None:
    os.environ.update(WORLD_SIZE=str(world), RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    try:
        fn(rank, *args)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def launch(fn, world: int, *args) -> None:
    """Run ``fn(rank, *args)`` in ``world`` local processes joined as torchrun would join them (a free port on
    127.0.0.1), for tests and benchmarks; ``fn`` must be importable (a module-level function). Training
    runs use torchrun (``snnlab train --nproc N``)."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_entry, args=(fn, world, port, args), nprocs=world)
