"""The one training loop every model of snnlab goes through (nanoGPT's pattern: one loop, read top to
bottom; what varies is fed into it).

Each checkpoint also keeps the training seconds so far (``seconds``, summed over resumes; ``untimed_epochs``
counts the epochs whose time is not in ``seconds``: trained before this was kept, or, once, timed across a
pause before the clock left pauses out), so a run's manifest can give
its real training time however many sessions it spanned. The time is a :class:`snnlab.runs.Stopwatch`'s: a
run paused (``kill -STOP``/``-CONT``, Ctrl-Z) does not count the pause.

A training is a model, its settings (epochs, lr, optimizer, schedule: :func:`optimizer_for`) and a
:class:`Loop`: which batches an epoch sees and the loss of one batch. :func:`fit` does the rest, the same
for every model: resume from the checkpoint if there is one, put the model in training mode, step
(zero_grad, backward, optional gradient clipping, optimizer, schedule), show a progress bar, and save the
checkpoint atomically after every epoch. On one process or many: given a
:class:`snnlab.training.distributed.Process`, the loss is averaged over the processes for the record, only
rank 0 writes the checkpoint, and every process waits for it (the gradients are averaged by DDP, which
the loss's network is wrapped in).

An in-memory run checkpoints its data-order generator and torch's random state with the weights, so a
resumed run continues exactly as an uninterrupted one; a streamed run draws from generators seeded by
seed and epoch, which need no state. Written here because no library we use has a resumable epoch loop
with this checkpoint format (PyTorch Lightning would be one more dependency and another format).
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

import torch
from torch import distributed as dist
from tqdm.auto import tqdm

from .._version import __version__
from ..runs.checkpoints import load_checkpoint, load_state, save_checkpoint
from ..runs.stopwatch import Stopwatch


def optimizer_for(model, settings, steps_per_epoch: int):
    """The optimizer and the per-step schedule ``settings`` names: AdamW (default), Adam or SGD with momentum;
    cosine annealing to 0 over the run (default), x 0.1 every ``step_epochs`` epochs, or none (``"constant"``:
    the scheduler is None)."""
    name, schedule = getattr(settings, "optimizer", "adamw"), getattr(settings, "schedule", "cosine")
    if name == "adamw":
        optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    elif name == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    elif name == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum,
                                    weight_decay=settings.weight_decay)
    else:
        raise ValueError(f"unknown optimizer {name!r}; choose 'adamw', 'adam' or 'sgd'")
    if schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, settings.epochs * steps_per_epoch)
    elif schedule == "step":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, settings.step_epochs * steps_per_epoch, 0.1)
    elif schedule == "constant":
        scheduler = None
    else:
        raise ValueError(f"unknown schedule {schedule!r}; choose 'cosine', 'step' or 'constant'")
    return optimizer, scheduler


@dataclass
class Loop:
    """What varies between trainings."""
    kind: str  # the checkpoint's kind: "classifier", "purifier", "purifier-masking", ...
    batches: Callable[[int], Iterable]  # epoch -> that epoch's batches, on the model's device
    loss: Callable[[Any, int], torch.Tensor]  # (batch, epoch) -> the scalar to minimise
    steps_per_epoch: int  # for the schedule
    label: str = ""  # after "train KIND" in the progress bar
    postfix: Callable[[float, int], dict] = lambda loss, epoch: {"loss": f"{loss:.4f}"}  # the bar's fields
    extra: dict = field(default_factory=dict)  # saved in every checkpoint beside the weights


def resume(checkpoint, kind, model, optimizer, scheduler, generator=None, progress=True) -> tuple:
    """Load a partial run from ``checkpoint`` if there is one. Returns ``(first epoch to run, training seconds
    so far, epochs trained before the time was kept)``; a finished, stripped checkpoint returns its last epoch:
    nothing is left to run."""
    if not checkpoint or not os.path.exists(checkpoint):
        return 0, 0.0, 0
    state = load_checkpoint(checkpoint, kind)
    load_state(model, state["state_dict"], checkpoint)
    done = state.get("epoch", state.get("epochs", 0))
    timed = state.get("seconds", 0.0), state.get("untimed_epochs", 0 if "seconds" in state else done)
    if "optimizer" not in state:  # a finished, stripped checkpoint: nothing to resume
        return (state.get("epochs", done), *timed)
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    if generator is not None and "generator" in state:
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
    if progress:
        tqdm.write(f"resuming {kind} from {checkpoint} at epoch {state['epoch']}")
    return (state["epoch"], *timed)


def save(checkpoint, kind, model, optimizer, scheduler, generator, epoch, settings, extra=None) -> None:
    """The checkpoint after ``epoch`` epochs: weights, optimizer, schedule, random state, settings."""
    if not checkpoint:
        return
    save_checkpoint(checkpoint, {
        "kind": kind,
        "config": asdict(model.config),
        "state_dict": model.state_dict(),
        "epoch": epoch,
        "epochs": settings.epochs,
        "optimizer": optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        **({} if generator is None else {"generator": generator.get_state(), "torch_rng": torch.get_rng_state()}),
        "training": {k: v for k, v in asdict(settings).items() if k != "loss"},
        "snnlab_version": __version__,
        **(extra or {}),
    })


def fit(model, settings, loop: Loop, *, generator: torch.Generator | None = None, checkpoint: str | None = None,
        progress: bool = True, clip: float | None = None, process=None, max_epochs: int | None = None) -> list:
    """Train ``model`` for ``settings.epochs`` (or ``max_epochs`` more, the schedule still spanning all of them)
    with ``loop``; returns the loss of every step this call ran (averaged over the processes)."""
    optimizer, scheduler = optimizer_for(model, settings, loop.steps_per_epoch)
    rank, world = (0, 1) if process is None else (process.rank, process.world)
    start, seconds, untimed = resume(checkpoint, loop.kind, model, optimizer, scheduler, generator,
                                     progress and rank == 0)
    last = settings.epochs if max_epochs is None else min(settings.epochs, start + max_epochs)
    bar = tqdm(range(start, last), desc=f"train {loop.kind}{loop.label}", disable=not progress or rank != 0,
               initial=start, total=settings.epochs)
    extra = dict(loop.extra, **({} if process is None else {"world_size": world}))
    losses = []
    with Stopwatch() as clock:  # wall time, a pause (SIGSTOP, Ctrl-Z) left out
        for epoch in bar:
            model.train()
            for batch in loop.batches(epoch):
                value = loop.loss(batch, epoch)
                optimizer.zero_grad(set_to_none=True)
                value.backward()  # under DDP the gradients are averaged over the processes here
                if clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                mean = value.detach().float()
                if world > 1:
                    dist.all_reduce(mean)
                    mean /= world
                losses.append(mean.item())
            bar.set_postfix(loop.postfix(losses[-1], epoch))
            if rank == 0:  # the training time so far travels with the weights, across resumes
                timed = {"seconds": round(seconds + clock.elapsed(), 1), "untimed_epochs": untimed}
                save(checkpoint, loop.kind, model, optimizer, scheduler, generator, epoch + 1, settings,
                     dict(extra, **timed))
            if world > 1:
                dist.barrier()  # nobody reads a checkpoint rank 0 is still writing
    return losses
