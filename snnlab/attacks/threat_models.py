"""Attacks and threat models, built on torchattacks.

Every snnlab model takes images in [0, 1] shaped ``(N, C, H, W)`` and returns
logits, so torchattacks attacks them unchanged. What this module adds is the
*threat model*: which model the attacker differentiates through (or queries),
and which model is then evaluated on the adversarial images.

==============  =====================================  ==========================
threat model    attacker crafts on                     evaluated on
==============  =====================================  ==========================
undefended      the classifier                         the classifier
grey-box        the classifier (defence unknown)       the joint defence
transfer        a substitute CNN (black-box)           the joint defence
square          queries to the joint defence (black)   the joint defence
==============  =====================================  ==========================

Grey-box is the seed paper's setting. It is **not** white-box robustness:
the attacker never sees the purifier or the detector. The adaptive,
end-to-end attacks that do are in :mod:`snnlab.attacks.adaptive` and the modules beside it.

References: Goodfellow et al. 2015 (FGSM); Madry et al. 2018 (PGD);
Carlini & Wagner 2017 (CW); Andriushchenko et al. 2020 (Square);
Croce & Hein 2020 (AutoAttack); Kim, "Torchattacks", arXiv 2010.01950.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torchattacks
from torch import nn

from ..data.datasets import check_images, dataset_info
from .core import frozen
from .surrogates import SurrogateModel

# L-infinity radii per dataset (pixels in [0, 1]). Digits are 17-level 8x8
# images, so perceptible radii are large; the natural-image grids follow the
# usual 2/255 .. 16/255 of the CIFAR literature.
EPS_GRIDS = {
    "digits": (0.05, 0.1, 0.2, 0.3),
    "mnist": (0.1, 0.2, 0.3),
    "fashion-mnist": (0.05, 0.1, 0.2),
    "cifar10": (2 / 255, 4 / 255, 8 / 255, 16 / 255),
    "cifar100": (2 / 255, 4 / 255, 8 / 255, 16 / 255),
    "svhn": (2 / 255, 4 / 255, 8 / 255, 16 / 255),
    "tiny-imagenet": (2 / 255, 4 / 255, 8 / 255),
}

ATTACKS = ("fgsm", "pgd", "cw", "square", "autoattack", "apgd")


@dataclass(frozen=True)
class ThreatModel:
    """What the attacker knows, and what kind of threat model a results table calls that."""

    knows: str
    kind: str  # "white-box", "grey-box" or "black-box"


# The one table of threat-model names: `snnlab evaluate --threat-models`, the "threat_model" of every
# results row, and (by kind) the capstone's claims all use these.
THREAT_MODELS = {
    "undefended": ThreatModel("the bare classifier, attacked and scored with no defence in front", "white-box"),
    "grey-box": ThreatModel("the classifier, not the purifier or the detector; the defence is scored", "grey-box"),
    "transfer": ThreatModel("neither model: PGD on a substitute CNN trained on the same data", "black-box"),
    "square": ThreatModel("the defence's output scores only (Square: queries, no gradients)", "black-box"),
    "adaptive": ThreatModel("everything: adaptive attacks through the whole defence", "white-box"),
    "ensemble": ThreatModel("everything: the per-image worst case over an attack ensemble", "white-box"),
}


def eps_grid(dataset: str) -> tuple:
    """The L-infinity epsilons snnlab evaluates on ``dataset``."""
    dataset_info(dataset)  # ValueError for an unknown name
    return EPS_GRIDS[dataset]


@dataclass
class AttackSpec:
    """One attack configuration: what the JSON rows record about it."""

    name: str  # 'fgsm', 'pgd', 'cw', 'square', 'autoattack' or 'apgd'
    eps: float | None  # L-infinity radius (None for CW, an L2 attack)
    steps: int = 1  # iterations (queries for Square)
    restarts: int = 1  # random restarts
    surrogate: str | None = None  # attack-time MLF surrogate (snnlab.attacks.surrogates); None: the model's own

    def build(self, model: nn.Module, seed: int = 0, n_classes: int = 10):
        """The torchattacks attack on ``model`` (through ``surrogate``'s backward when one is set)."""
        name, eps, steps = self.name, self.eps, self.steps
        if self.surrogate is not None:
            model = SurrogateModel(model, self.surrogate)
        if name == "fgsm":
            return torchattacks.FGSM(model, eps=eps)
        if name == "pgd":
            attack = torchattacks.PGD(model, eps=eps, alpha=2.5 * eps / steps, steps=steps, random_start=True)
            return attack if self.restarts == 1 else _Restarts(attack, self.restarts)
        if name == "cw":
            return torchattacks.CW(model, c=1.0, kappa=0.0, steps=steps, lr=0.01)
        if name == "square":
            return torchattacks.Square(model, norm="Linf", eps=eps, n_queries=steps, n_restarts=self.restarts,
                                       seed=seed, verbose=False)
        if name == "apgd":  # AutoAttack's first part alone: PGD with an adaptive step size, cross-entropy loss
            return torchattacks.APGD(model, norm="Linf", eps=eps, steps=steps, n_restarts=self.restarts, loss="ce",
                                     seed=seed)
        if name == "autoattack":
            # torchattacks' AutoAttack runs APGD-CE, APGD-T, FAB-T and Square (5000 queries) but leaves the
            # gradient attacks at 10 iterations; the reference evaluation (Croce & Hein) uses 100. Raise them
            # to ``steps`` (MultiAttack keeps its parts in ``.attacks``).
            attack = torchattacks.AutoAttack(model, norm="Linf", eps=eps, version="standard", n_classes=n_classes,
                                             seed=seed)
            for part in attack._autoattack.attacks:
                if not isinstance(part, torchattacks.Square):
                    part.steps = steps
            return attack
        raise ValueError(f"unknown attack {name!r}; choose one of: {', '.join(ATTACKS)}")


class _Restarts:
    """Run a random-start attack ``restarts`` times and keep, per image, a run that fools the model."""

    def __init__(self, attack, restarts: int):
        self.attack, self.restarts = attack, restarts

    def __call__(self, images, labels):
        best = self.attack(images, labels)
        for _ in range(self.restarts - 1):
            with torch.no_grad():
                still_correct = self.attack.get_logits(best).argmax(1) == labels.to(best.device)
            if not still_correct.any():
                break
            trial = self.attack(images, labels)
            best = torch.where(still_correct[:, None, None, None], trial, best)
        return best


def default_steps(attack: str) -> int:
    """Iterations snnlab uses unless told otherwise: PGD 20, CW 100, Square 1000 queries, APGD and AutoAttack 100."""
    return {"fgsm": 1, "pgd": 20, "cw": 100, "square": 1000, "autoattack": 100, "apgd": 100}.get(attack, 1)


def run_attack(spec: AttackSpec, model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
               seed: int = 0, batch_size: int = 512) -> torch.Tensor:
    """Adversarial images crafted against ``model`` with ``spec``, batch by batch, seeded.

    Returns a tensor like ``images``; the perturbation stays within ``eps`` in
    L-infinity for the L-infinity attacks (torchattacks clips to the ball and to [0, 1]).
    """
    check_images(images)
    if labels.shape != images.shape[:1]:
        raise ValueError(f"labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}")
    torch.manual_seed(seed)
    n_classes = int(labels.max().item()) + 1
    attack = spec.build(model, seed=seed, n_classes=max(n_classes, 10))
    with frozen(model):  # the input's gradient alone, not the weights' (core.frozen)
        chunks = [attack(images[i:i + batch_size], labels[i:i + batch_size])
                  for i in range(0, len(images), batch_size)]
    return torch.cat(chunks).detach()


class SubstituteCNN(nn.Module):
    """A small non-spiking CNN: the black-box attacker's own model for transfer attacks.

    It is trained on the same training split but shares no weights or
    architecture with the spiking classifier. ``(N, C, H, W) -> (N, classes)``.
    """

    def __init__(self, in_channels: int = 1, classes: int = 10, width: int = 32):
        super().__init__()
        self.config = SubstituteConfig(in_channels, classes, width)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(2 * width, classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images, self.config.in_channels)
        return self.head(self.features(images).flatten(1))


@dataclass
class SubstituteConfig:
    in_channels: int = 1  # C
    classes: int = 10  # logits
    width: int = 32  # channels of the first conv
