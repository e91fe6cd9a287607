"""The lessons' interactive demos as plain functions: slider values in, a plotly Figure out.

Each ``*_demo`` function is what an ipywidgets slider calls; tests call the
same functions across each slider's range. :func:`interact` wires one to
sliders in a notebook, and ``snnlab.course.viz.precomputed_slider`` turns one into a
static figure with a slider for the published book (no kernel there).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from ..attacks import AttackSpec, run_attack
from ..attacks.surrogates import SHORT
from ..devices import follow
from ..models.neurons import MLF_THRESHOLDS, lif_trace, mlf_trace
from ..poisoning.backdoor import predict
from ..purifiers.losses import asymmetric
from . import viz

# Slider ranges, shared by the lessons and the tests that sweep them: (min, max, step).
SLIDERS = {
    "beta": (0.5, 0.99, 0.01),
    "threshold": (0.2, 2.0, 0.1),
    "current": (0.0, 3.0, 0.05),
    "levels": (1, 3, 1),
    "eps": (0.0, 0.3, 0.025),
    "alpha": (0.05, 0.95, 0.05),
    "detector_threshold": (0.0, 0.5, 0.01),
}


def slider_values(name: str) -> np.ndarray:
    """Every value a slider can take (for tests and precomputed figures)."""
    lo, hi, step = SLIDERS[name]
    return np.round(np.arange(lo, hi + step / 2, step), 6)


HEADLESS = "SNNLAB_HEADLESS"  # set (to anything but "" or "0") by the executors: nbval, book/build_course.py, ...


def headless() -> bool:
    """True when no front end will draw widgets: the notebook executors set ``SNNLAB_HEADLESS=1``."""
    return os.environ.get(HEADLESS, "") not in ("", "0")


def slider_defaults(**sliders) -> dict:
    """The value each slider of :func:`interact` starts at: the middle of a float range, the low end of an
    int range, the first of a list of values."""
    values = {}
    for name, spec in sliders.items():
        if isinstance(spec, list):
            values[name] = spec[0]
            continue
        lo, hi, step = SLIDERS[spec] if isinstance(spec, str) else spec
        integer = all(isinstance(v, int) for v in (lo, hi, step))
        values[name] = lo if integer else lo + (hi - lo) / 2
    return values


def interact(callback, **sliders):
    """Show ``callback(**values)`` under ipywidgets sliders.

    ``sliders`` maps a name to a SLIDERS key, a ``(lo, hi, step)`` tuple, or a list of the exact values to offer.

    Headless (:func:`headless`: nbval, the course builds), no widget is made: the figure at the sliders'
    starting values is shown once and None returned, so executing a notebook never waits on a widget's
    messages to a front end that is not there (cf. jupyter/nbclient#312, where such a cell's reply never came).
    """
    values = slider_defaults(**sliders)
    if headless():
        callback(**values).show()
        return None
    import ipywidgets  # only a live notebook needs it

    controls = {}
    for name, spec in sliders.items():
        if isinstance(spec, list):  # exactly these values (e.g. the ones a saved run has data for)
            controls[name] = ipywidgets.SelectionSlider(options=spec, value=values[name], description=name,
                                                        continuous_update=False)
            continue
        lo, hi, step = SLIDERS[spec] if isinstance(spec, str) else spec
        kind = ipywidgets.IntSlider if all(isinstance(v, int) for v in (lo, hi, step)) else ipywidgets.FloatSlider
        controls[name] = kind(min=lo, max=hi, step=step, value=values[name], description=name,
                              continuous_update=False)
    return ipywidgets.interact(lambda **kw: callback(**kw).show(), **controls)


# ----- lesson 1: neurons ---------------------------------------------------------------------

def lif_demo(beta: float = 0.9, threshold: float = 1.0, current: float = 0.3, steps: int = 40) -> go.Figure:
    """An ``snntorch.Leaky`` neuron under a constant current switched on at step 5."""
    drive = torch.zeros(steps)
    drive[5:] = current
    mem, spk = lif_trace(drive, beta=beta, threshold=threshold)
    rate = spk.mean().item()
    return viz.neuron_trace(drive, {"LIF": mem}, {"LIF": spk}, {"LIF": threshold},
                            title=f"LIF: beta={beta:.2f}, Vth={threshold:.2f}, I={current:.2f} -> "
                                  f"{spk.sum():.0f} spikes (rate {rate:.2f})")


def mlf_demo(current: float = 1.0, levels: int = 3, steps: int = 20) -> go.Figure:
    """An MLF neuron with ``levels`` levels under a constant current: each level's membrane and spikes."""
    drive = torch.zeros(steps)
    drive[2:] = current
    mems, spikes = mlf_trace(drive, levels=levels)
    names = [f"level {k + 1}" for k in range(levels)]
    total = spikes.sum().item()
    return viz.neuron_trace(drive, {n: mems[:, k] for k, n in enumerate(names)},
                            {n: spikes[:, k] for k, n in enumerate(names)},
                            {n: MLF_THRESHOLDS[k] for k, n in enumerate(names)},
                            title=f"MLF with {levels} level(s), I={current:.2f}: output {total:.0f} spikes "
                                  f"(up to {levels} per step)")


def _one_attacked(classifier, images, labels, eps: float, index: int, attack: str, steps: int = 10):
    """``(x, y, adversarial x)`` for image ``index``: ``x`` itself at eps 0."""
    x, y = follow(classifier, images[index:index + 1], labels[index:index + 1])  # on the model's device
    adv = x if eps == 0 else run_attack(AttackSpec(attack, float(eps), steps), classifier, x, y)
    return x, y, adv


# ----- lesson 2: attacks ---------------------------------------------------------------------

def attack_demo(classifier, images, labels, eps: float = 0.1, index: int = 0, attack: str = "pgd",
                curve: dict | None = None, steps: int = 10) -> go.Figure:
    """Clean image, perturbation and adversarial image with prediction and confidence; beside
    the accuracy-vs-eps curve (``curve``: eps -> accuracy) with the current eps marked."""
    x, y, adv = _one_attacked(classifier, images, labels, eps, index, attack, steps)
    with torch.no_grad():
        p_clean = classifier(x).softmax(1)[0]
        p_adv = classifier(adv).softmax(1)[0]
    fig = make_subplots(rows=1, cols=4, column_widths=[0.2, 0.2, 0.2, 0.4],
                        subplot_titles=[f"clean: {p_clean.argmax()} ({100 * p_clean.max():.0f}%)",
                                        f"perturbation (eps {eps:.3g})",
                                        f"adversarial: {p_adv.argmax()} ({100 * p_adv.max():.0f}%)",
                                        "accuracy vs eps"])
    delta = (adv - x)[0, 0].cpu().numpy()[::-1]
    fig.add_trace(go.Heatmap(z=x[0, 0].cpu().numpy()[::-1], colorscale="gray", zmin=0, zmax=1, showscale=False), 1, 1)
    fig.add_trace(go.Heatmap(z=delta, colorscale="RdBu", zmin=-0.3, zmax=0.3, showscale=False), 1, 2)
    fig.add_trace(go.Heatmap(z=adv[0, 0].cpu().numpy()[::-1], colorscale="gray", zmin=0, zmax=1, showscale=False), 1, 3)
    if curve:
        es = sorted(curve)
        fig.add_trace(go.Scatter(x=es, y=[100 * curve[e] for e in es], mode="lines+markers",
                                 name=f"{attack.upper()} accuracy"), 1, 4)
        fig.add_vline(x=eps, line_dash="dot", row=1, col=4)
    fig.update_xaxes(showticklabels=False, row=1, col=1)
    for c in (1, 2, 3):
        fig.update_xaxes(showticklabels=False, row=1, col=c)
        fig.update_yaxes(showticklabels=False, scaleanchor=f"x{c if c > 1 else ''}", row=1, col=c)
    fig.update_yaxes(range=[0, 101], title_text="accuracy (%)", row=1, col=4)
    fig.update_xaxes(title_text="eps", row=1, col=4)
    fig.update_layout(height=300, showlegend=False, title=f"label {int(y)}: {attack.upper()} at eps={eps:.3g}")
    return fig


# ----- lesson 3: noise estimation ------------------------------------------------------------

def asymmetric_demo(alpha: float = 0.3) -> go.Figure:
    """CBDNet's asymmetric loss as a function of the estimation error, for a true noise level of 0.1."""
    sigma = torch.full((201,), 0.1)
    sigma_hat = torch.linspace(0.0, 0.2, 201)
    loss = torch.stack([asymmetric(sh.view(1), s.view(1), alpha) for sh, s in zip(sigma_hat, sigma)])
    sym = (sigma_hat - sigma) ** 2 * 0.5
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=(sigma_hat - sigma).numpy(), y=loss.numpy(), name=f"asymmetric, alpha={alpha:.2f}"))
    fig.add_trace(go.Scatter(x=(sigma_hat - sigma).numpy(), y=sym.numpy(), name="symmetric (alpha=0.5)",
                             line=dict(dash="dot")))
    fig.update_layout(title=f"Under-estimating costs {(1 - alpha) / alpha:.2g}x over-estimating (alpha={alpha:.2f})",
                      xaxis_title="sigma_hat - sigma (negative: under-estimate)", yaxis_title="loss")
    return fig


