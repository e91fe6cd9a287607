"""Evaluation: the metrics table, as rows a program reads (JSON) and a table a human reads.

Each row is one (threat model, attack, epsilon) on the test split::

    {"dataset": "digits", "threat_model": "grey-box", "attack": "pgd", "eps": 0.1,
     "steps": 20, "restarts": 1, "n": 360, "evaluated_on": "defense",
     "accuracy": 0.97, "flagged": 0.99, "correct_or_flagged": 1.0, "auroc": 0.999}

- accuracy: top-1 accuracy of the evaluated model on the adversarial images;
- flagged: share of them the detector flagged (defence rows only);
- correct_or_flagged: share either classified correctly or flagged, the
  figure that matters when a flag can trigger a fallback (reject, ask a human);
- auroc: the detector's AUROC, clean test images vs these adversarial images.

The "ensemble" rows are the per-image worst case over an attack ensemble
(:mod:`snnlab.attacks.ensemble`): an image counts as correct (or correct or
flagged) only if it stayed so under every attack. They carry ``"parts"``,
one entry per attack: how many images it ran on and how many it broke.

The "clean" rows give clean accuracy of the classifier and of the defence, and
the defence's false-positive rate (flagged share of clean test images).
"""
from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from ..attacks import THREAT_MODELS, AdaptivePGD, AttackSpec, default_steps, eps_grid, run_attack
from ..attacks.core import defend_batched, predict_batched  # noqa: F401 (part of this module's API: lessons 4, 6)
from ..attacks.ensemble import PRESETS, Ensemble
from ..data.datasets import load_dataset
from ..devices import follow
from ..models.detector import auroc
from ..runs.folders import Progress, hold


@dataclass
class Evaluation:
    rows: list  # the metrics rows (dicts), in the order computed
    clean_scores: torch.Tensor  # (N,) detector scores on clean test images
    adversarial_scores: dict = field(default_factory=dict)  # (threat_model, attack, eps) -> (N,) scores
    examples: dict = field(default_factory=dict)  # (threat_model, attack, eps) -> adversarial images (N, C, H, W)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return (logits.argmax(1) == labels).float().mean().item()


def _row(dataset, threat_model, spec, n, evaluated_on, acc, flagged=None, correct_or_flagged=None, au=None):
    return {
        "dataset": dataset, "threat_model": threat_model, "attack": spec.name if spec else "none",
        "eps": spec.eps if spec else 0.0, "steps": spec.steps if spec else 0,
        "restarts": spec.restarts if spec else 0, "n": n, "evaluated_on": evaluated_on,
        "accuracy": acc, "flagged": flagged, "correct_or_flagged": correct_or_flagged, "auroc": au,
    }


def defense_row(defense, dataset, threat_model, spec, adv, labels, clean_scores, ev: Evaluation | None = None):
    """Run the defence on ``adv`` and return its metrics row (and keep its scores in ``ev``)."""
    logits, flags, scores, _ = defend_batched(defense, adv)
    correct = logits.argmax(1) == labels
    if ev is not None:
        ev.adversarial_scores[(threat_model, spec.name, spec.eps)] = scores
        ev.examples[(threat_model, spec.name, spec.eps)] = adv
    return _row(dataset, threat_model, spec, len(labels), "defense", correct.float().mean().item(),
                flags.float().mean().item(), (correct | flags).float().mean().item(),
                auroc(clean_scores, scores))


# Adaptive white-box variants (threat model "adaptive"): attack name -> AdaptivePGD options.
ADAPTIVE = {
    "pgd-end-to-end": dict(),
    "pgd-bpda": dict(purifier="identity", gate="smooth"),
    "pgd-detector-aware": dict(detector_aware=True),
}
# Also accepted under "adaptive", not run by default: torchattacks' APGD-CE and AutoAttack (standard version,
# gradient steps raised to ``adaptive_steps``; slow) on the whole defence, the field's reference points.
REFERENCE = ("apgd", "autoattack")


