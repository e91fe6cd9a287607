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
                        subplot_titles=[titles[j] if titles and i == 0 else ""
                                        for i in range(len(names)) for j in range(n)]
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


def precomputed_slider(make_figure, values, label: str, fmt: str = "{:.3g}") -> go.Figure:
    """One figure with a slider over precomputed values: works in static HTML, no kernel needed.

    ``make_figure(value) -> Figure`` is called once per value; its traces are
    stacked into one figure and the slider shows the traces of one value at a
    time. Axes come from the first value's figure; the title, the annotations
    (per-panel labels, subplot titles) and the shapes (marker lines) are
    switched with the traces, so every label and line moves with the slider.
    """
    values = list(values)
    figs = [make_figure(v) for v in values]
    fig = go.Figure(layout=figs[0].layout)
    owner = []
    for i, f in enumerate(figs):
        for trace in f.data:
            trace.visible = i == 0
            fig.add_trace(trace)
            owner.append(i)
    steps = []
    for i, v in enumerate(values):
        layout = figs[i].layout
        title = layout.title.text if layout.title and layout.title.text else ""
        steps.append(dict(method="update", label=fmt.format(v),
                          args=[{"visible": [o == i for o in owner]},
                                {"title.text": title, "annotations": [a.to_plotly_json() for a in layout.annotations],
                                 "shapes": [sh.to_plotly_json() for sh in layout.shapes]}]))
    fig.update_layout(sliders=[dict(active=0, currentvalue=dict(prefix=f"{label}: "), steps=steps, pad=dict(t=40))])
    return fig


def neuron_trace(current, membranes: dict, spikes: dict, thresholds: dict, title: str = "") -> go.Figure:
    """Input current, membrane potential(s) with thresholds, and spikes over time, stacked.

    ``membranes`` / ``spikes`` / ``thresholds`` map a name (e.g. 'LIF' or 'level 2') to a ``(T,)`` trace
    or a threshold value.
    """
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, row_heights=[0.25, 0.5, 0.25], vertical_spacing=0.05)
    t = np.arange(len(_np(current)))
    fig.add_trace(go.Scatter(x=t, y=_np(current), mode="lines", name="input current", line_shape="hv"), 1, 1)
    for i, (name, mem) in enumerate(membranes.items()):
        fig.add_trace(go.Scatter(x=t, y=_np(mem), mode="lines+markers", name=f"membrane {name}"), 2, 1)
        if name in thresholds:
            fig.add_hline(y=thresholds[name], line_dash="dot", row=2, col=1,
                          annotation_text=f"Vth {name} = {thresholds[name]:.2g}")
    for i, (name, spk) in enumerate(spikes.items()):
        s = _np(spk)
        fig.add_trace(go.Scatter(x=t[s > 0], y=[i] * int((s > 0).sum()), mode="markers", marker_symbol="line-ns-open",
                                 marker_size=14, name=f"spikes {name}"), 3, 1)
    fig.update_yaxes(title_text="current", row=1, col=1)
    fig.update_yaxes(title_text="membrane", row=2, col=1)
    fig.update_yaxes(title_text="spikes", tickvals=list(range(len(spikes))), ticktext=list(spikes), row=3, col=1)
    fig.update_xaxes(title_text="time step", row=3, col=1)
    fig.update_layout(title=title, height=520)
    return fig


def surrogate_windows(thresholds, width: float = 1.0, levels: int | None = None) -> go.Figure:
    """MLF's rectangular surrogate gradient of each level against the membrane potential."""
    thresholds = list(thresholds)[:levels]
    u = np.linspace(-0.5, 4.0, 901)
    fig = go.Figure()
    total = np.zeros_like(u)
    for k, vth in enumerate(thresholds):
        g = (np.abs(u - vth) < width / 2) / width
        total += g
        fig.add_trace(go.Scatter(x=u, y=g, mode="lines", name=f"level {k + 1} (Vth {vth})", line_shape="hv"))
    fig.add_trace(go.Scatter(x=u, y=total, mode="lines", name="any level", line=dict(dash="dot", color="black")))
    fig.update_layout(title="Surrogate gradient windows d o / d u", xaxis_title="membrane u",
                      yaxis_title="surrogate gradient", yaxis_range=[-0.05, 1.3])
    return fig


