"""Figures: every function takes data and returns a ``plotly.graph_objects.Figure``."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots


def _np(t):
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def _gray(image) -> np.ndarray:
    """(C, H, W) tensor -> (H, W) grey or (H, W, 3) uint8 RGB array for plotting."""
    a = _np(image)
    if a.shape[0] == 1:
        return a[0]
    return (np.clip(a.transpose(1, 2, 0), 0, 1) * 255).astype(np.uint8)


def image_rows(rows: dict, titles=None, max_images: int = 8) -> go.Figure:
    """A grid of images: one row per entry of ``rows`` (name -> (N, C, H, W) in [0, 1]).

    Perturbation rows (names containing 'perturbation' or 'noise') are shown
    on a diverging scale centred on 0; the others in grey from 0 to 1.
    ``titles`` optionally labels each column (e.g. predictions).
    """
    names = list(rows)
    n = min(max_images, min(len(v) for v in rows.values()))
    fig = make_subplots(rows=len(names), cols=n, horizontal_spacing=0.01, vertical_spacing=0.04,
                        subplot_titles=[titles[j] if titles and i == 0 else "" for i in range(len(names)) for j in range(n)]
                        if titles else None)
    for i, name in enumerate(names):
        signed = "perturbation" in name or "noise" in name
        limit = float(max(_np(rows[name][:n]).__abs__().max(), 1e-6)) if signed else 1.0
        for j in range(n):
            img = _gray(rows[name][j])
            if img.ndim == 3:
                fig.add_trace(go.Image(z=img), i + 1, j + 1)
            else:
                fig.add_trace(go.Heatmap(z=img[::-1], colorscale="RdBu" if signed else "gray",
                                         zmin=-limit if signed else 0.0, zmax=limit, showscale=False,
                                         hovertemplate=f"{name}<br>x=%{{x}} y=%{{y}}<br>%{{z:.3f}}<extra></extra>"),
                              i + 1, j + 1)
        fig.update_yaxes(title_text=name, row=i + 1, col=1)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False, scaleanchor="x")
    fig.update_layout(height=130 * len(names) + 60, margin=dict(l=90, r=10, t=40, b=10))
    return fig


def accuracy_vs_eps(rows, title: str = "Accuracy vs epsilon (test split)") -> go.Figure:
    """Accuracy (and correct-or-flagged for the defence) per epsilon, one line per threat model and attack."""
    fig = go.Figure()
    series = {}
    for r in rows:
        if r["threat_model"] == "clean" or r["eps"] is None:
            continue
        series.setdefault((r["threat_model"], r["attack"], r["evaluated_on"]), []).append(r)
    for (tm, attack, on), rs in series.items():
        rs = sorted(rs, key=lambda r: r["eps"])
        eps = [r["eps"] for r in rs]
        fig.add_trace(go.Scatter(x=eps, y=[100 * r["accuracy"] for r in rs], mode="lines+markers",
                                 name=f"{tm} {attack} ({on})"))
        if on == "defense":
            fig.add_trace(go.Scatter(x=eps, y=[100 * r["correct_or_flagged"] for r in rs], mode="lines+markers",
                                     line=dict(dash="dot"), name=f"{tm} {attack}: correct or flagged"))
    fig.update_layout(title=title, xaxis_title="epsilon (L-infinity, pixels in [0, 1])",
                      yaxis_title="accuracy (%)", yaxis_range=[0, 101])
    return fig


def score_histogram(clean_scores, adversarial_scores: dict, threshold: float | None = None,
                    title: str = "Detector score ||x - P(x)||_inf") -> go.Figure:
    """Overlaid histograms of detector scores: clean and each named adversarial set, with the threshold line."""
    fig = go.Figure()
    bins = dict(start=0.0, end=1.0, size=0.01)
    fig.add_trace(go.Histogram(x=_np(clean_scores), name="clean", opacity=0.6, xbins=bins))
    for name, scores in adversarial_scores.items():
        fig.add_trace(go.Histogram(x=_np(scores), name=str(name), opacity=0.6, xbins=bins))
    if threshold is not None:
        fig.add_vline(x=threshold, line_dash="dash", annotation_text=f"threshold {threshold:.3f}")
    fig.update_layout(barmode="overlay", title=title, xaxis_title="score", yaxis_title="images")
    return fig


def roc_figure(curves: dict, title: str = "Detector ROC") -> go.Figure:
    """ROC curves: ``curves`` maps a name to ``(fpr, tpr, auroc)``."""
    fig = go.Figure()
    for name, (fpr, tpr, au) in curves.items():
        fig.add_trace(go.Scatter(x=_np(fpr), y=_np(tpr), mode="lines", name=f"{name} (AUROC {au:.3f})"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="grey"), name="chance"))
    fig.update_layout(title=title, xaxis_title="false-positive rate", yaxis_title="detection rate",
                      xaxis_range=[0, 1], yaxis_range=[0, 1.01])
    return fig
