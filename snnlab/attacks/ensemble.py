"""An attack ensemble with a per-image worst case (AutoAttack's and RobustBench's convention).

An image counts as robust only if **every** attack in the ensemble failed on
it. The minimum of per-attack rows is an upper bound on that figure, not the
figure: two attacks that each leave 50% may share none of their survivors.

The ensemble runs its attacks in cascade: each attack runs only on the images
still robust for its goal ('misclassify': still classified correctly;
'evade': still correct *or* flagged, on a joint defence). It records per
image the worst adversarial example found (wrong and unflagged, else wrong,
else the last tried), and per attack how many images it ran on and how many
it broke that none before it had. With ``cascade=False`` every attack runs on
every image, which also gives each attack's own figure and how many images it
alone broke.

Presets (``PRESETS``), built for a classifier or a joint defence:

- ``light`` (report and lessons): APGD-CE through the model's surrogate and
  through a narrow one (arctan, width 0.5); on a defence also orthogonal PGD
  with both. 25 steps.
- ``full`` (benchmarks): APGD-CE, APGD-DLR and APGD-T (9 target classes, as
  AutoAttack); APGD-CE through every
  surrogate family (rectangular 0.25/0.5/2, triangular 0.5/1, sigmoid 0.5/1,
  exponential 0.25/0.5/1, arctan 0.25/0.5/1, straight-through, rate,
  HART-style, ASSG-style); on a defence also BPDA, the detector penalty (two
  surrogates), orthogonal PGD over seven surrogates, selective PGD over three,
  and the query-based Square attack (a check for gradient masking). 100 steps.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from ..data.datasets import check_images
from ..devices import follow
from .adaptive import AdaptivePGD
from .apgd import APGD
from .core import frozen, is_defense, judge
from .orthogonal import OrthogonalPGD
from .threat_models import AttackSpec, run_attack

GOALS = ("misclassify", "evade")


@dataclass
class Member:
    """One attack of an ensemble.

    label: what the rows call it. make: ``(target, eps, seed) -> attack``, an attack with the
    torchattacks call shape. goal: 'misclassify' or 'evade' (wrong and unflagged; defence only).
    defense_only: skip it when the target is a bare classifier.
    """

    label: str
    make: Callable
    goal: str = "misclassify"
    defense_only: bool = False
    steps: int = 0  # iterations (queries for Square), for the rows


def _apgd(label, steps, surrogate=None, **options):
    return Member(f"{label} [{surrogate or 'model'}]",
                  lambda target, eps, seed: APGD(target, eps=eps, steps=steps, surrogate=surrogate, seed=seed,
                                                 **options), steps=steps)


def _orthogonal(steps, surrogate=None, selective=False):
    name = "selective-pgd" if selective else "orthogonal-pgd"
    return Member(f"{name} [{surrogate or 'model'}]",
                  lambda target, eps, seed: OrthogonalPGD(target, eps=eps, steps=steps, surrogate=surrogate,
                                                          selective=selective, seed=seed),
                  goal="evade", defense_only=True, steps=steps)


# The narrow surrogate of the light preset: arctan at width 0.5 was the strongest single surrogate against
# the defence in benchmarks/surrogate_sweep.py (APGD-CE-25, eps 0.1, first 100 test digits).
NARROW = "atan-0.5"


def light(steps: int = 25) -> list:
    """The light preset: four attacks, ``steps`` steps each (under 3 minutes for the report on 2 cores)."""
    return [_apgd("apgd-ce", steps), _apgd("apgd-ce", steps, NARROW), _orthogonal(steps, NARROW), _orthogonal(steps)]


FULL_SURROGATES = ("rect-0.25", "rect-0.5", "rect-2", "tri-0.5", "tri-1", "sig-0.5", "sig-1", "exp-0.25", "exp-0.5",
                   "exp-1", "atan-0.25", "atan-0.5", "atan-1", "ste", "rate", "hart", "assg")


def full(steps: int = 100, square_queries: int = 1000) -> list:
    """The full preset: every loss, every surrogate family, BPDA, penalty, orthogonal, selective, Square."""
    members = [_apgd("apgd-ce", steps), _apgd("apgd-dlr", steps, loss="dlr"),
               _apgd("apgd-t", steps, loss="dlr-targeted", targets=9)]
    members += [_apgd("apgd-ce", steps, s) for s in FULL_SURROGATES]
    members += [
        Member("bpda-pgd [identity purifier, smooth gate]",
               lambda t, eps, seed: AdaptivePGD(t, eps=eps, steps=steps, purifier="identity", gate="smooth",
                                                seed=seed), defense_only=True, steps=steps),
        Member("apgd-ce-penalty [model]",
               lambda t, eps, seed: APGD(t, eps=eps, steps=steps, detector_penalty=10.0, seed=seed),
               goal="evade", defense_only=True, steps=steps),
        Member("apgd-ce-penalty [rect-0.5]",
               lambda t, eps, seed: APGD(t, eps=eps, steps=steps, detector_penalty=10.0, surrogate="rect-0.5",
                                         seed=seed), goal="evade", defense_only=True, steps=steps),
    ]
    members += [_orthogonal(steps, s) for s in (None, "rect-0.5", "rect-0.25", "atan-0.5", "exp-0.25", "sig-1", "rate")]
    members += [_orthogonal(steps, s, selective=True) for s in (None, "rect-0.5", "atan-0.5")]
    members.append(Member(f"square [{square_queries} queries]",
                          lambda t, eps, seed: lambda x, y: run_attack(AttackSpec("square", eps, square_queries),
                                                                       t, x, y, seed=seed),
                          steps=square_queries))
    return members


PRESETS = {"light": light, "full": full}


def preset(name: str) -> list:
    """The members of a named preset ('light' or 'full')."""
    try:
        return PRESETS[name]()
    except KeyError:
        raise ValueError(f"unknown ensemble preset {name!r}; choose one of: {', '.join(PRESETS)}") from None


def _rank(correct: torch.Tensor, cof: torch.Tensor | None) -> torch.Tensor:
    """Per image: 0 correct, 1 wrong (and, on a defence, flagged), 2 wrong and unflagged."""
    return (~correct).long() + ((~cof).long() if cof is not None else 0)


@dataclass
class EnsembleResult:
    """What an ensemble run found, per image and in total.

    correct: bool (N,), classified correctly under every attack (the worst case).
    correct_or_flagged: bool (N,), correct or flagged under every attack (None for a bare classifier).
    adversarial: (N, C, H, W), per image the worst example found.
    flagged: bool (N,), whether the detector flagged that example (None for a bare classifier).
    parts: one dict per attack, in order: label, goal, ran_on, broke (images it newly misclassified),
        broke_cof (newly wrong and unflagged), seconds; with ``cascade=False`` also accuracy and
        correct_or_flagged of that attack alone, unique (images no other attack misclassified) and,
        on a defence, unique_cof (images no other attack got wrong and unflagged).
    """

    eps: float
    preset: str
    correct: torch.Tensor
    correct_or_flagged: torch.Tensor | None
    adversarial: torch.Tensor
    flagged: torch.Tensor | None
    parts: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def accuracy(self) -> float:
        """Per-image worst-case accuracy."""
        return self.correct.float().mean().item()

    @property
    def robust_or_flagged(self) -> float | None:
        """Per-image worst-case share correct or flagged (None for a bare classifier)."""
        return None if self.correct_or_flagged is None else self.correct_or_flagged.float().mean().item()

    def absorb(self, other: "EnsembleResult", index: torch.Tensor) -> int:
        """Fold in ``other``, a run on the images ``index`` of this one; returns how many images it newly broke.

        Per image the worst case of both: correct (and correct or flagged) only if both runs left it so,
        and the worse adversarial example kept.
        """
        before = _rank(self.correct[index], None if self.correct_or_flagged is None else self.correct_or_flagged[index])
        after = _rank(other.correct, other.correct_or_flagged)
        better = after > before
        self.adversarial[index[better]] = other.adversarial[better]
        if self.flagged is not None:
            self.flagged[index[better]] = other.flagged[better]
        changed = self.correct[index] & ~other.correct
        if self.correct_or_flagged is not None:
            changed |= self.correct_or_flagged[index] & ~other.correct_or_flagged
            self.correct_or_flagged[index] &= other.correct_or_flagged
        self.correct[index] &= other.correct
        return int(changed.sum())

    def table(self) -> str:
        """The per-attack breakdown as text."""
        width = max(len(p["label"]) for p in self.parts) if self.parts else 10
        lines = [f"{'attack':<{width}} {'goal':<11} {'ran on':>6} {'broke':>5} {'broke ok|flag':>13} {'s':>6}"]
        for p in self.parts:
            lines.append(f"{p['label']:<{width}} {p['goal']:<11} {p['ran_on']:>6} {p['broke']:>5} "
                         f"{p['broke_cof'] if p['broke_cof'] is not None else '-':>13} {p['seconds']:>6.1f}")
        total = f"worst case over {len(self.parts)} attacks ({self.preset}), eps {self.eps:g}: accuracy " \
                f"{100 * self.accuracy:.1f}%"
        if self.correct_or_flagged is not None:
            total += f", correct or flagged {100 * self.robust_or_flagged:.1f}%"
        return "\n".join(lines + [total])


class Ensemble:
    """Run a list of attacks on a classifier or a joint defence and keep the per-image worst case.

    Arguments:
        target: a classifier (images -> logits) or a JointDefense.
        eps: L-infinity radius.
        attacks: a preset name ('light', 'full') or a list of :class:`Member`.
        cascade: each attack only on the images still robust for its goal (default True).
        seed: passed to every attack. batch_size: images per attack call. progress: a tqdm bar.
        name: what the result calls the attack list (default: the preset's name, or 'custom').

    Calling it has the torchattacks shape, ``ensemble(images, labels) -> adversarial images`` (the
    worst example per image); :meth:`run` returns the :class:`EnsembleResult`, also kept as ``.result``.

    Examples::

        >>> result = Ensemble(defense, eps=0.1, attacks="light").run(images, labels)
        >>> result.accuracy, result.robust_or_flagged
        >>> print(result.table())
    """

    def __init__(self, target: nn.Module, eps: float, attacks="light", cascade: bool = True, seed: int = 0,
                 batch_size: int = 512, progress: bool = False, name: str | None = None):
        self.target, self.eps, self.cascade, self.seed = target, eps, cascade, seed
        self.batch_size, self.progress = batch_size, progress
        self.preset = name or (attacks if isinstance(attacks, str) else "custom")
        members = preset(attacks) if isinstance(attacks, str) else list(attacks)
        bad = [m.goal for m in members if m.goal not in GOALS]
        if bad:
            raise ValueError(f"unknown goal(s) {bad}; choose from {', '.join(GOALS)}")
        self.defended = is_defense(target)
        self.members = [m for m in members if self.defended or not m.defense_only]
        if not self.members:
            raise ValueError("the ensemble has no attack that applies to this target")
        self.result: EnsembleResult | None = None

    def run(self, images: torch.Tensor, labels: torch.Tensor) -> EnsembleResult:
        with frozen(self.target):  # the input's gradient alone, not the weights' (core.frozen)
            return self._run(images, labels)

    def _run(self, images: torch.Tensor, labels: torch.Tensor) -> EnsembleResult:
        check_images(images)
        if labels.shape != images.shape[:1]:
            raise ValueError(f"labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}")
        images, labels = follow(self.target, images, labels)  # on the target's device
        start = time.perf_counter()
        self.target.eval()
        verdict = judge(self.target, images, labels, self.batch_size)
        correct, cof, flags = verdict.correct, verdict.correct_or_flagged, verdict.flags  # (N,) each
        # clean images already wrong are not robust
        clean_correct, clean_cof = correct.clone(), None if cof is None else cof.clone()
        worst, worst_flags = images.clone(), flags.clone() if flags is not None else None
        rank = _rank(correct, cof)
        standalone, parts = [], []
        bar = tqdm(self.members, desc=f"ensemble eps={self.eps:g}", disable=not self.progress, leave=False)
        for member in bar:
            bar.set_postfix_str(member.label)
            still = cof if (member.goal == "evade" and cof is not None) else correct
            index = still.nonzero()[:, 0] if self.cascade else torch.arange(len(images), device=images.device)
            t0 = time.perf_counter()
            adv = images.clone()
            if len(index):
                attack = member.make(self.target, self.eps, self.seed)
                adv[index] = torch.cat([attack(images[index[i:i + self.batch_size]],
                                               labels[index[i:i + self.batch_size]])
                                        for i in range(0, len(index), self.batch_size)]).detach()
            a = judge(self.target, adv[index], labels[index], self.batch_size) if len(index) else None
            a_correct = torch.ones_like(correct)
            a_cof = torch.ones_like(correct) if cof is not None else None
            if len(index):
                a_correct[index] = a.correct
                if a_cof is not None:
                    a_cof[index] = a.correct_or_flagged
                    a_cof &= clean_cof
                a_correct &= clean_correct  # an attack cannot mend a clean mistake (AutoAttack's convention)
                new_rank = _rank(a_correct[index], None if a_cof is None else a_cof[index])
                better = new_rank > rank[index]
                worst[index[better]] = adv[index[better]]
                if worst_flags is not None:
                    worst_flags[index[better]] = a.flags[better]
                rank[index] = torch.maximum(rank[index], new_rank)
            part = dict(label=member.label, goal=member.goal, ran_on=len(index),
                        broke=int((correct & ~a_correct).sum()),
                        broke_cof=int((cof & ~a_cof).sum()) if cof is not None else None,
                        seconds=round(time.perf_counter() - t0, 2))
            if not self.cascade:
                part["accuracy"] = a_correct.float().mean().item()
                part["correct_or_flagged"] = a_cof.float().mean().item() if a_cof is not None else None
                standalone.append((a_correct, a_cof))
            correct = correct & a_correct
            if cof is not None:
                cof = cof & a_cof
            parts.append(part)
        bar.close()
        if not self.cascade:  # images only this attack misclassified (or, unique_cof, got wrong and unflagged)
            broken = ~torch.stack([c for c, _ in standalone])  # (attacks, N)
            for part, row in zip(parts, broken):
                part["unique"] = int((row & (broken.sum(0) == 1)).sum())
            if cof is not None:
                evaded = ~torch.stack([c for _, c in standalone])
                for part, row in zip(parts, evaded):
                    part["unique_cof"] = int((row & (evaded.sum(0) == 1)).sum())
        self.result = EnsembleResult(self.eps, self.preset, correct, cof, worst, worst_flags, parts,
                                     round(time.perf_counter() - start, 2))
        return self.result

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.run(images, labels).adversarial
