"""The adversarially trained classifier, the baseline the seed paper's efficiency argument is against:
PGD adversarial training (Madry et al., ICLR 2018) of the same MLF spiking ResNet, trained in memory into
``OUT/adversarial/pgdK-epsE.pt`` and recorded in that folder's manifest (resumable, tied to its settings).
Load it with :func:`snnlab.pretrained.load_adversarial_classifier`."""
from __future__ import annotations

import os

from .trainers import ClassifierTraining, train_classifier, train_recorded


def adversarial_filename(eps: float, steps: int = 10) -> str:
    """The file of the classifier trained on PGD-``steps`` examples at radius ``eps``: ``pgd10-eps0.1.pt``."""
    return f"pgd{steps}-eps{eps:g}.pt"


def train_adversarial_into(eps: float, out: str, dataset: str = "digits", seed: int = 0, steps: int = 10,
                           device: str = "auto", progress: bool = True, epochs: int | None = None,
                           command: str | None = None, extend: bool = False) -> dict:
    """PGD adversarial training at L-inf radius ``eps`` with ``steps`` steps (step size 2.5 eps / steps, random
    start; torchattacks' PGD) of the dataset's classifier, with its schedule, into ``OUT/adversarial``;
    returns that folder's manifest."""
    if not 0 < eps <= 1:
        raise ValueError(f"eps must lie in (0, 1] (pixels are in [0, 1]), got {eps}")
    if steps < 1:
        raise ValueError(f"PGD needs at least 1 step, got {steps}")
    settings = ClassifierTraining(seed=seed, adversarial="pgd", eps=eps, pgd_steps=steps)
    if epochs is not None:
        settings.epochs = epochs
    return train_recorded(
        os.path.join(out, "adversarial"), adversarial_filename(eps, steps),
        {"dataset": dataset, "seed": seed, "eps": eps, "steps": steps, "epochs": epochs},
        lambda path: train_classifier(dataset, settings, path, device, progress),
        command or f"snnlab train-adversarial {eps:g} --steps {steps} --seed {seed} --out {out}", extend)
