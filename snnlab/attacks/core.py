"""What every attack in this package shares: the target's kind, the white-box view, the best iterate, one judge.

- :func:`is_defense`, :func:`is_random`, :func:`auto_eot`: what kind of target an attack faces (a bare
  classifier or a joint defence; deterministic or random) and how many EOT samples that calls for.
- :func:`attack_view`, :class:`BPDADefense`, :class:`ClassifierView`: what a white-box attacker
  differentiates, ``images -> (logits, scores or None)``, with the real forward pass and a chosen backward.
- :class:`BestIterate`, :func:`project`, :func:`decaying_step`: the per-image best iterate judged by the
  real forward pass, the L-infinity projection, and snnlab's PGD step schedule.
- :func:`predict_batched`, :func:`defend_batched`, :func:`judge`: the real forward pass in batches, and
  its verdict per image: correct, and (on a defence) correct or flagged. Every attack, the ensemble, the
  random-defence reports and the sanity checks decide "did the attack work" through :func:`judge`.
- :func:`frozen`: the target's parameters take no gradient while it is attacked. An attack needs the
  gradient to the input alone; without this, every backward pass also computes each convolution's
  weight gradient (about a third of an APGD step on the digits defence), which no attack reads. The
  input gradient is the same either way (a test compares the adversarial images bit for bit).

The shared base of torchattacks' attacks (``torchattacks.attack.Attack``) owns the model's mode and the
call shape; these are the pieces snnlab's own attacks add on top of it. Written here, not taken from a
library: no library attacks a detector-plus-purifier defence.
"""
from __future__ import annotations

import contextlib
from typing import NamedTuple

import torch
from torch import nn

from ..models.detector import linf_score
from .surrogates import attack_surrogate
from .surrogates import surrogate as as_surrogate


