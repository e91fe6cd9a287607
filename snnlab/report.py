"""The HTML report of the main job: the metrics table and plotly figures in one offline file.

plotly.js is embedded once (no CDN), so the report opens without a network.
"""
from __future__ import annotations

import html
import os

import torch

from .course import viz
from .evaluation.evaluate import Evaluation, format_table
from .models.detector import roc


def report_figures(defense, evaluation: Evaluation, images: torch.Tensor, labels: torch.Tensor,
                   example_key=None, n_examples: int = 8) -> dict:
    """The report's figures by title: examples, accuracy vs epsilon, score histograms, ROC."""
    figs = {}
    keys = [k for k in evaluation.examples if k[0] == "grey-box"]
    key = example_key or (max(keys, key=lambda k: (k[1] == "pgd", k[2])) if keys else None)
    if key is not None:
        adv = evaluation.examples[key][:n_examples]
        clean = images[:n_examples].to(adv.device)
        with torch.no_grad():
            out = defense.defend(adv)
            clean_pred = defense.classifier(clean).argmax(1)
            adv_pred = defense.classifier(adv).argmax(1)
        titles = [f"y={int(y)} | {int(c)}->{int(a)}->{int(d)}{' F' if f else ''}"
                  for y, c, a, d, f in zip(labels[:n_examples], clean_pred, adv_pred, out.logits.argmax(1), out.flags)]
        figs[f"Examples: {key[0]} {key[1]} eps={key[2]:.3g}"] = viz.image_rows(
            {"clean": clean, "perturbation": adv - clean, "adversarial": adv, "purified": out.purified},
            titles=titles, max_images=n_examples)
    figs["Accuracy vs epsilon"] = viz.accuracy_vs_eps(evaluation.rows)
    grey = {f"{a} eps={e:.3g}": s for (tm, a, e), s in evaluation.adversarial_scores.items() if tm == "grey-box"}
    figs["Detector scores (grey-box adversarial vs clean test)"] = viz.score_histogram(
        evaluation.clean_scores, grey, defense.threshold)
    curves = {}
    for name, scores in grey.items():
        fpr, tpr, _ = roc(evaluation.clean_scores, scores)
        au = next(r["auroc"] for r in evaluation.rows if r["threat_model"] == "grey-box"
                  and f"{r['attack']} eps={r['eps']:.3g}" == name)
        curves[name] = (fpr, tpr, au)
    figs["Detector ROC"] = viz.roc_figure(curves)
    return figs


def write_report(path: str, rows, figures: dict, title: str = "snnlab report", notes: str = "") -> str:
    """Write the report HTML to ``path`` (plotly.js inlined once); returns the path."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
             "pre{background:#f4f4f4;padding:1em;overflow-x:auto}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>", f"<p>{notes}</p>" if notes else "",
             "<h2>Metrics</h2><pre>", html.escape(format_table(rows)), "</pre>",
             "<p>acc%: accuracy of the evaluated model; flag%: share flagged by the detector; "
             "ok|flag%: correct or flagged; AUROC: clean test vs those adversarial images. "
             "Grey-box: the attacker knows the classifier only, not the purifier or detector; "
             "it is not white-box robustness. Ensemble: the per-image worst case over an attack ensemble "
             "that knows the whole defence (the light preset: APGD-CE through the model's surrogate and a "
             "narrow one, and orthogonal PGD against the detector): an image counts as correct, or as "
             "correct or flagged, only if every attack failed on it. Read each grey-box figure beside the "
             "ensemble figure at the same eps.</p>"]
    for i, (name, fig) in enumerate(figures.items()):
        parts.append(f"<h2>{html.escape(name)}</h2>")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))
    parts.append("</body></html>")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
    return path
