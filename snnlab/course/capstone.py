"""The capstone grader: "break or defend", checked by re-measuring every claim.

A submission is one Python file that defines

    build_defense() -> nn.Module
        images (N, 1, 8, 8) in [0, 1] -> logits (N, 10), deterministic. A model with
        ``.classifier``, ``.purifier`` and ``.detector`` (a :class:`snnlab.models.defense.JointDefense`,
        perhaps with another threshold or purifier) is graded as a defence, so its
        "correct or flagged" figures count too.
    CLAIMS = [{"threat_model": "white-box", "eps": 0.1, "accuracy": 0.15}, ...]
        its results table: one row per (threat model, eps), fractions in [0, 1]; a defence may add
        "correct_or_flagged". Threat models: "white-box" (the attacker knows everything), "grey-box"
        (PGD crafted on the classifier alone), "transfer" (PGD crafted on snnlab's substitute CNN).

The grader loads the submission, re-measures each row on the first ``limit`` digits test images
and checks that the submission

1. builds and answers: finite logits of shape (N, 10), the same twice;
2. names a threat model and a radius on every row of its table;
3. has at least one white-box row;
4. claims no more than the grader measures: white-box rows against the per-image worst case of
   snnlab's full attack ensemble (:mod:`snnlab.attacks.ensemble`; the light one only for a quick
   first look, as it is far kinder), grey-box and transfer rows against PGD-20. A claim may exceed
   the measurement by sampling noise only: 1.96 standard errors of the measured share plus one
   image (``margin``);
5. passes the sanity checks (:mod:`snnlab.attacks.sanity`) at its first white-box radius.

    snnlab capstone my_submission.py                     # grade it (minutes on 2 cores)
    snnlab capstone my_submission.py --ensemble light    # a quick first look: kinder, never final

The grading rules are written by hand: they are snnlab's course policy, not a library's.
"""
from __future__ import annotations

import importlib.util
import math
import os
from dataclasses import dataclass, field

import torch
from torch import nn

from ..attacks import AttackSpec, run_attack
from ..attacks.core import judge
from ..attacks.ensemble import Ensemble, full, light
from ..attacks.sanity import sanity_checks
from ..attacks.threat_models import THREAT_MODELS
from ..data.datasets import load_dataset
from ..devices import follow
from ..pretrained import load_pretrained

# A claim names the threat model it holds under, and the grader measures it as that entry of the one
# table of threat models (``snnlab.attacks.THREAT_MODELS``): white-box as the attack ensemble's worst case.
MEASURED_AS = {"white-box": "ensemble", "grey-box": "grey-box", "transfer": "transfer"}
assert set(MEASURED_AS.values()) <= set(THREAT_MODELS)
CLAIMED_THREAT_MODELS = tuple(MEASURED_AS)  # the threat models a claim may name


class SubmissionError(ValueError):
    """The submission cannot be graded (missing or malformed); the message says what to fix."""


@dataclass
class Criterion:
    name: str
    passed: bool
    detail: str


@dataclass
class Grade:
    criteria: list = field(default_factory=list)
    rows: list = field(default_factory=list)  # claimed vs measured, one dict per claim

    @property
    def passed(self) -> bool:
        return bool(self.criteria) and all(c.passed for c in self.criteria)

    def report(self) -> str:
        lines = ["claims, re-measured:"]
        for r in self.rows:
            measured = "-" if r["measured"] is None else f"{r['measured']:.1%}"
            lines.append(f"  {r['threat_model']:>9} eps {r['eps']:<5g} {r['metric']:<18} claimed {r['claimed']:.1%}"
                         f"  measured {measured} ({r['attack']})  {'ok' if r['holds'] else 'OVERCLAIM'}")
        lines.append("criteria:")
        lines += [f"  {'PASS' if c.passed else 'FAIL'}  {c.name}: {c.detail}" for c in self.criteria]
        lines.append(f"{sum(c.passed for c in self.criteria)} of {len(self.criteria)} criteria passed: "
                     f"{'PASSED' if self.passed else 'NOT PASSED'}")
        return "\n".join(lines)


def margin(measured: float, n: int) -> float:
    """How far a claim may exceed a measured share on ``n`` images: 1.96 standard errors plus one image."""
    return 1.96 * math.sqrt(max(measured * (1 - measured), 0.0) / n) + 1 / n


