"""Detector evasion as the field does it: orthogonal and selective PGD.

Bryniarski, Hingun, Pachuca, Wang & Carlini, "Evading Adversarial Example
Detection Defenses with Orthogonal Projected Gradient Descent", ICLR 2022.

The attacker on a detect-and-reject defence has two constraints: the
classifier must be wrong, and the detector must stay quiet. Adding the two
losses with a weight (the penalty attack, ``AdaptivePGD(detector_aware=True)``)
lets one gradient drown the other. Orthogonal PGD alternates instead, per
image and per step:

- classifier still right: step on the classification loss (CE, ascending),
  with its component along the detector loss's gradient removed, so the step
  does not raise the detector score to first order;
- fooled but flagged: step down the detector loss, with its component along
  the classification gradient removed, so the image stays misclassified;
- fooled and unflagged: the goal is met; keep stepping on the detector loss
  to gain margin (zero once every pixel is under the aim).

The selective variant steps on whichever constraint is violated, without the
projection. Here the classification loss is the classifier's on the raw image
(an unflagged input reaches the classifier unchanged), and the detector loss
is a smooth stand-in for ``||x - P(x)||_inf`` (:func:`smooth_score`): the
max-norm's own gradient touches one pixel only.

Written by hand: no attack library has detector-aware attacks.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..data.datasets import check_images
from ..devices import follow
from ..models.detector import linf_score
from .core import BestIterate, decaying_step, frozen, is_defense, is_random, project
from .objectives import smooth_score
from .surrogates import attack_surrogate
from .surrogates import surrogate as as_surrogate


def remove_component(g: torch.Tensor, along: torch.Tensor) -> torch.Tensor:
    """``g`` minus its projection on ``along``, per image. ``(N, ...) x2 -> (N, ...)``."""
    gf, af = g.flatten(1), along.flatten(1)
    coef = (gf * af).sum(1) / (af * af).sum(1).clamp_min(1e-20)  # (N,)
    return (gf - coef[:, None] * af).view_as(g)


@dataclass
class OrthogonalPGD:
    """Orthogonal (or selective) PGD against the joint defence: misclassified *and* unflagged.

    Distance Measure: Linf.

    Arguments:
        defense: a JointDefense.
        eps: radius (default 0.1). steps: iterations (default 100). restarts: random restarts (default 1).
        selective: step on the violated constraint's loss without projection (default False: orthogonal).
        score: smooth detector stand-in, 'hinge' (default) or 'softmax'.
        margin: aim this far under the threshold (default 0.01).
        surrogate: attack-time MLF surrogate for classifier and purifier (None: the model's own).
        seed: random start seed.
        drop_broken: against a deterministic defence, stop computing an image once it is wrong and
            unflagged: the same result for less work (default True; a random defence always keeps all).

    The step decays linearly from eps/2 to eps/100 (as :class:`AdaptivePGD`). Per image the best
    iterate is kept: wrong and unflagged, else wrong, judged by the real defence.

    Shape: images ``(N, C, H, W)`` in [0, 1], labels ``(N,)`` -> adversarial images like ``images``.

    Examples::

        >>> adv = OrthogonalPGD(defense, eps=0.1, steps=100)(images, labels)
    """

    defense: nn.Module
    eps: float = 0.1
    steps: int = 100
    restarts: int = 1
    selective: bool = False
    score: str = "hinge"
    margin: float = 0.01
    surrogate: object = None
    seed: int = 0
    drop_broken: bool = True

    def __post_init__(self):
        if not is_defense(self.defense):
            raise ValueError("OrthogonalPGD attacks a joint defence (a model with a purifier and a detector)")
        if self.score not in ("hinge", "softmax"):
            raise ValueError(f"score must be 'hinge' or 'softmax', got {self.score!r}")
        self.surrogate = as_surrogate(self.surrogate)
        self.drop_broken = self.drop_broken and not is_random(self.defense)

    def _gradients(self, adv, labels):
        """Classification and detector gradients, and the real defence's logits, scores and raw correctness."""
        threshold = self.defense.detector.threshold
        with torch.enable_grad(), attack_surrogate(self.defense, self.surrogate):  # also under torch.no_grad()
            adv = adv.detach().requires_grad_(True)
            logits = self.defense.classifier(adv)  # (n, classes): what an unflagged input gets
            purified = self.defense.purifier(adv)  # (n, C, H, W)
            g_class = torch.autograd.grad(F.cross_entropy(logits, labels, reduction="sum"), adv)[0]
            detector_loss = smooth_score(adv, purified, threshold - self.margin, self.score)  # (n,)
            g_detect = torch.autograd.grad(detector_loss.sum(), adv)[0]
        with torch.no_grad():
            scores = linf_score(adv, purified)  # (n,) the real score
            flagged = scores > threshold
            judged = logits.detach().clone()
            if flagged.any():  # a flagged input reaches the classifier purified
                judged[flagged] = self.defense.classifier(purified[flagged])
        correct = logits.argmax(1) == labels
        return g_class, g_detect, judged, scores, correct, flagged

    def _direction(self, g_class, g_detect, correct):
        if self.selective:
            on_class, on_detect = g_class, -g_detect
        else:
            on_class, on_detect = remove_component(g_class, g_detect), -remove_component(g_detect, g_class)
        use_class = correct[:, None, None, None]
        return torch.where(use_class, on_class, on_detect)

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        with frozen(self.defense):  # the input's gradient alone, not the weights' (core.frozen)
            return self._attack(images, labels)

    def _attack(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        check_images(images)
        images, labels = follow(self.defense, images, labels)
        self.defense.eval()
        generator = torch.Generator().manual_seed(self.seed)  # on the CPU: the same draws on every device
        best = BestIterate(images, self.defense.detector.threshold, evade=True)
        for _ in range(self.restarts):
            index = best.open()
            if len(index) == 0:
                break
            x, y = images[index], labels[index]
            adv = project(x + self.eps * (torch.rand(x.shape, generator=generator).to(x.device) * 2 - 1),
                          x, self.eps)
            for step in range(self.steps + 1):
                g_class, g_detect, judged, scores, correct, flagged = self._gradients(adv, y)
                best.update(adv, judged, scores, y, index)
                if step == self.steps:
                    break
                if self.drop_broken:  # BestIterate.still_open
                    keep = best.still_open(index)
                    if not keep.any():
                        break
                    if not keep.all():
                        index, x, y, adv = index[keep], x[keep], y[keep], adv[keep]
                        g_class, g_detect, correct = g_class[keep], g_detect[keep], correct[keep]
                direction = self._direction(g_class, g_detect, correct)
                adv = project(adv + decaying_step(self.eps, step, self.steps) * direction.sign(), x, self.eps)
        return best.best.detach()