def noise_demo(classifier, purifier, images, labels, eps: float = 0.1, index: int = 0,
               attack: str = "fgsm") -> go.Figure:
    """True perturbation |delta| vs NeSNN's noise map, and the purified image, for one image."""
    x, _, adv = _one_attacked(classifier, images, labels, eps, index, attack)
    with torch.no_grad():
        purified, sigma_hat = purifier.estimate(adv)
    true = (adv - x).abs()
    err = (sigma_hat - true).mean().item()
    return viz.image_rows({"adversarial": adv, "|true perturbation|": true, "NeSNN noise map": sigma_hat,
                           "purified": purified}, max_images=1) \
        .update_layout(title=f"eps={eps:.3g}: mean(sigma_hat - |delta|) = {err:+.3f}", height=620, width=320)


# ----- lesson 5: thresholds ------------------------------------------------------------------

@dataclass
class ThresholdSweep:
    """Per-image data to recompute the joint defence at any threshold without re-running models."""
    clean_scores: torch.Tensor  # (N,)
    adv_scores: torch.Tensor  # (N,)
    clean_correct_raw: torch.Tensor  # (N,) bool: classifier right on x
    clean_correct_purified: torch.Tensor  # (N,) bool: classifier right on P(x)
    adv_correct_raw: torch.Tensor  # (N,) bool: right on x_adv
    adv_correct_purified: torch.Tensor  # (N,) bool: right on P(x_adv)

    @classmethod
    @torch.no_grad()
    def compute(cls, defense, images, labels, adversarial):
        images, labels, adversarial = follow(defense, images, labels, adversarial)  # computed on its device
        out_c, out_a = defense.defend(images), defense.defend(adversarial)
        clf = defense.classifier
        fields = (out_c.scores, out_a.scores,
                  clf(images).argmax(1) == labels, clf(out_c.purified).argmax(1) == labels,
                  clf(adversarial).argmax(1) == labels, clf(out_a.purified).argmax(1) == labels)
        return cls(*(f.cpu() for f in fields))  # kept on the CPU for the sliders