def load_submission(path: str):
    """``(model, claims)`` from a submission file; :class:`SubmissionError` naming what is missing."""
    if not os.path.isfile(path):
        raise SubmissionError(f"no submission file at {path!r}; write a .py file with build_defense() and CLAIMS")
    spec = importlib.util.spec_from_file_location("capstone_submission", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # noqa: BLE001 - any error in student code becomes one clear line
        raise SubmissionError(f"{path} fails to import: {type(error).__name__}: {error}") from error
    for name in ("build_defense", "CLAIMS"):
        if not hasattr(module, name):
            raise SubmissionError(f"{path} defines no {name}; a submission needs build_defense() and CLAIMS "
                                  f"(see snnlab.course.capstone)")
    try:
        model = module.build_defense()
    except Exception as error:  # noqa: BLE001 - any error in student code becomes one clear line
        raise SubmissionError(f"build_defense() in {path} raised {type(error).__name__}: {error}") from error
    if not isinstance(model, nn.Module):
        raise SubmissionError(f"build_defense() returned {type(model).__name__}, expected a torch nn.Module")
    claims = list(module.CLAIMS)
    return model.eval(), claims


def _row_problems(claim) -> list:
    if not isinstance(claim, dict):
        return [f"a row is {type(claim).__name__}, not a dict"]
    problems = []
    if claim.get("threat_model") not in CLAIMED_THREAT_MODELS:
        problems.append(f"threat model {claim.get('threat_model')!r} is not one of {', '.join(CLAIMED_THREAT_MODELS)}")
    eps = claim.get("eps")
    if not isinstance(eps, (int, float)) or not 0 < eps <= 0.5:
        problems.append(f"eps {eps!r} is not a radius in (0, 0.5]")
    for key in ("accuracy", "correct_or_flagged"):
        value = claim.get(key)
        if (key == "accuracy" or value is not None) and (not isinstance(value, (int, float)) or not 0 <= value <= 1):
            problems.append(f"{key} {value!r} is not a fraction in [0, 1]")
    return problems


def _answers(model, images) -> Criterion:
    try:
        with torch.no_grad():
            first, second = model(images[:16]), model(images[:16])
    except Exception as error:  # noqa: BLE001
        return Criterion("builds and answers", False, f"the model raised {type(error).__name__}: {error}")
    n = len(images[:16])
    if not torch.is_tensor(first) or first.shape != (n, 10):
        return Criterion("builds and answers", False,
                         f"expected logits of shape ({n}, 10) for {n} images, got {getattr(first, 'shape', first)}")
    if not torch.isfinite(first).all():
        return Criterion("builds and answers", False, "the logits contain NaN or infinity")
    if not torch.equal(first, second):
        return Criterion("builds and answers", False, "two calls on the same images differ: the grader attacks "
                         "deterministic models only (a random defence needs EOT, lesson 6)")
    return Criterion("builds and answers", True, "finite logits of shape (N, 10), the same on every call")


def _measure(model, claim, images, labels, ensemble, steps, seed, cache):
    """``(accuracy, correct_or_flagged or None, attack name)`` for one row, cached per (threat model, eps)."""
    key = (claim["threat_model"], float(claim["eps"]))
    if key in cache:
        return cache[key]
    eps = key[1]
    if key[0] == "white-box":
        attacks = light(steps) if ensemble == "light" else full(steps)
        result = Ensemble(model, eps, attacks, seed=seed, name=ensemble).run(images, labels)
        cache[key] = (result.accuracy, result.robust_or_flagged, f"{ensemble} ensemble, {steps} steps")
        return cache[key]
    if key[0] == "grey-box":
        source, name = getattr(model, "classifier", model), "PGD-20 on the classifier"
    else:
        source, name = load_pretrained("digits", with_substitute=True)[1], "PGD-20 on the substitute CNN"
    adv = run_attack(AttackSpec("pgd", eps, 20), source, images, labels, seed=seed)
    correct, cof = judge(model, adv, labels)[:2]
    cache[key] = (correct.float().mean().item(), None if cof is None else cof.float().mean().item(), name)
    return cache[key]


def grade(model: nn.Module, claims, limit: int = 100, ensemble: str = "full", steps: int = 100,
          sanity_steps: int = 20, seed: int = 0) -> Grade:
    """Re-measure every claim of ``model``'s table on the first ``limit`` digits test images; a :class:`Grade`."""
    if ensemble not in ("light", "full"):
        raise ValueError(f"unknown ensemble {ensemble!r}; choose light or full")

    images, labels = follow(model, *load_dataset("digits", "test", limit=limit))  # on the model's device
    n = len(labels)
    grade = Grade()
    grade.criteria.append(_answers(model, images))
    if not grade.criteria[0].passed:
        return grade
    problems = [f"row {i + 1}: {p}" for i, claim in enumerate(claims) for p in _row_problems(claim)]
    grade.criteria.append(Criterion("every row names a threat model and a radius", bool(claims) and not problems,
                                    "; ".join(problems) if problems else (f"{len(claims)} rows" if claims
                                                                          else "CLAIMS is empty")))
    white = [c for c in claims if isinstance(c, dict) and c.get("threat_model") == "white-box"
             and not _row_problems(c)]
    grade.criteria.append(Criterion("at least one white-box row", bool(white),
                                    f"{len(white)} white-box rows" if white else
                                    "add a row with threat_model 'white-box': grey-box alone is not robustness"))
    cache = {}
    for claim in claims:
        if _row_problems(claim):
            continue
        accuracy, cof, attack = _measure(model, claim, images, labels, ensemble, steps, seed, cache)
        for metric, measured in (("accuracy", accuracy), ("correct_or_flagged", cof)):
            claimed = claim.get(metric)
            if claimed is None:
                continue
            holds = measured is not None and claimed <= measured + margin(measured, n)
            grade.rows.append({"threat_model": claim["threat_model"], "eps": float(claim["eps"]), "metric": metric,
                               "claimed": float(claimed), "measured": measured, "attack": attack, "holds": holds})
    over = [r for r in grade.rows if not r["holds"]]
    grade.criteria.append(Criterion(
        "no claim above the grader's measurement", bool(grade.rows) and not over,
        (f"{len(over)} overclaim(s), e.g. {over[0]['threat_model']} eps {over[0]['eps']:g} {over[0]['metric']}: "
         f"claimed {over[0]['claimed']:.1%}, measured " +
         ("nothing (a bare classifier has no flags)" if over[0]['measured'] is None else f"{over[0]['measured']:.1%}"))
        if over else f"{len(grade.rows)} figures hold on {n} images (margin: 1.96 standard errors + 1 image)"))
    if white:
        checks = sanity_checks(model, images, labels, eps=float(white[0]["eps"]), steps=sanity_steps, seed=seed)
        failed = [c for c in checks if not c.passed]
        grade.criteria.append(Criterion(
            f"sanity checks at eps {float(white[0]['eps']):g}", not failed,
            "; ".join(f"{c.name} ({c.detail})" for c in failed) if failed else f"all {len(checks)} pass"))
    return grade