def evaluate(defense, dataset: str = "digits", attacks=("fgsm", "pgd"), eps=None,
             threat_models=("undefended", "grey-box", "transfer"), substitute=None,
             square_eps=None, square_queries: int = 1000, adaptive=tuple(ADAPTIVE),
             adaptive_steps: int = 100, adaptive_restarts: int = 1, ensemble: str = "light",
             limit: int | None = None, seed: int = 0, progress: bool = True, data=None) -> Evaluation:
    """Evaluate ``defense`` (a JointDefense) on the test split under the chosen threat models.

    Args:
        attacks: gradient attacks for the undefended / grey-box / transfer threat models.
        eps: L-infinity radii (default: the dataset's grid, :func:`snnlab.attacks.eps_grid`).
        threat_models: any of 'undefended', 'grey-box', 'transfer', 'square', 'adaptive', 'ensemble'.
        substitute: the transfer attacker's model (needed for 'transfer').
        square_eps: radii for the query-based Square attack on the whole defence (default: all of ``eps``).
        adaptive: which adaptive white-box attacks to run (names in ``ADAPTIVE``, or 'apgd', 'autoattack').
        adaptive_steps / adaptive_restarts: their PGD steps and random restarts (AutoAttack: its APGD-CE,
            APGD-T and FAB-T iterations, one restart; its Square part keeps 5000 queries).
        ensemble: the attack-ensemble preset for the 'ensemble' threat model ('light' or 'full'); it gives
            the per-image worst case for the undefended classifier and for the defence, at every eps.
        limit: evaluate on the first ``limit`` test images only.
        data: ``(images, labels)`` to use instead of the test split.
    """
    images, labels = data if data is not None else load_dataset(dataset, "test", limit=limit)
    images, labels = follow(defense, images, labels)  # everything on the defence's device
    eps = tuple(eps) if eps is not None else eps_grid(dataset)
    if "transfer" in threat_models and substitute is None:
        raise ValueError("the 'transfer' threat model needs a substitute model (load_pretrained gives one)")
    unknown = set(threat_models) - set(THREAT_MODELS)
    if unknown:
        raise ValueError(f"unknown threat model(s) {sorted(unknown)}; choose from {', '.join(THREAT_MODELS)}")
    bad = set(adaptive) - set(ADAPTIVE) - set(REFERENCE)
    if bad:
        raise ValueError(f"unknown adaptive attack(s) {sorted(bad)}; choose from {', '.join((*ADAPTIVE, *REFERENCE))}")
    if ensemble not in PRESETS:
        raise ValueError(f"unknown ensemble preset {ensemble!r}; choose from {', '.join(PRESETS)}")
    defense.eval()
    classifier = defense.classifier
    n = len(labels)

    clean_logits, clean_flags, clean_scores, _ = defend_batched(defense, images)
    rows = [
        _row(dataset, "clean", None, n, "classifier", accuracy(predict_batched(classifier, images), labels)),
        _row(dataset, "clean", None, n, "defense", accuracy(clean_logits, labels),
             clean_flags.float().mean().item(),
             ((clean_logits.argmax(1) == labels) | clean_flags).float().mean().item()),
    ]
    ev = Evaluation(rows, clean_scores)
    on_classifier = bool({"undefended", "grey-box"} & set(threat_models))  # crafted on the classifier
    jobs = [(source, a, e) for e in eps for a in attacks
            for source in ("classifier", "transfer")
            if (source == "classifier" and on_classifier) or (source == "transfer" and "transfer" in threat_models)]
    square = list(square_eps if square_eps is not None else eps) if "square" in threat_models else []
    adaptive_jobs = [(name, e) for e in eps for name in adaptive] if "adaptive" in threat_models else []
    ensemble_jobs = [(on, e) for e in eps for on in ("classifier", "defense")] if "ensemble" in threat_models else []
    bar = tqdm(total=len(jobs) + len(square) + len(adaptive_jobs) + len(ensemble_jobs), desc="evaluate",
               disable=not progress)
    for source, attack, e in jobs:
        spec = AttackSpec(attack, e, default_steps(attack))
        bar.set_postfix_str(f"{source} {attack} eps={e:.3g}")
        if source == "transfer":
            adv = run_attack(spec, substitute, images, labels, seed=seed)
            rows.append(defense_row(defense, dataset, "transfer", spec, adv, labels, clean_scores, ev))
        else:
            adv = run_attack(spec, classifier, images, labels, seed=seed)
            if "undefended" in threat_models:
                rows.append(_row(dataset, "undefended", spec, n, "classifier",
                                 accuracy(predict_batched(classifier, adv), labels)))
                ev.examples[("undefended", attack, e)] = adv
            if "grey-box" in threat_models:
                rows.append(defense_row(defense, dataset, "grey-box", spec, adv, labels, clean_scores, ev))
        bar.update()
    for e in square:
        spec = AttackSpec("square", e, square_queries)
        bar.set_postfix_str(f"square eps={e:.3g}")
        adv = run_attack(spec, defense, images, labels, seed=seed)
        rows.append(defense_row(defense, dataset, "square", spec, adv, labels, clean_scores, ev))
        bar.update()
    for name, e in adaptive_jobs:
        spec = AttackSpec(name, e, adaptive_steps, adaptive_restarts)
        bar.set_postfix_str(f"adaptive {name} eps={e:.3g}")
        if name in REFERENCE:
            adv = run_attack(spec, defense, images, labels, seed=seed)
        else:
            attack = AdaptivePGD(defense, eps=e, steps=adaptive_steps, restarts=adaptive_restarts, seed=seed,
                                 **ADAPTIVE[name])
            adv = torch.cat([attack(images[i:i + 512], labels[i:i + 512]) for i in range(0, n, 512)])
        rows.append(defense_row(defense, dataset, "adaptive", spec, adv, labels, clean_scores, ev))
        bar.update()
    for on, e in ensemble_jobs:
        bar.set_postfix_str(f"ensemble ({ensemble}) on the {on} eps={e:.3g}")
        attack = Ensemble(defense if on == "defense" else classifier, e, ensemble, seed=seed)
        result = attack.run(images, labels)
        spec = AttackSpec(f"ensemble ({ensemble})", e, max(m.steps for m in attack.members))
        if on == "defense":
            row = defense_row(defense, dataset, "ensemble", spec, result.adversarial, labels, clean_scores, ev)
        else:
            row = _row(dataset, "ensemble", spec, n, "classifier", result.accuracy)
            ev.examples[("ensemble-classifier", spec.name, e)] = result.adversarial
        row.update(attacks=len(result.parts), parts=result.parts, seconds=result.seconds)
        rows.append(row)
        bar.update()
    bar.close()
    order = {tm: i for i, tm in enumerate(("undefended", "grey-box", "ensemble", "transfer", "square", "adaptive"))}
    rows[2:] = sorted(rows[2:], key=lambda r: (r["eps"], r["evaluated_on"] != "classifier", order[r["threat_model"]]))
    return ev


