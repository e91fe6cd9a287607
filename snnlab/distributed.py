"""Training the classifier at dataset scale, on one process or many, with PyTorch's own engine.

Launched by ``torchrun --nproc-per-node N`` (or called directly for one process), :func:`fit`
trains the MLF spiking classifier on a streamed dataset (:mod:`snnlab.loaders`) with
``DistributedDataParallel`` and a ``DistributedSampler``: NCCL on GPUs, gloo on CPUs.

- The **global batch** is ``settings.batch_size``; each of the ``world`` processes takes
  ``batch_size / world`` of it, and DDP averages their gradients, so a step follows the mean loss
  of the global batch. BatchNorm statistics are per process on the CPU (PyTorch's SyncBatchNorm
  needs GPUs) and synchronised on CUDA.
- Only rank 0 writes the checkpoint (atomically, after every epoch) and shows a progress bar.
  A checkpoint holds no per-process state (the weights, AdamW's state, the schedule position and
  the epoch; the data order is the seeded sampler's), so a run written with one world size resumes
  with another.
- bf16 autocast on GPUs that support it; gradient clipping when ``clip`` is set.
- PGD adversarial training (``settings.adversarial='pgd'``, the baseline of :mod:`snnlab.train`): each
  process attacks its own share of the batch with torchattacks' PGD before the step.

No home-made process pool or parameter averaging: the process group, DDP and the sampler are
``torch.distributed``'s.
"""
from __future__ import annotations

import itertools
import os
from dataclasses import asdict, dataclass

import torch
import torch.distributed as dist
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from .checkpoints import load_checkpoint, load_state, save_checkpoint
from .classifier import ClassifierConfig, SpikingResNet
from .devices import resolve_device
from .loaders import make_loader
from .train import _optimizer


@dataclass
class Process:
    rank: int  # this process, 0 .. world - 1
    world: int  # number of processes
    device: torch.device


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

    ``settings``: a :class:`snnlab.train.ClassifierTraining` (epochs, global batch size, lr, weight decay,
    seed). ``max_epochs`` stops early (the schedule still spans ``settings.epochs``: for interrupting and
    resuming). Returns ``(model, losses)``: the classifier in eval mode and the global batch's mean loss at
    every step this call ran.
    """
    proc = setup(device)
    if settings.adversarial not in (None, "pgd") or settings.noise_sigma:
        raise ValueError(f"the streamed path trains plainly or with PGD (adversarial='pgd'), got "
                         f"adversarial={settings.adversarial!r}, noise_sigma={settings.noise_sigma}")
    if settings.batch_size % proc.world:
        raise ValueError(f"the global batch of {settings.batch_size} does not split over {proc.world} processes; "
                         f"choose a multiple of {proc.world}")
    torch.manual_seed(settings.seed)  # the same initial weights in every process
    model = SpikingResNet(config).to(proc.device)
    steps = len(dataset) // settings.batch_size  # per epoch, the same for every world size
    if steps < 1:
        raise ValueError(f"{len(dataset)} images do not fill one batch of {settings.batch_size}")
    optimizer, scheduler = _optimizer(model, settings, steps)  # AdamW, cosine over every step, as snnlab.train
    start = 0
    if checkpoint and os.path.exists(checkpoint):
        state = load_checkpoint(checkpoint, "classifier")
        load_state(model, state["state_dict"], checkpoint)
        if "optimizer" in state:
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
        start = state.get("epoch", state.get("epochs", 0))
    net = model
    if proc.world > 1:
        if proc.device.type == "cuda":
            net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
        net = DistributedDataParallel(net, device_ids=[proc.device.index] if proc.device.type == "cuda" else None)
    loader = make_loader(dataset, settings.batch_size // proc.world, seed=settings.seed, workers=workers,
                         rank=proc.rank, world=proc.world)
    autocast = bf16 and proc.device.type == "cuda" and torch.cuda.is_bf16_supported()
    attack = None
    if settings.adversarial == "pgd":  # Madry et al., as snnlab.train: each process attacks its own part of the batch
        import torchattacks

        attack = torchattacks.PGD(model, eps=settings.eps, alpha=2.5 * settings.eps / settings.pgd_steps,
                                  steps=settings.pgd_steps, random_start=True)
    last = settings.epochs if max_epochs is None else min(settings.epochs, start + max_epochs)
    bar = tqdm(range(start, last), desc=f"train classifier ({proc.world} process{'es' if proc.world > 1 else ''})",
               disable=not progress or proc.rank != 0, initial=start, total=settings.epochs)
    losses = []
    for epoch in bar:
        net.train()
        loader.sampler.set_epoch(epoch)
        for x, y in itertools.islice(loader, steps):
            x, y = x.to(proc.device, non_blocking=True), y.to(proc.device, non_blocking=True)
            if attack is not None:
                x = attack(x, y)  # on the local model, in eval mode, in fp32; no gradient crosses processes
                net.train()
            with torch.autocast(proc.device.type, dtype=torch.bfloat16, enabled=autocast):
                loss = F.cross_entropy(net(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # DDP averages the gradients over the processes here
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            scheduler.step()
            mean = loss.detach().float()
            if proc.world > 1:
                dist.all_reduce(mean)
                mean /= proc.world
            losses.append(mean.item())
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
        if checkpoint and proc.rank == 0:
            save_checkpoint(checkpoint, {"kind": "classifier", "config": asdict(config), "state_dict": model.state_dict(),
                                         "epoch": epoch + 1, "epochs": settings.epochs,
                                         "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                                         "training": asdict(settings), "world_size": proc.world})
        if proc.world > 1:
            dist.barrier()  # nobody reads a checkpoint rank 0 is still writing
    return model.eval(), losses



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
