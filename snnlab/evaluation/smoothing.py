"""Randomized smoothing (Cohen, Rosenfeld & Kolter, ICML 2019): PREDICT and CERTIFY around any classifier.

The smoothed classifier ``g(x) = argmax_c P(f(x + delta) = c)``, ``delta ~ N(0, sigma^2 I)``, is
certified robust in an L2 ball: if the top class has probability at least ``pA > 1/2``, then ``g``
is constant within radius ``R = sigma * Phi^-1(pA)``. snnlab follows the reference algorithms
(locuslab/smoothing, ``code/core.py``):

- CERTIFY: ``n0`` noisy draws choose the top class cA; ``n`` fresh draws count its votes nA;
  ``pA`` is the one-sided Clopper-Pearson lower bound at level ``alpha``
  (``scipy.stats.beta.ppf(alpha, nA, n - nA + 1)``); abstain (-1) if ``pA < 1/2``, else return
  cA and ``R``. With every vote for cA the radius is ``sigma * Phi^-1(alpha ** (1 / n))``, the
  largest ``n`` draws can certify (:func:`max_radius`).
- PREDICT: the top two counts of ``n`` draws; abstain unless a two-sided binomial test at
  p = 1/2 (``scipy.stats.binomtest``) rejects at ``alpha``.

The base classifier is any callable from images ``(N, C, H, W)`` to logits. The noisy copies
leave [0, 1], which snnlab's models refuse: smooth a classifier as
``lambda z: classifier(z.clamp(0, 1))``, a deterministic purifier as
``lambda z: classifier(purifier(z.clamp(0, 1)))``, and the consistency purifier with its
denoiser at the smoothing noise, ``lambda z: classifier(consistency.denoise(z, sigma))`` (its
``forward`` would add noise a second time).

The certificate is L2. snnlab's threat model is L-infinity: on ``d`` pixels an L-inf ball of
radius eps lies inside the L2 ball of radius ``sqrt(d) * eps`` (8 eps on 8x8 digits), so a
radius R covers the L-inf radius ``R / sqrt(d)`` and no more (:func:`linf_covered`).

Only the sampling loop is written here; the statistics are scipy's.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch
from scipy.stats import beta, binomtest, norm

from ..data.datasets import check_images
from ..pretrained import PRETRAINED_DIR, load_classifier_file
from ..runs.checkpoints import recorded, verify_recorded
from ..training.trainers import ClassifierTraining, train_classifier, train_recorded

ABSTAIN = -1


def lower_confidence_bound(successes: int, trials: int, alpha: float) -> float:
    """One-sided (1 - alpha) Clopper-Pearson lower bound on a binomial proportion."""
    if successes <= 0:
        return 0.0
    return float(beta.ppf(alpha, successes, trials - successes + 1))


def certified_radius(p_lower: float, sigma: float) -> float:
    """``sigma * Phi^-1(p_lower)``, the L2 radius a lower bound ``p_lower`` certifies; 0.0 below 1/2 (abstain)."""
    return sigma * float(norm.ppf(p_lower)) if p_lower >= 0.5 else 0.0


def max_radius(sigma: float, n: int, alpha: float) -> float:
    """The largest radius ``n`` draws can certify at level ``alpha``: every vote for one class."""
    return sigma * float(norm.ppf(alpha ** (1.0 / n)))


def linf_covered(radius: float, pixels: int) -> float:
    """The L-infinity radius an L2 certificate of ``radius`` covers on ``pixels`` inputs: ``radius / sqrt(pixels)``."""
    return radius / math.sqrt(pixels)


@dataclass
class Certificate:
    prediction: int  # the certified class, or -1 (abstain)
    radius: float  # L2 radius (0.0 when abstaining)
    p_lower: float  # the lower confidence bound on the top class's probability


class Smooth:
    """A smoothed classifier around ``base`` (images -> logits) with Gaussian noise of std ``sigma``.

    Example::

        >>> smooth = Smooth(lambda z: classifier(z.clamp(0, 1)), num_classes=10, sigma=0.5)
        >>> smooth.certify(image, n0=100, n=1000, alpha=0.001)   # image (1, C, H, W) or (C, H, W)
        Certificate(prediction=3, radius=0.82, p_lower=0.95)
    """

    def __init__(self, base, num_classes: int, sigma: float, batch_size: int = 1000, seed: int = 0):
        if sigma <= 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        self.base, self.num_classes, self.sigma, self.batch_size = base, num_classes, sigma, batch_size
        self.generator = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def counts(self, image: torch.Tensor, n: int) -> torch.Tensor:
        """Votes of the base classifier over ``n`` noisy copies of ``image``: ``(num_classes,)`` int64."""
        image = image if image.dim() == 4 else image.unsqueeze(0)
        check_images(image)
        if image.shape[0] != 1:
            raise ValueError(f"smoothing certifies one image at a time, got a batch of {image.shape[0]}")
        votes = torch.zeros(self.num_classes, dtype=torch.long)
        remaining = n
        while remaining > 0:
            size = min(self.batch_size, remaining)
            batch = image.repeat(size, 1, 1, 1)  # (size, C, H, W)
            noise = torch.randn(batch.shape, generator=self.generator).to(batch.device) * self.sigma
            predictions = self.base(batch + noise).argmax(1).cpu()  # (size,)
            votes += torch.bincount(predictions, minlength=self.num_classes)
            remaining -= size
        return votes

    def predict(self, image: torch.Tensor, n: int, alpha: float) -> int:
        """Cohen's PREDICT: the top class, or -1 when the top two are not separated at level ``alpha``."""
        votes = self.counts(image, n)
        top2 = votes.topk(2)
        count_a, count_b = int(top2.values[0]), int(top2.values[1])
        if binomtest(count_a, count_a + count_b, 0.5).pvalue > alpha:
            return ABSTAIN
        return int(top2.indices[0])

    def certify(self, image: torch.Tensor, n0: int, n: int, alpha: float) -> Certificate:
        """Cohen's CERTIFY: the class and L2 radius certified with probability at least ``1 - alpha``."""
        choice = int(self.counts(image, n0).argmax())
        votes = int(self.counts(image, n)[choice])
        p_lower = lower_confidence_bound(votes, n, alpha)
        if p_lower < 0.5:
            return Certificate(ABSTAIN, 0.0, p_lower)
        return Certificate(choice, certified_radius(p_lower, self.sigma), p_lower)