def _fmt(value, percent=True):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{100 * value:5.1f}" if percent else f"{value:.3f}"


def format_table(rows) -> str:
    """The rows as a fixed-width text table (percentages; AUROC as a fraction)."""
    width = max([6] + [len(r["attack"]) for r in rows])
    header = (f"{'threat model':<12} {'attack':<{width}} {'eps':>6} {'steps':>5} {'on':<10} {'acc%':>6} {'flag%':>6} "
              f"{'ok|flag%':>8} {'AUROC':>6}")
    lines = [header, "-" * len(header)]
    for r in rows:
        eps = f"{r['eps']:.3g}" if r["eps"] is not None else "-"
        lines.append(
            f"{r['threat_model']:<12} {r['attack']:<{width}} {eps:>6} {r['steps']:>5} {r['evaluated_on']:<10} "
            f"{_fmt(r['accuracy']):>6} {_fmt(r['flagged']):>6} {_fmt(r['correct_or_flagged']):>8} "
            f"{_fmt(r['auroc'], percent=False):>6}"
        )
    return "\n".join(lines)


def _key(row) -> str:
    return f"{row['threat_model']}|{row['attack']}|{row['eps']}|{row['evaluated_on']}"


def merge_rows(parts: list) -> list:
    """The rows of :func:`evaluate` on consecutive chunks of images, merged as if measured on all of them.

    ``parts``: one ``{"rows", "clean_scores", "scores"}`` per chunk (see :func:`evaluate_in_chunks`). Shares are
    weighted by the chunks' image counts; AUROC is recomputed from every chunk's detector scores; an
    ensemble row's per-attack tallies and seconds are summed."""
    merged = {}
    for part in parts:
        for row in part["rows"]:
            merged.setdefault(_key(row), []).append(row)
    clean = [s for part in parts for s in part["clean_scores"]]
    rows = []
    for key, these in merged.items():
        row = dict(these[0])
        if len(these) == 1:  # one chunk: the row as measured
            rows.append(row)
            continue
        n = sum(r["n"] for r in these)
        row["n"] = n
        for share in ("accuracy", "flagged", "correct_or_flagged"):
            if row[share] is not None:
                row[share] = sum(r[share] * r["n"] for r in these) / n
        scores = [s for part in parts for s in part["scores"].get(key, [])]
        if row["auroc"] is not None and scores:
            row["auroc"] = auroc(torch.tensor(clean), torch.tensor(scores))
        if "parts" in row:
            row["parts"] = [dict(p) for p in row["parts"]]
            for other in these[1:]:
                for total, p in zip(row["parts"], other["parts"]):
                    for k in ("ran_on", "broke", "broke_cof"):
                        if total.get(k) is not None:
                            total[k] += p[k]
                    total["seconds"] = round(total["seconds"] + p["seconds"], 2)
            row["seconds"] = round(sum(r["seconds"] for r in these), 2)
        rows.append(row)
    return rows