def threshold_stats(sweep: ThresholdSweep, threshold: float) -> dict:
    """False positives, detection rate, and clean / robust accuracy of the joint defence at ``threshold``."""
    fc, fa = sweep.clean_scores > threshold, sweep.adv_scores > threshold
    clean_ok = torch.where(fc, sweep.clean_correct_purified, sweep.clean_correct_raw)
    adv_ok = torch.where(fa, sweep.adv_correct_purified, sweep.adv_correct_raw)
    return {"threshold": float(threshold), "false_positive_rate": fc.float().mean().item(),
            "detection_rate": fa.float().mean().item(), "clean_accuracy": clean_ok.float().mean().item(),
            "robust_accuracy": adv_ok.float().mean().item(),
            "correct_or_flagged": (adv_ok | fa).float().mean().item()}


def threshold_demo(sweep: ThresholdSweep, threshold: float = 0.2) -> go.Figure:
    """Score histograms with the threshold, and the defence's figures at that threshold."""
    s = threshold_stats(sweep, threshold)
    fig = make_subplots(rows=1, cols=2, column_widths=[0.6, 0.4],
                        subplot_titles=["detector scores", "at this threshold"])
    bins = dict(start=0, end=1, size=0.01)
    fig.add_trace(go.Histogram(x=sweep.clean_scores.numpy(), name="clean", opacity=0.6, xbins=bins), 1, 1)
    fig.add_trace(go.Histogram(x=sweep.adv_scores.numpy(), name="adversarial", opacity=0.6, xbins=bins), 1, 1)
    fig.add_vline(x=threshold, line_dash="dash", row=1, col=1)
    names = ["false positives", "detection", "clean acc", "robust acc"]
    vals = [s["false_positive_rate"], s["detection_rate"], s["clean_accuracy"], s["robust_accuracy"]]
    fig.add_trace(go.Bar(x=names, y=[100 * v for v in vals], text=[f"{100 * v:.1f}%" for v in vals],
                         textposition="auto", showlegend=False), 1, 2)
    fig.update_layout(barmode="overlay", height=380, title=f"threshold {threshold:.2f}")
    fig.update_yaxes(range=[0, 105], row=1, col=2)
    fig.update_xaxes(range=[0, 0.6], title_text="||x - P(x)||_inf", row=1, col=1)
    return fig


