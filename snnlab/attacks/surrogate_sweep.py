"""The surrogate sweep: how much the choice of attack-time gradient moves a robustness figure.

APGD-CE through each surrogate of :mod:`snnlab.attacks.surrogates` in turn (every shape at every
width, then the straight-through, rate, HART-style and ASSG-style gradients), each attack alone: the
experiment behind lesson 6's "the gradient is a choice" and ``benchmarks/surrogate_sweep.py``.
"""
from __future__ import annotations

import torch
from torch import nn

from .apgd import APGD
from .core import judge
from .surrogates import SHORT

# The sweep behind lesson 6's "the gradient is a choice" (benchmarks/surrogate_sweep.py).
SWEEP_SHAPES = tuple(SHORT.values())
SWEEP_WIDTHS = (0.25, 0.5, 1.0, 2.0, 4.0)
SWEEP_OTHERS = ("ste", "rate", "hart", "assg")


def sweep_names() -> list:
    """Every surrogate the sweep tries: each shape at each width, then the others."""
    return [f"{shape}-{width:g}" for shape in SWEEP_SHAPES for width in SWEEP_WIDTHS] + list(SWEEP_OTHERS)


def surrogate_sweep(target: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float = 0.1,
                    names=None, steps: int = 25, seed: int = 0) -> dict:
    """APGD-CE through each surrogate on ``target``: ``{name: {"accuracy", "correct_or_flagged"}}``.

    ``target`` is a classifier or a joint defence (then "correct_or_flagged" is filled; else None).
    Each attack alone, not a worst case: the point is how much the choice of gradient moves the figure.
    """
    results = {}
    for name in names or sweep_names():
        adv = APGD(target, eps=eps, steps=steps, surrogate=name, seed=seed)(images, labels)
        verdict = judge(target, adv, labels)
        cof = None if verdict.correct_or_flagged is None else verdict.correct_or_flagged.float().mean().item()
        results[name] = {"accuracy": verdict.correct.float().mean().item(), "correct_or_flagged": cof}
    return results