def evaluate_in_chunks(defense, dataset: str = "digits", chunk: int | None = None, resume: str | None = None,
                       request: dict | None = None, limit: int | None = None, data=None, progress: bool = True,
                       **options) -> list:
    """:func:`evaluate` on consecutive chunks of ``chunk`` test images, merged (:func:`merge_rows`); the rows.

    With ``resume`` (the path the rows will be written to), every finished chunk is saved at once in
    ``RESUME.partial`` (:class:`snnlab.runs.folders.Progress`, with ``request``: the settings that make the rows), so
    the same evaluation started again after a kill resumes from the last finished chunk; call
    :func:`finish_chunks` once the rows are written. Each chunk is attacked as its own batch, so the chunk
    size is part of the settings: the same chunking gives the same rows, resumed or not.
    """
    images, labels = data if data is not None else load_dataset(dataset, "test", limit=limit)
    chunk = chunk or len(labels)
    settings = {"dataset": dataset, "images": len(labels), "chunk": chunk, **(request or {})}
    done = Progress(resume, settings) if resume else None
    parts = []
    with done if done is not None else contextlib.nullcontext():
        for lo in range(0, len(labels), chunk):
            if done is not None and lo in done:
                parts.append(done[lo])
                continue
            ev = evaluate(defense, dataset, data=(images[lo:lo + chunk], labels[lo:lo + chunk]),
                          progress=progress, **options)
            part = {"rows": ev.rows, "clean_scores": ev.clean_scores.tolist(),
                    "scores": {_key({"threat_model": tm, "attack": a, "eps": e, "evaluated_on": "defense"}):
                               s.tolist() for (tm, a, e), s in ev.adversarial_scores.items()}}
            if done is not None:
                done[lo] = part
            parts.append(part)
    return merge_rows(parts)


def finish_chunks(resume: str) -> None:
    """The rows of a resumable :func:`evaluate_in_chunks` are written: drop its saved chunks."""
    done = Progress(resume, {})
    with hold(done.folder, "finishing", remove_empty=True):  # the folder goes with its lock
        if os.path.exists(done.file):
            os.remove(done.file)