def spike_raster(spikes, max_neurons: int = 200, title: str = "Spike raster") -> go.Figure:
    """Raster of a spike train ``(T, ...)`` for one input: neuron index vs time, colour = spike count (0..K)."""
    s = _np(spikes).reshape(_np(spikes).shape[0], -1)[:, :max_neurons]  # (T, neurons)
    fig = go.Figure(go.Heatmap(z=s.T, colorscale="Greys", zmin=0, zmax=max(1.0, float(s.max())),
                               colorbar=dict(title="spikes")))
    fig.update_layout(title=title, xaxis_title="time step", yaxis_title="neuron", height=360)
    return fig


def bar_chart(values: dict, title: str, yaxis_title: str = "", percent: bool = False) -> go.Figure:
    """A bar per named value (e.g. spike rate per layer, accuracy per ablation)."""
    names = list(values)
    ys = [100 * v if percent else v for v in values.values()]
    fig = go.Figure(go.Bar(x=names, y=ys, text=[f"{y:.1f}" if percent else f"{y:.3g}" for y in ys],
                           textposition="auto"))
    fig.update_layout(title=title, yaxis_title=yaxis_title)
    return fig


def value_grid(values: dict, title: str, row_title: str = "", col_title: str = "", percent: bool = True,
               zmax: float | None = None) -> go.Figure:
    """A heatmap of ``values[(row, col)]`` (e.g. attack success rate per trigger size and t*), each cell labelled
    with its value; rows and columns in sorted order, missing pairs left blank."""
    rows, cols = sorted({r for r, _ in values}), sorted({c for _, c in values})
    scale = 100 if percent else 1
    z = [[scale * values[r, c] if (r, c) in values else None for c in cols] for r in rows]  # (rows, cols)
    text = [[("" if v is None else f"{v:.1f}" if percent else f"{v:.3g}") for v in line] for line in z]
    fig = go.Figure(go.Heatmap(z=z, x=[str(c) for c in cols], y=[str(r) for r in rows], text=text,
                               texttemplate="%{text}", colorscale="Reds", zmin=0,
                               zmax=zmax if zmax is not None else (100 if percent else None),
                               colorbar=dict(title="%" if percent else "")))
    fig.update_layout(title=title, xaxis_title=col_title, yaxis_title=row_title, height=360)
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category")
    return fig


def notebook_setup() -> str:
    """Choose the plotly renderer for the lessons; returns its name.

    Colab gets plotly's 'colab' renderer (each output is its own frame there).
    Everywhere else an offline notebook renderer: plotly.js is embedded once,
    in this call's output, and no figure loads anything from a CDN, so executed
    notebooks and the published book show figures without a network.
    """
    import sys

    import plotly.io as pio

    if "google.colab" in sys.modules:
        pio.renderers.default = "colab"
        return "colab"
    pio.renderers["snnlab_offline"] = _offline_notebook_renderer()
    pio.renderers.default = "snnlab_offline"
    # Embed plotly.js now (as plotly.offline.init_notebook_mode does). Left to the first fig.show(),
    # it can land inside an ipywidgets Output, and the kernel then hangs on shutdown under nbval.
    pio.renderers._activate_pending_renderers()
    return "snnlab_offline"


def _offline_notebook_renderer():
    import re

    from plotly.io._base_renderers import NotebookRenderer

    class OfflineNotebookRenderer(NotebookRenderer):
        """plotly's notebook renderer without the MathJax <script> it loads from a CDN."""

        def to_mimebundle(self, fig_dict):
            bundle = super().to_mimebundle(fig_dict)
            bundle["text/html"] = re.sub(r'<script src="https?://[^"]*mathjax[^"]*"></script>', "",
                                         bundle["text/html"])
            return bundle

    return OfflineNotebookRenderer(connected=False)
