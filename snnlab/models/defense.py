"""The joint detect-purify-classify defence.

    s(x) = ||x - P(x)||_inf
    f_def(x) = f(P(x))   if s(x) > threshold   (flagged: classify the purified image)
             = f(x)      otherwise             (clean-looking: classify it unchanged)

Passing unflagged inputs through untouched is what keeps clean accuracy.

Reference: Chen & Xu, arXiv 2404.17092.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..data.datasets import check_images
from ..devices import follow
from .detector import Detector, linf_score


@dataclass
class DefenseOutput:
    logits: torch.Tensor  # (N, classes)
    flags: torch.Tensor  # bool (N,): the detector fired and the classifier saw P(x)
    scores: torch.Tensor  # (N,): s(x)
    purified: torch.Tensor  # (N, C, H, W): P(x)


class JointDefense(nn.Module):
    """Detector + purifier + classifier as one model: images ``(N, C, H, W)`` in [0, 1] -> logits.

    Because it is an ``nn.Module`` from images to logits, any attack library
    can attack it whole (gradients flow through the purifier's and the
    classifier's surrogate gradients; the switch itself is a hard choice).
    After each call, ``last_flags`` holds which inputs were flagged.

    Args:
        classifier: images -> logits.
        purifier: images -> purified images.
        detector: a :class:`~snnlab.models.detector.Detector` (its ``.purifier`` should be ``purifier``);
            a float is taken as the threshold.

    Example::

        >>> defense = JointDefense(classifier, purifier, Detector(purifier, threshold=0.2))
        >>> out = defense.defend(images)   # logits, flags, scores, purified
    """

    def __init__(self, classifier: nn.Module, purifier: nn.Module, detector: Detector | float):
        super().__init__()
        self.classifier = classifier
        self.purifier = purifier
        self.detector = detector if isinstance(detector, Detector) else Detector(purifier, float(detector))
        self.last_flags: torch.Tensor | None = None

    @property
    def threshold(self) -> float:
        return self.detector.threshold

    def defend(self, images: torch.Tensor) -> DefenseOutput:
        """Run the joint defence and return logits, flags, scores and purified images."""
        check_images(images, name="images")
        images = follow(self, images)  # outputs on the models' device
        purified = self.purifier(images)  # (N, C, H, W)
        scores = linf_score(images, purified).detach()  # (N,)
        flags = scores > self.detector.threshold  # (N,) bool
        chosen = torch.where(flags[:, None, None, None], purified, images)  # (N, C, H, W)
        self.last_flags = flags
        return DefenseOutput(self.classifier(chosen), flags, scores, purified)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.defend(images).logits
