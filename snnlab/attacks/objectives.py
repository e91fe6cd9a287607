"""Per-image attack losses: what a white-box attacker maximises.

All losses are per image, ``(N, classes) logits, (N,) labels -> (N,)``, and
larger means closer to the attacker's goal.

- ``ce``: cross-entropy of the true class (Madry et al. 2018).
- ``dlr``: difference of logits ratio (Croce & Hein, ICML 2020), scale
  invariant, ``-(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3 + 1e-12)`` with
  ``z_pi`` the logits sorted in decreasing order.
- ``dlr-targeted``: ``-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2 + 1e-12)``
  towards a target class t (APGD-T).

The joint defence adds a detector objective: the L-infinity score
``||x - P(x)||_inf`` has a gradient on one pixel only, so the attacks use a
smooth stand-in (:func:`smooth_score`): a hinge summed over pixels, which is
0 exactly when every pixel's change is under the aim, or a soft maximum.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

LOSSES = ("ce", "dlr", "dlr-targeted")


def dlr_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Croce & Hein's DLR loss per image. ``(N, classes), (N,) -> (N,)``; needs >= 3 classes."""
    ordered = logits.sort(1, descending=True).values  # (N, classes)
    true = logits.gather(1, labels[:, None])[:, 0]  # (N,)
    top_is_true = (ordered[:, 0] == true).to(logits.dtype)
    best_other = ordered[:, 0] * (1 - top_is_true) + ordered[:, 1] * top_is_true
    return -(true - best_other) / (ordered[:, 0] - ordered[:, 2] + 1e-12)


def targeted_dlr_loss(logits: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Targeted DLR per image towards ``targets``. ``(N, classes), (N,), (N,) -> (N,)``; needs >= 4 classes."""
    ordered = logits.sort(1, descending=True).values
    true = logits.gather(1, labels[:, None])[:, 0]
    target = logits.gather(1, targets[:, None])[:, 0]
    return -(true - target) / (ordered[:, 0] - (ordered[:, 2] + ordered[:, 3]) / 2 + 1e-12)


def classification_loss(name: str, logits: torch.Tensor, labels: torch.Tensor,
                        targets: torch.Tensor | None = None) -> torch.Tensor:
    """The per-image loss ``name`` (one of ``LOSSES``). ``(N, classes), (N,) -> (N,)``."""
    if name == "ce":
        return F.cross_entropy(logits, labels, reduction="none")
    if name == "dlr":
        return dlr_loss(logits, labels)
    if name == "dlr-targeted":
        if targets is None:
            raise ValueError("the 'dlr-targeted' loss needs target classes")
        return targeted_dlr_loss(logits, labels, targets)
    raise ValueError(f"unknown loss {name!r}; choose one of: {', '.join(LOSSES)}")


def smooth_score(images: torch.Tensor, purified: torch.Tensor, aim: float, kind: str = "hinge",
                 temperature: float = 0.01) -> torch.Tensor:
    """A differentiable stand-in for ``||x - P(x)||_inf - aim``, per image. ``(N, C, H, W) x2 -> (N,)``.

    ``hinge``: ``sum_pixels relu(|x - P(x)| - aim)``, zero exactly when the true score is at most ``aim``
    and with a gradient on every pixel above it. ``softmax``: ``temperature * logsumexp(|x - P(x)| /
    temperature) - aim``, an upper bound on the max that tends to it as the temperature falls.
    """
    diff = (images - purified).abs().flatten(1)  # (N, C*H*W)
    if kind == "hinge":
        return F.relu(diff - aim).sum(1)
    if kind == "softmax":
        return temperature * torch.logsumexp(diff / temperature, 1) - aim
    raise ValueError(f"unknown smooth score {kind!r}; choose 'hinge' or 'softmax'")
