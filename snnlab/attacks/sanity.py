"""Sanity checks of an evaluation (Carlini et al. 2019, "On Evaluating Adversarial Robustness").

If any of these fails, the robustness figure is not to be trusted: the
attack is broken or the gradients are masked, whatever the defence does.

1. iterative at least as strong as single-step: white-box PGD accuracy <= FGSM's;
2. more steps never help the defence: PGD with 2x the steps <= PGD;
3. restarts never help the defence: PGD with 2 restarts <= with 1;
4. accuracy reaches 0 at a large radius (``large_eps``; <= ``zero_tolerance``);
5. white-box at least as strong as grey-box (crafted on the classifier, defence only)
   and as transfer (crafted on a substitute, when one is given);
6. uniform noise of the same radius is far weaker: it removes at most half of
   the accuracy the attack removes.

"PGD" here is snnlab's APGD-CE through the whole target (``snnlab.attacks.apgd``);
"accuracy" is the target's real decision (for a joint defence: after the
detector and, if flagged, the purifier). :func:`sanity_checks` measures,
:func:`decide` decides from the measured figures, so a log can be re-decided.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .apgd import APGD
from .core import is_defense, judge
from .threat_models import AttackSpec, run_attack


@dataclass
class Check:
    name: str  # what must hold
    passed: bool
    detail: str  # the figures it was judged on


@torch.no_grad()
def _accuracy(target, images, labels) -> float:
    return judge(target, images, labels).correct.float().mean().item()


def measure(target: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float = 0.1,
            large_eps: float = 0.5, steps: int = 20, substitute: nn.Module | None = None, seed: int = 0) -> dict:
    """The accuracies the checks compare (fractions in [0, 1]), by name."""
    def pgd(radius=eps, n=steps, restarts=1):
        return _accuracy(target, APGD(target, eps=radius, steps=n, restarts=restarts, seed=seed)(images, labels),
                         labels)

    generator = torch.Generator().manual_seed(seed)
    noise = (torch.rand(images.shape, generator=generator).to(images.device) * 2 - 1) * eps
    figures = {
        "clean": _accuracy(target, images, labels),
        "fgsm": _accuracy(target, run_attack(AttackSpec("fgsm", eps), target, images, labels, seed=seed), labels),
        "pgd": pgd(),
        "pgd_more_steps": pgd(n=2 * steps),
        "pgd_restarts": pgd(restarts=2),
        "pgd_large_eps": pgd(radius=large_eps),
        "noise": _accuracy(target, (images + noise).clamp(0, 1), labels),
    }
    if is_defense(target):
        figures["grey_box"] = _accuracy(
            target, run_attack(AttackSpec("pgd", eps, steps), target.classifier, images, labels, seed=seed), labels)
    if substitute is not None:
        figures["transfer"] = _accuracy(
            target, run_attack(AttackSpec("pgd", eps, steps), substitute, images, labels, seed=seed), labels)
    return figures


def decide(figures: dict, zero_tolerance: float = 0.05) -> list:
    """The checks, decided from :func:`measure`'s figures."""
    f = figures
    checks = [
        Check("iterative at least as strong as single-step", f["pgd"] <= f["fgsm"],
              f"PGD {f['pgd']:.3f} <= FGSM {f['fgsm']:.3f}"),
        Check("more steps never help the defence", f["pgd_more_steps"] <= f["pgd"],
              f"2x steps {f['pgd_more_steps']:.3f} <= {f['pgd']:.3f}"),
        Check("restarts never help the defence", f["pgd_restarts"] <= f["pgd"],
              f"2 restarts {f['pgd_restarts']:.3f} <= 1 restart {f['pgd']:.3f}"),
        Check("accuracy reaches 0 at a large radius", f["pgd_large_eps"] <= zero_tolerance,
              f"large-eps PGD {f['pgd_large_eps']:.3f} <= {zero_tolerance}"),
        Check("uniform noise far weaker than the attack", f["clean"] - f["noise"] <= 0.5 * (f["clean"] - f["pgd"]),
              f"noise removes {f['clean'] - f['noise']:.3f} <= half of the attack's {f['clean'] - f['pgd']:.3f}"),
    ]
    for other in ("grey_box", "transfer"):
        if other in f:
            checks.append(Check(f"white-box at least as strong as {other.replace('_', '-')}", f["pgd"] <= f[other],
                                f"white-box {f['pgd']:.3f} <= {other.replace('_', '-')} {f[other]:.3f}"))
    return checks


def sanity_checks(target: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float = 0.1,
                  large_eps: float = 0.5, steps: int = 20, substitute: nn.Module | None = None,
                  seed: int = 0) -> list:
    """Measure and judge every check on ``target`` (a classifier or a JointDefense); a list of :class:`Check`.

    Example::

        >>> for check in sanity_checks(defense, images[:48], labels[:48], eps=0.1):
        ...     print("ok " if check.passed else "FAIL", check.name, "-", check.detail)
    """
    target.eval()
    return decide(measure(target, images, labels, eps, large_eps, steps, substitute, seed))