def certify_dataset(base, images: torch.Tensor, labels: torch.Tensor, sigma: float, num_classes: int = 10,
                    n0: int = 100, n: int = 1000, alpha: float = 0.001, seed: int = 0,
                    batch_size: int = 1000, progress: bool = False) -> list:
    """CERTIFY every image; one dict per image: label, prediction, radius, correct (certified and right)."""
    from tqdm.auto import tqdm

    smooth = Smooth(base, num_classes, sigma, batch_size, seed)
    rows = []
    for image, label in tqdm(list(zip(images, labels)), desc=f"certify sigma={sigma}", disable=not progress):
        cert = smooth.certify(image, n0, n, alpha)
        rows.append({"label": int(label), "prediction": cert.prediction, "radius": cert.radius,
                     "p_lower": cert.p_lower, "correct": cert.prediction == int(label)})
    return rows


def certified_accuracy(rows: list, radii) -> dict:
    """Share of images certified correct with radius at least r, for every r in ``radii``."""
    if not rows:
        raise ValueError("no certification results")
    return {float(r): sum(row["correct"] and row["radius"] >= r for row in rows) / len(rows) for r in radii}


def noise_filename(sigma: float) -> str:
    """The file of the classifier trained on Gaussian noise of std ``sigma``: ``noise-sigma0.25.pt``."""
    return f"noise-sigma{sigma:g}.pt"


def _noise_dir(dataset: str, folder: str | None) -> str:
    return os.path.join(folder or os.path.join(PRETRAINED_DIR, dataset), "smoothing")


def _noise_hint(sigma: float, folder: str | None) -> str:
    return f"train one with `snnlab train-noise {sigma:g}" + (f" --out {folder}`" if folder else "`")


def train_noise_classifier_into(sigma: float, out: str, dataset: str = "digits", seed: int = 0,
                                device: str = "auto", progress: bool = True, epochs: int | None = None,
                                command: str | None = None, extend: bool = False) -> dict:
    """Train the spiking classifier on Gaussian-noised images (std ``sigma``, clamped to [0, 1]), the base
    classifier Cohen et al. certify, into ``OUT/smoothing/noise-sigmaS.pt`` (resumable), recorded in that
    folder's manifest.json; returns the manifest. Same architecture and schedule as the shipped classifier.
    """
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    settings = ClassifierTraining(seed=seed, noise_sigma=sigma)
    if epochs is not None:
        settings.epochs = epochs
    return train_recorded(
        _noise_dir(dataset, out), noise_filename(sigma),
        {"dataset": dataset, "seed": seed, "sigma": sigma, "epochs": epochs},
        lambda path: train_classifier(dataset, settings, path, device, progress),
        command or f"snnlab train-noise {sigma:g} --seed {seed} --out {out}", extend)


def load_noise_classifier(sigma: float, dataset: str = "digits", device: str = "auto", folder: str | None = None):
    """The spiking classifier trained on Gaussian noise of std ``sigma`` (eval mode), checked against its
    manifest: from ``folder/smoothing`` (a ``snnlab train-noise`` output) or the shipped ones."""
    path = verify_recorded(_noise_dir(dataset, folder), noise_filename(sigma), _noise_hint(sigma, folder))
    return load_classifier_file(path, device)


def noise_run(sigma: float, dataset: str = "digits", folder: str | None = None) -> dict:
    """The manifest record (command, seed, training seconds) of :func:`load_noise_classifier`'s model."""
    where, name = _noise_dir(dataset, folder), noise_filename(sigma)
    verify_recorded(where, name, _noise_hint(sigma, folder))
    return recorded(where, name)["runs"][name[:-3]]
