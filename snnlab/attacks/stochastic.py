"""Attacking and reporting random defences: EOT, evaluation draws, and the fixed-randomness test.

A purifier that draws noise or a random grouping at every call (``snnlab.purifiers``: consistency,
masking) answers differently each time. Much of the robustness such defences appear to have is
that randomness (Gao et al., NeurIPS 2022; Liu et al., arXiv 2404.14309), so snnlab evaluates
them the way those papers ask:

- **EOT**: each attack step averages the gradient over ``eot`` random draws (APGD's and
  AdaptivePGD's ``eot``, 10 by default against a random defence); APGD also ranks its iterates by
  the share of those draws they fool. :func:`eot_sweep` raises EOT and steps and shows where the
  figure stops falling. (The ensemble and ``snnlab evaluate`` judge each attack on one draw; for a
  random defence use :func:`worst_case` and :func:`draws`, as benchmarks/purifier_comparison.py does.)
- **Evaluation draws**: the adversarial images are judged over ``k`` fresh draws of the defence;
  :func:`draws` reports the mean, the spread (standard deviation), the worst draw, and the share
  of images right in *every* draw (the per-image worst case over draws).
- **Fixed randomness**: fix the purifier's randomness (``noise_seed``), attack the now
  deterministic defence with plain gradients, then judge the examples with the same fixed draw and
  with fresh draws (:func:`fixed_randomness`).

Deterministic defences pass through unchanged (every draw is the same). Written by hand: no
library reports random defences this way.
"""
from __future__ import annotations

import contextlib
import statistics

import torch
from torch import nn

from .apgd import APGD
from .core import DEFAULT_EOT, is_defense, is_random, judge  # noqa: F401 (is_random is part of this module's API)


def purifier_of(target: nn.Module):
    """The purifier inside ``target`` (a joint defence or a purify-then-classify pipeline), or None."""
    return getattr(target, "purifier", None)


@contextlib.contextmanager
def fixed_noise(target: nn.Module, seed: int):
    """Within the block, ``target``'s purifier draws the same randomness at every call.

    The draw is fixed per call, not per image: an image sees the same noise only in calls on the same
    batch (judging runs in batches of 512, so keep attacked batches at most that size)."""
    purifier = purifier_of(target)
    if purifier is None or not hasattr(purifier, "noise_seed"):
        yield target
        return
    before = purifier.noise_seed
    purifier.noise_seed = seed
    try:
        yield target
    finally:
        purifier.noise_seed = before


def _runs(target, images, labels, k: int, seed: int) -> list:
    """:func:`judge` on ``k`` draws seeded with ``seed`` (one draw for a deterministic target); the caller's
    random state is left as it was."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    k = k if is_random(target) else 1
    with torch.random.fork_rng():  # the CPU's and the GPUs' random states come back afterwards
        torch.manual_seed(seed)
        return [judge(target, images, labels)[:2] for _ in range(k)]  # (correct, correct-or-flagged) per draw


def draws(target: nn.Module, images: torch.Tensor, labels: torch.Tensor, k: int = 5, seed: int = 0) -> dict:
    """Judge ``images`` over ``k`` fresh draws of ``target``; fractions in [0, 1].

    Returns ``accuracy`` and (for a defence) ``correct_or_flagged``, each a dict with ``mean``,
    ``std``, ``worst`` (the lowest draw), ``every_draw`` (share right in all draws) and ``draws``.
    """
    runs = _runs(target, images, labels, k, seed)
    out = {}
    for name, index in (("accuracy", 0), ("correct_or_flagged", 1)):
        if runs[0][index] is None:
            continue
        per_draw = [r[index].float().mean().item() for r in runs]
        every = torch.stack([r[index] for r in runs]).all(0).float().mean().item()
        out[name] = {"mean": statistics.fmean(per_draw), "std": statistics.pstdev(per_draw),
                     "worst": min(per_draw), "every_draw": every, "draws": per_draw}
    return out


def eot_attack(target: nn.Module, eps: float, steps: int = 100, eot: int = DEFAULT_EOT, seed: int = 0,
               **options) -> APGD:
    """APGD-CE through the whole ``target`` with ``eot`` gradient samples per step (1 if deterministic)."""
    return APGD(target, eps=eps, steps=steps, eot=eot if is_random(target) else 1, seed=seed, **options)


def eot_sweep(target: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float,
              eots=(1, 5, 10, 20), steps=(20, 100), k: int = 5, seed: int = 0) -> list:
    """Accuracy (mean over ``k`` draws) against APGD-CE for every (EOT, steps) pair: one dict per pair."""
    rows = []
    for n_steps in steps:
        for eot in eots:
            torch.manual_seed(seed)
            adv = APGD(target, eps=eps, steps=n_steps, eot=eot, seed=seed)(images, labels)
            rows.append({"eot": eot, "steps": n_steps, "eps": eps, **draws(target, adv, labels, k, seed + 1)})
    return rows


def fixed_randomness(target: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float,
                     steps: int = 100, noise_seed: int = 0, k: int = 5, seed: int = 0) -> dict:
    """Fix the purifier's randomness, attack with plain gradients, judge with that draw and with fresh ones."""
    with fixed_noise(target, noise_seed):
        adv = APGD(target, eps=eps, steps=steps, seed=seed)(images, labels)
        same = draws(target, adv, labels, 1, seed)
    return {"eps": eps, "steps": steps, "same_draw": same, "fresh_draws": draws(target, adv, labels, k, seed + 1)}


def per_image_rates(target: nn.Module, images: torch.Tensor, labels: torch.Tensor, k: int = 5,
                    seed: int = 0) -> torch.Tensor:
    """Per image, the share of ``k`` draws in which ``target`` is right: ``(N,)`` in [0, 1]."""
    return torch.stack([correct for correct, _ in _runs(target, images, labels, k, seed)]).float().mean(0)


def worst_case(target: nn.Module, candidates: dict, labels: torch.Tensor, k: int = 5, seed: int = 0) -> dict:
    """The per-image worst case over attacks against a random defence, chosen and reported on separate draws.

    ``candidates``: attack name -> adversarial images ``(N, C, H, W)``, each from an attack run on every
    image. Per image, the example with the lowest share of correct answers over ``k`` draws (seed
    ``seed``) is chosen; the chosen examples are then judged on ``k`` fresh draws (:func:`draws`, seed
    ``seed + 1``), so the choice cannot profit from the noise it is reported on. For a deterministic
    defence this is the usual per-image worst case. Returns :func:`draws`'s report plus ``chosen``
    (how many images each attack supplied) and ``adversarial``.
    """
    names = list(candidates)
    rates = torch.stack([per_image_rates(target, candidates[n], labels, k, seed) for n in names])  # (A, N)
    pick = rates.argmin(0)  # (N,), the first attack on ties
    stacked = torch.stack([candidates[n] for n in names])  # (A, N, C, H, W)
    pick = pick.to(stacked.device)
    chosen = stacked[pick, torch.arange(len(labels), device=stacked.device)]
    report = draws(target, chosen, labels, k, seed + 1)
    report["chosen"] = {n: int((pick == i).sum()) for i, n in enumerate(names)}
    report["adversarial"] = chosen
    return report