@contextlib.contextmanager
def frozen(model: nn.Module | None):
    """Within the block, ``model``'s parameters take no gradient; those that did get it back afterwards.

    ``None`` passes through (a purifier trained without a classifier). Nested blocks are fine: an inner one
    finds nothing to freeze and restores nothing."""
    params = [] if model is None else [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for p in params:
            p.requires_grad_(True)


def is_defense(model) -> bool:
    """True for a joint defence (a model with a purifier and a detector), False for a bare classifier."""
    return hasattr(model, "detector") and hasattr(model, "purifier")


DEFAULT_EOT = 10  # gradient samples per step against a random defence when none is given


def is_random(model) -> bool:
    """True when ``model``'s answers may differ between calls: its purifier (or itself) is random."""
    return bool(getattr(getattr(model, "purifier", None), "random", False) or getattr(model, "random", False))


def auto_eot(model, eot: int | None) -> int:
    """``eot`` if given, else :data:`DEFAULT_EOT` for a random model and 1 for a deterministic one."""
    return eot if eot is not None else (DEFAULT_EOT if is_random(model) else 1)


class BPDADefense(nn.Module):
    """The joint defence with a chosen backward pass; forward is exactly ``JointDefense``'s logits.

    Args:
        defense: a JointDefense.
        purifier: 'surrogate' (differentiate the purifier SNN) or 'identity' (BPDA: dP/dx = I).
        gate: 'hard' (gradient only through the branch taken) or 'smooth' (BPDA sigmoid gate).
        temperature: width of the smooth gate, in score units.
        surrogate: attack-time MLF surrogate for classifier and purifier (None: the model's own).

    ``forward`` returns ``(logits, scores)``; the scores carry gradient (through
    the purifier, as chosen) so a detector-aware loss can push them down.
    """

    def __init__(self, defense, purifier: str = "surrogate", gate: str = "hard", temperature: float = 0.02,
                 surrogate=None):
        super().__init__()
        if purifier not in ("surrogate", "identity"):
            raise ValueError(f"purifier must be 'surrogate' or 'identity', got {purifier!r}")
        if gate not in ("hard", "smooth"):
            raise ValueError(f"gate must be 'hard' or 'smooth', got {gate!r}")
        self.defense, self.purifier_mode, self.gate, self.temperature = defense, purifier, gate, temperature
        self.surrogate = as_surrogate(surrogate)

    def forward(self, images: torch.Tensor):
        with attack_surrogate(self.defense, self.surrogate):
            threshold = self.defense.detector.threshold
            purified = self.defense.purifier(images)  # (N, C, H, W)
            scores = linf_score(images, purified)  # (N,), differentiable through the purifier
            if self.purifier_mode == "identity":
                purified = images + (purified - images).detach()  # forward P(x), backward identity
            hard = (scores.detach() > threshold).to(images.dtype)  # (N,)
            if self.gate == "smooth":
                soft = torch.sigmoid((scores - threshold) / self.temperature)
                gate = hard + soft - soft.detach()  # forward hard, backward smooth
            else:
                gate = hard
            gate = gate[:, None, None, None]
            chosen = gate * purified + (1 - gate) * images  # (N, C, H, W)
            return self.defense.classifier(chosen), scores


class ClassifierView(nn.Module):
    """A bare classifier seen like :class:`BPDADefense`: ``images -> (logits, None)``, chosen surrogate."""

    def __init__(self, classifier: nn.Module, surrogate=None):
        super().__init__()
        self.classifier, self.surrogate = classifier, as_surrogate(surrogate)

    def forward(self, images: torch.Tensor):
        with attack_surrogate(self.classifier, self.surrogate):
            return self.classifier(images), None


def attack_view(target: nn.Module, surrogate=None, purifier: str = "surrogate", gate: str = "hard",
                temperature: float = 0.02) -> nn.Module:
    """What a white-box attacker differentiates: ``images -> (logits, scores or None)``, real forward."""
    if is_defense(target):
        return BPDADefense(target, purifier, gate, temperature, surrogate)
    return ClassifierView(target, surrogate)


class BestIterate:
    """Per image, the best adversarial example seen so far, judged by the target's real forward pass.

    Rank: 0 correct, 1 misclassified, and with ``evade`` on a defence 2 misclassified *and*
    unflagged (what an attacker on a system that rejects flagged inputs needs). Against a random
    defence an attack may pass the rank averaged over several draws (``update(..., rank=)``), so an
    iterate that fooled one lucky draw does not displace one that fools most.
    """

    def __init__(self, images: torch.Tensor, threshold: float | None = None, evade: bool = False):
        self.best = images.clone()
        self.rank = torch.full((len(images),), -1.0, device=images.device)
        self.threshold, self.evade = threshold, evade and threshold is not None
        self.top = 2 if self.evade else 1

    def ranks(self, logits, scores, labels) -> torch.Tensor:
        wrong = logits.argmax(1) != labels
        rank = wrong.long()
        if self.evade:
            rank = rank + (wrong & (scores <= self.threshold)).long()
        return rank

    @torch.no_grad()
    def update(self, adv, logits, scores, labels, index=None, rank=None) -> None:
        """Keep each image of ``adv`` (rows ``index`` of the batch; all if None) that outranks the best.

        ``rank``: a precomputed (e.g. draw-averaged) rank per image; by default from ``logits``/``scores``."""
        index = torch.arange(len(adv), device=adv.device) if index is None else index
        if rank is None:
            rank = self.ranks(logits.detach(), None if scores is None else scores.detach(), labels)
        rank = rank.to(self.rank.dtype)
        better = rank > self.rank[index]
        self.best[index[better]] = adv.detach()[better]
        self.rank[index] = torch.maximum(self.rank[index], rank)

    def open(self) -> torch.Tensor:
        """Indices of the images not yet at the top rank (the only ones worth attacking further)."""
        return (self.rank < self.top).nonzero()[:, 0]

    def still_open(self, index: torch.Tensor) -> torch.Tensor:
        """A mask over ``index``: True where the image is not yet at the top rank.

        An image at the top rank keeps its best example for good (``update`` only replaces on a strictly
        higher rank), so an attack may stop computing it mid-run: against a deterministic target the
        others' iterates, and so the result, stay the same (``tests/test_ensemble.py`` checks), for less work.
        """
        return self.rank[index] < self.top


def project(adv: torch.Tensor, images: torch.Tensor, eps: float) -> torch.Tensor:
    """Onto the L-infinity ball of radius ``eps`` around ``images``, and into [0, 1]."""
    return (images + (adv - images).clamp(-eps, eps)).clamp(0, 1)


def decaying_step(eps: float, step: int, steps: int) -> float:
    """snnlab's PGD step: linear decay from eps/2 at step 0 to eps/100 at the last step."""
    return eps / 2 + (eps / 100 - eps / 2) * step / max(steps - 1, 1)


@torch.no_grad()
def defend_batched(defense, images: torch.Tensor, batch_size: int = 512):
    """``defense.defend`` over batches; returns (logits, flags, scores, purified) concatenated."""
    outs = [defense.defend(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
    return (torch.cat([o.logits for o in outs]), torch.cat([o.flags for o in outs]),
            torch.cat([o.scores for o in outs]), torch.cat([o.purified for o in outs]))


@torch.no_grad()
def predict_batched(model, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """``model(images)`` over batches, concatenated: (N, classes) logits."""
    return torch.cat([model(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])


class Verdict(NamedTuple):
    """The real forward pass's answer on a batch of (adversarial) images, per image."""

    correct: torch.Tensor  # (N,) bool: classified as labelled
    correct_or_flagged: torch.Tensor | None  # (N,) bool on a defence (correct, or flagged by the detector); else None
    logits: torch.Tensor  # (N, classes)
    flags: torch.Tensor | None  # (N,) bool on a defence; else None


@torch.no_grad()
def judge(target: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 512) -> Verdict:
    """One forward draw of ``target`` (a classifier or a joint defence) on ``images``, judged per image."""
    if is_defense(target):
        logits, flags, _, _ = defend_batched(target, images, batch_size)
        correct = logits.argmax(1) == labels.to(logits.device)
        return Verdict(correct, correct | flags, logits, flags)
    logits = predict_batched(target, images, batch_size)
    return Verdict(logits.argmax(1) == labels.to(logits.device), None, logits, None)