# ----- lesson 6: honest evaluation -----------------------------------------------------------

def threat_model_demo(rows, eps: float) -> go.Figure:
    """Accuracy and correct-or-flagged of the defence at ``eps`` under every threat model in ``rows``."""
    sel = [r for r in rows if r["evaluated_on"] == "defense" and r["eps"] is not None
           and abs(r["eps"] - eps) < 1e-9]
    names = [f"{r['threat_model']}<br>{r['attack']}" for r in sel]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=names, y=[100 * r["accuracy"] for r in sel], name="accuracy"))
    fig.add_trace(go.Bar(x=names, y=[100 * r["correct_or_flagged"] for r in sel], name="correct or flagged"))
    fig.update_layout(barmode="group", title=f"The same defence at eps={eps:.3g}, by threat model",
                      yaxis_title="%", yaxis_range=[0, 105])
    return fig


SHAPE_NAMES = {short: shape for shape, short in SHORT.items()}  # 'rect' -> 'rectangular', ...


def surrogate_demo(sweep: dict, shape: str = "rect", width: float = 1.0) -> go.Figure:
    """Accuracy under APGD-CE through each attack-time surrogate (a saved :func:`surrogate_sweep` run).

    Left: the undefended classifier; right: the joint defence (accuracy; the chosen setting's
    correct-or-flagged as a red cross). One line per shape across widths, the chosen shape in bold
    with a circle at the chosen width; the other gradients (straight-through, rate, HART-style,
    ASSG-style) as diamonds, named on the axis.
    The model's own surrogate is rectangular at width 1.
    """
    name = f"{shape}-{width:g}"
    if name not in sweep["classifier"]:
        raise ValueError(f"no sweep result for surrogate {name!r}; the sweep has: {', '.join(sweep['classifier'])}")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("undefended classifier", "joint defence"))
    widths = sorted({float(k.split("-", 1)[1]) for k in sweep["classifier"] if "-" in k})
    others = [k for k in sweep["classifier"] if "-" not in k]
    spots = [widths[-1] * 1.6 ** (i + 1) for i in range(len(others))]  # the other gradients, right of the widths
    for col, on in ((1, "classifier"), (2, "defense")):
        res = sweep[on]
        for s, color in zip(SHAPE_NAMES, ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a")):
            chosen = s == shape
            fig.add_trace(go.Scatter(x=widths, y=[100 * res[f"{s}-{w:g}"]["accuracy"] for w in widths],
                                     mode="lines+markers", name=SHAPE_NAMES[s], legendgroup=s, showlegend=col == 1,
                                     marker_color=color,
                                     line=dict(width=4 if chosen else 1), opacity=1.0 if chosen else 0.45), 1, col)
        fig.add_trace(go.Scatter(x=spots, y=[100 * res[k]["accuracy"] for k in others], mode="markers",
                                 marker=dict(symbol="diamond", size=10, color="black"),
                                 name="other gradients", showlegend=col == 1), 1, col)
        fig.add_trace(go.Scatter(x=[width], y=[100 * res[name]["accuracy"]], mode="markers",
                                 marker=dict(size=18, color="red", symbol="circle-open", line=dict(width=3)),
                                 name="your choice", showlegend=col == 1), 1, col)
        if on == "defense":
            fig.add_trace(go.Scatter(x=[width], y=[100 * res[name]["correct_or_flagged"]], mode="markers",
                                     marker=dict(size=12, color="red", symbol="x"),
                                     name="your choice: correct or flagged", showlegend=True), 1, col)
        fig.update_xaxes(type="log", title_text="surrogate width (membrane units), then other gradients",
                         tickvals=widths + spots, ticktext=[f"{w:g}" for w in widths] + others, row=1, col=col)
    c, d, own = sweep["classifier"][name], sweep["defense"][name], sweep["classifier"]["rect-1"]
    fig.update_yaxes(title_text="accuracy under APGD-CE (%)", range=[0, 101])
    fig.update_layout(height=460, margin=dict(t=110), title=(
        f"{SHAPE_NAMES[shape]} width {width:g}: classifier {100 * c['accuracy']:.0f}%, defence "
        f"{100 * d['accuracy']:.0f}% (correct or flagged {100 * d['correct_or_flagged']:.0f}%)<br>"
        f"the model's own surrogate (rectangular, width 1): classifier {100 * own['accuracy']:.0f}%, defence "
        f"{100 * sweep['defense']['rect-1']['accuracy']:.0f}%"))
    return fig


# ----- lesson 4: purification ----------------------------------------------------------------

def purification_demo(classifier, purifier, images, labels, eps: float = 0.1, index: int = 0,
                      attack: str = "pgd") -> go.Figure:
    """Clean, adversarial and purified image of one digit, with the classifier's prediction on each."""
    x, y, adv = _one_attacked(classifier, images, labels, eps, index, attack)
    with torch.no_grad():
        purified = purifier(adv)
        preds = [classifier(t).softmax(1)[0] for t in (x, adv, purified)]
    titles = [f"{name}: {int(p.argmax())} ({100 * p.max():.0f}%)"
              for name, p in zip(("clean", "adversarial", "purified"), preds)]
    fig = viz.image_rows({"image": torch.cat([x, adv, purified])}, titles=titles, max_images=3)
    return fig.update_layout(title=f"label {int(y)}, {attack.upper()} eps={eps:.3g}", height=260)


# ----- lesson 7: the purifier family, EOT, certified robustness ---------------------------------

def family_demo(classifier, models: dict, images, labels, eps: float = 0.1, index: int = 0) -> go.Figure:
    """One digit: clean, grey-box PGD-10 adversarial, and purified by each purifier in ``models`` (name ->
    purifier), with the classifier's prediction on each. Random purifiers are drawn once (seed 0)."""
    x, y, adv = _one_attacked(classifier, images, labels, eps, index, "pgd")
    columns, titles = [x, adv], []
    torch.manual_seed(0)
    with torch.no_grad():
        for purifier in models.values():
            columns.append(purifier(adv))
        preds = [int(classifier(t).argmax(1)) for t in columns]
    names = ["clean", "adversarial", *models]
    titles = [f"{n}: {p}" for n, p in zip(names, preds)]
    fig = viz.image_rows({"image": torch.cat(columns)}, titles=titles, max_images=len(columns))
    return fig.update_layout(title=f"label {int(y)}, grey-box PGD eps={eps:.3g}: each purifier's output and the "
                                   f"classifier's answer", height=260)


def eot_demo(sweep: list, eot: int = 1) -> go.Figure:
    """Accuracy of a random defence against APGD-CE as EOT grows (a saved :func:`~snnlab.attacks.stochastic.eot_sweep`):
    mean over evaluation draws, with the worst draw; one line per step count, the chosen EOT marked."""
    eots = sorted({r["eot"] for r in sweep})
    if eot not in eots:
        raise ValueError(f"no sweep result at EOT {eot}; the sweep has {eots}")
    fig = go.Figure()
    for steps in sorted({r["steps"] for r in sweep}):
        rs = sorted((r for r in sweep if r["steps"] == steps), key=lambda r: r["eot"])
        fig.add_trace(go.Scatter(x=[r["eot"] for r in rs], y=[100 * r["accuracy"]["mean"] for r in rs],
                                 mode="lines+markers", name=f"{steps} steps: mean of draws"))
        fig.add_trace(go.Scatter(x=[r["eot"] for r in rs], y=[100 * r["accuracy"]["worst"] for r in rs],
                                 mode="lines", line=dict(dash="dot"), name=f"{steps} steps: worst draw"))
    chosen = [r for r in sweep if r["eot"] == eot]
    fig.add_trace(go.Scatter(x=[eot] * len(chosen), y=[100 * r["accuracy"]["mean"] for r in chosen], mode="markers",
                             marker=dict(size=16, color="red", symbol="circle-open", line=dict(width=3)),
                             name=f"EOT {eot}"))
    text = ", ".join(f"{r['steps']} steps {100 * r['accuracy']['mean']:.0f}%" for r in chosen)
    fig.update_layout(title=f"EOT {eot}: {text}", xaxis_title="gradient samples per step (EOT)", xaxis_type="log",
                      yaxis_title="accuracy under APGD-CE (%)", yaxis_range=[0, 101], height=400)
    return fig


def certified_demo(certified: list, sigma: float = 0.5, pixels: int = 64) -> go.Figure:
    """Certified accuracy against L2 radius at smoothing noise ``sigma`` (saved CERTIFY runs), one line per
    model, with the radius that covers the L-inf ball of eps 0.1 on ``pixels`` inputs (``0.1 * sqrt(pixels)``)."""
    sel = [c for c in certified if abs(c["sigma"] - sigma) < 1e-9]
    if not sel:
        raise ValueError(f"no certification at sigma {sigma}; saved: {sorted({c['sigma'] for c in certified})}")
    fig = go.Figure()
    cover = 0.1 * pixels ** 0.5
    top = max(cover, sel[0]["max_radius"]) * 1.1
    grid = np.linspace(0, top, 200)
    for c in sel:
        radii = np.asarray(c["radii"])  # per image: its certified radius when certified and right, else 0
        shares = [100 * float(np.mean((radii >= r) & (radii > 0))) for r in grid]
        fig.add_trace(go.Scatter(x=grid, y=shares, mode="lines", line_shape="hv",
                                 name=f"{c['model']} (at R = {cover:.1f}: "
                                      f"{100 * float(np.mean(radii >= cover)):.0f}%)"))
    fig.add_vline(x=cover, line_dash="dash", line_color="red")
    fig.add_annotation(x=cover, y=95, text=f"R = {cover:.2f} covers L-inf eps 0.1", showarrow=False, xanchor="right")
    fig.add_vline(x=sel[0]["max_radius"], line_dash="dot", line_color="gray")
    fig.add_annotation(x=sel[0]["max_radius"], y=80, text=f"largest certifiable R ({sel[0]['n']} draws)",
                       showarrow=False, xanchor="right")
    at0 = ", ".join(f"{c['model']} {100 * c['certified_accuracy']['0.0']:.0f}%" for c in sel)
    fig.update_layout(title=f"sigma {sigma:g}: certified accuracy at R = 0: {at0}", xaxis_title="L2 radius R",
                      yaxis_title="certified accuracy (%)", yaxis_range=[0, 101], height=420,
                      xaxis_range=[0, top], legend=dict(orientation="h", y=-0.25))
    return fig


def trigger_demo(model, images, labels, trigger, index: int = 0) -> go.Figure:
    """One test digit without and with ``trigger`` (a :class:`snnlab.poisoning.backdoor.Trigger`), and
    ``model``'s answer
    on each: a backdoored model follows the trigger, a clean one ignores it."""
    x = images[index:index + 1]
    triggered = trigger.apply(x)
    answers = predict(model, torch.cat([x, triggered])).tolist()
    return viz.image_rows({"": torch.cat([x, triggered])},
                          titles=[f"clean: model says {answers[0]}",
                                  f"with the {trigger.kind} trigger: says {answers[1]}"]) \
        .update_layout(title=f"test digit {int(labels[index])}")


def t_star_demo(curve: list, t_star: int = 10) -> go.Figure:
    """The backdoored model on test images after one DDPM round trip to ``t_star`` (a saved curve): attack
    success rate of triggered images and clean accuracy, against t*; the chosen t* marked."""
    steps = [r["t_star"] for r in curve]
    if t_star not in steps:
        raise ValueError(f"no round trip saved at t* = {t_star}; saved: {steps}")
    fig = go.Figure()
    for key, name in (("attack_success_rate", "attack success rate (triggered images)"),
                      ("clean_accuracy", "clean accuracy")):
        fig.add_trace(go.Scatter(x=steps, y=[100 * r[key] for r in curve], mode="lines+markers", name=name))
    chosen = next(r for r in curve if r["t_star"] == t_star)
    fig.add_vline(x=t_star, line_dash="dash", line_color="red")
    fig.update_layout(title=f"t* = {t_star}: attack success {100 * chosen['attack_success_rate']:.0f}%, "
                      f"clean accuracy {100 * chosen['clean_accuracy']:.0f}%", xaxis_title="DDPM step t* (of 100)",
                      yaxis_title="%", yaxis_range=[0, 101], height=400)
    return fig


def poisoning_demo(rows: list, scenario: str = "badnets", t_star: int = 10) -> go.Figure:
    """Before and after DataElixir for one saved scenario (``benchmarks/poisoning.py``): clean accuracy and
    attack success rate of the backdoored model and of the model retrained on the purified split."""
    row = next((r for r in rows if r["scenario"] == scenario and r["t_star"] == t_star), None)
    if row is None:
        raise ValueError(f"no saved run for {scenario!r} at t* = {t_star}; saved: "
                         f"{sorted({(r['scenario'], r['t_star']) for r in rows})}")
    fig = go.Figure()
    for when, label in (("before", "backdoored"), ("after", "retrained on the purified split")):
        fig.add_trace(go.Bar(x=["clean accuracy", "attack success rate"],
                             y=[100 * row[when]["clean_accuracy"], 100 * row[when]["attack_success_rate"]], name=label))
    ident = row[row["rule"]].get("identification", {})
    fig.update_layout(title=f"{scenario}, t* = {t_star}: target(s) found {row['detection']['targets']}, poisoned "
                      f"rows identified {100 * ident.get('tpr', 0):.0f}%, clean rows misidentified "
                      f"{100 * ident.get('fpr', 0):.1f}%", yaxis_title="%", yaxis_range=[0, 101], height=400,
                      barmode="group")
    return fig
