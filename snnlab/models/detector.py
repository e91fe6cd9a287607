"""The L-infinity detector: how far the purifier had to move an image.

    s(x) = || x - P(x) ||_inf        (per image, max over C, H, W)

An image is flagged when ``s(x) > threshold``. The threshold is calibrated
on held-out clean images (the 'calibration' split) so that at most a chosen
fraction of them, the false-positive rate, lies above it.

Reference: Chen & Xu, arXiv 2404.17092 (the L-infinity criterion).
ROC and AUROC come from scikit-learn.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..devices import follow


def linf_score(images: torch.Tensor, purified: torch.Tensor) -> torch.Tensor:
    """``||images - purified||_inf`` per image: ``(N, C, H, W), (N, C, H, W) -> (N,)``."""
    return (images - purified).abs().flatten(1).amax(1)


def detection_threshold(clean_scores: torch.Tensor, fpr: float = 0.01) -> float:
    """The smallest score with at most ``fpr`` of ``clean_scores`` strictly above it.

    The ``ceil((1 - fpr) * n)``-th smallest clean score: on the calibration set
    itself the false-positive rate is then <= fpr.
    """
    if not 0.0 <= fpr < 1.0:
        raise ValueError(f"false-positive rate must be in [0, 1), got {fpr}")
    scores = torch.as_tensor(clean_scores).flatten().sort().values
    if scores.numel() == 0:
        raise ValueError("cannot calibrate a threshold on no clean scores")
    k = max(math.ceil((1.0 - fpr) * scores.numel()), 1)
    return float(scores[k - 1])


def roc(clean_scores, adversarial_scores):
    """ROC of the score as a clean (0) vs adversarial (1) test: ``(fpr, tpr, thresholds)`` numpy arrays."""
    from sklearn.metrics import roc_curve

    y, s = _labels_scores(clean_scores, adversarial_scores)
    return roc_curve(y, s)


def auroc(clean_scores, adversarial_scores) -> float:
    """Area under the ROC curve (1.0: every adversarial score above every clean score)."""
    from sklearn.metrics import roc_auc_score

    y, s = _labels_scores(clean_scores, adversarial_scores)
    return float(roc_auc_score(y, s))


def _labels_scores(clean_scores, adversarial_scores):
    clean = np.asarray(torch.as_tensor(clean_scores).detach().cpu(), dtype=np.float64).ravel()
    adv = np.asarray(torch.as_tensor(adversarial_scores).detach().cpu(), dtype=np.float64).ravel()
    if clean.size == 0 or adv.size == 0:
        raise ValueError("AUROC needs at least one clean and one adversarial score")
    return np.r_[np.zeros(clean.size), np.ones(adv.size)], np.r_[clean, adv]


class Detector:
    """L-infinity detector around a purifier.

    Attributes:
        purifier: the purifier P (an ``nn.Module``, shared with the defence).
        threshold: flag when ``score > threshold`` (float; ``inf`` until calibrated).
        fpr: the false-positive rate the threshold was calibrated for.

    Example::

        >>> detector = Detector(purifier).calibrate(calibration_images, fpr=0.01)
        >>> detector.flags(images)   # bool (N,)
    """

    def __init__(self, purifier, threshold: float = math.inf, fpr: float | None = None):
        self.purifier = purifier
        self.threshold = float(threshold)
        self.fpr = fpr

    @torch.no_grad()
    def score(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W) -> (N,)`` L-infinity distance to the purified image."""
        images = follow(self.purifier, images)  # the score on the purifier's device
        return linf_score(images, self.purifier(images))

    def flags(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W) -> bool (N,)``: True where the image looks adversarial."""
        return self.score(images) > self.threshold

    def calibrate(self, clean_images: torch.Tensor, fpr: float = 0.01) -> "Detector":
        """Set the threshold from held-out clean images at false-positive rate ``fpr``; returns self."""
        self.threshold = detection_threshold(self.score(clean_images), fpr)
        self.fpr = fpr
        return self
