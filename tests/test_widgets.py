"""Every widget callback, swept across its slider range (as the lessons' sliders call them)."""
import plotly.graph_objects as go
import pytest
import torch

from snnlab import widgets
from snnlab.attacks import AttackSpec, run_attack
from snnlab.neurons import record_spikes


def test_slider_values():
    assert widgets.slider_values("levels").tolist() == [1, 2, 3]
    eps = widgets.slider_values("eps")
    assert eps[0] == 0.0 and eps[-1] == pytest.approx(0.3)


@pytest.mark.parametrize("beta", widgets.slider_values("beta")[::7])
def test_lif_demo_beta(beta):
    assert isinstance(widgets.lif_demo(beta=float(beta)), go.Figure)


@pytest.mark.parametrize("name", ["threshold", "current"])
def test_lif_demo_sweeps(name):
    for v in widgets.slider_values(name):
        fig = widgets.lif_demo(**{name: float(v)})
        assert "spikes" in fig.layout.title.text


def test_lif_spike_count_falls_as_threshold_rises():
    counts = [int(widgets.lif_demo(threshold=float(v), current=0.5).layout.title.text.split("-> ")[1].split()[0])
              for v in widgets.slider_values("threshold")]
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1]


def test_mlf_demo_sweeps():
    for levels in widgets.slider_values("levels"):
        for current in widgets.slider_values("current")[::4]:
            fig = widgets.mlf_demo(current=float(current), levels=int(levels))
            assert isinstance(fig, go.Figure)


def test_attack_demo_sweeps_eps(pretrained, digits_test):
    defense, _ = pretrained
    x, y = digits_test
    for eps in widgets.slider_values("eps"):
        fig = widgets.attack_demo(defense.classifier, x, y, eps=float(eps), index=3, curve={0.0: 1.0, 0.3: 0.0})
        assert len(fig.data) == 4


def test_noise_and_asymmetric_demos(pretrained, digits_test):
    defense, _ = pretrained
    x, y = digits_test
    for eps in widgets.slider_values("eps")[::2]:
        assert isinstance(widgets.noise_demo(defense.classifier, defense.purifier, x, y, eps=float(eps)), go.Figure)
    for alpha in widgets.slider_values("alpha"):
        assert isinstance(widgets.asymmetric_demo(float(alpha)), go.Figure)


def test_purification_demo_sweeps_eps(pretrained, digits_test):
    defense, _ = pretrained
    x, y = digits_test
    for eps in widgets.slider_values("eps")[::2]:
        fig = widgets.purification_demo(defense.classifier, defense.purifier, x, y, eps=float(eps), index=2)
        assert len(fig.data) == 3 and fig.layout.title.text.startswith("label")


def test_threshold_demo_and_stats(pretrained, digits_test):
    defense, _ = pretrained
    x, y = digits_test[0][:64], digits_test[1][:64]
    adv = run_attack(AttackSpec("pgd", 0.2, 10), defense.classifier, x, y)
    sweep = widgets.ThresholdSweep.compute(defense, x, y, adv)
    stats = [widgets.threshold_stats(sweep, float(t)) for t in widgets.slider_values("detector_threshold")]
    fps = [s["false_positive_rate"] for s in stats]
    assert fps == sorted(fps, reverse=True)  # raising the threshold never adds false positives
    assert stats[-1]["detection_rate"] <= stats[0]["detection_rate"]
    for t in widgets.slider_values("detector_threshold")[::5]:
        assert isinstance(widgets.threshold_demo(sweep, float(t)), go.Figure)


def test_threat_model_demo():
    rows = [{"threat_model": tm, "attack": "pgd", "eps": 0.1, "evaluated_on": "defense", "accuracy": a,
             "correct_or_flagged": 1.0} for tm, a in (("grey-box", 0.9), ("adaptive", 0.1))]
    fig = widgets.threat_model_demo(rows, 0.1)
    assert list(fig.data[0].y) == [90.0, 10.0]


def test_precomputed_slider_static_figure():
    from snnlab.viz import precomputed_slider

    fig = precomputed_slider(lambda b: widgets.lif_demo(beta=b), [0.5, 0.9], "beta")
    assert len(fig.layout.sliders[0].steps) == 2
    assert sum(t.visible for t in fig.data) == len(widgets.lif_demo().data)


def test_record_spikes(pretrained, digits_test):
    defense, _ = pretrained
    spikes = record_spikes(defense.classifier, digits_test[0][:2])
    assert "stem_mlf" in spikes and spikes["stem_mlf"].shape[:2] == (4, 2)
    assert spikes["stem_mlf"].max() <= 3 and spikes["stem_mlf"].min() >= 0
    assert not defense.classifier.stem_mlf._forward_hooks


def _fake_sweep():
    from snnlab.attacks.surrogates import sweep_names

    names = sweep_names()
    return {on: {n: {"accuracy": i / len(names), "correct_or_flagged": 0.5 if on == "defense" else None}
                 for i, n in enumerate(names)} for on in ("classifier", "defense")}


def test_surrogate_demo_moves_its_marker_and_title_with_the_choice():
    sweep = _fake_sweep()
    seen = set()
    for shape in widgets.SHAPE_NAMES:
        for width in (0.25, 0.5, 1.0, 2.0, 4.0):
            fig = widgets.surrogate_demo(sweep, shape, width)
            marker = next(t for t in fig.data if t.name == "your choice")
            expected = 100 * sweep["classifier"][f"{shape}-{width:g}"]["accuracy"]
            assert marker.x == (width,) and marker.y[0] == pytest.approx(expected)
            seen.add(fig.layout.title.text)
    assert len(seen) == 25  # a different title at every setting
    with pytest.raises(ValueError, match="no sweep result"):
        widgets.surrogate_demo(sweep, "rect", 3.0)


def _step_layouts(fig):
    return [step["args"][1] for step in fig.layout.sliders[0].steps]


@pytest.mark.parametrize("demo", ["attack", "purification", "threshold"])
def test_static_sliders_move_their_labels_and_marker_lines(pretrained, digits_test, demo):
    """The book's sliders (no kernel): per-panel labels, titles and marker lines change with the step."""
    from snnlab.viz import precomputed_slider

    defense, _ = pretrained
    x, y = digits_test
    if demo == "attack":
        fig = precomputed_slider(lambda e: widgets.attack_demo(defense.classifier, x, y, e, 0,
                                                               curve={0.0: 1.0, 0.3: 0.0}), [0.0, 0.3], "eps")
        changing = "annotations"
    elif demo == "purification":
        fig = precomputed_slider(lambda e: widgets.purification_demo(defense.classifier, defense.purifier, x, y, e, 2),
                                 [0.0, 0.3], "eps")
        changing = "annotations"
    else:
        adv = run_attack(AttackSpec("pgd", 0.1, 5), defense.classifier, x[:64], y[:64])
        sweep = widgets.ThresholdSweep.compute(defense, x[:64], y[:64], adv)
        fig = precomputed_slider(lambda t: widgets.threshold_demo(sweep, t), [0.05, 0.3], "threshold")
        changing = "shapes"
    first, last = _step_layouts(fig)
    assert first["title.text"] != last["title.text"]
    assert first[changing] and first[changing] != last[changing]


def test_lesson_7_and_8_demos_from_the_saved_results(pretrained, digits_test):
    """The saved-result demos over every slider value, and one clear error for a value never saved."""
    from snnlab import poisoning, results

    family, poison = results.load("purifiers.json"), results.load("poisoning.json")
    sweep = next(r["eot_sweep"] for r in family["rows"] if "eot_sweep" in r)
    for eot in sorted({r["eot"] for r in sweep}):
        assert f"EOT {eot}:" in widgets.eot_demo(sweep, eot).layout.title.text
    for sigma in sorted({c["sigma"] for c in family["certified"]}):
        fig = widgets.certified_demo(family["certified"], sigma)
        assert len(fig.data) == sum(c["sigma"] == sigma for c in family["certified"])
    titles = {widgets.t_star_demo(poison["round_trip_curve"], c["t_star"]).layout.title.text
              for c in poison["round_trip_curve"]}
    assert len(titles) == len(poison["round_trip_curve"])
    for r in poison["rows"]:
        fig = widgets.poisoning_demo(poison["rows"], r["scenario"], r["t_star"])
        assert [b.y[1] for b in fig.data] == [100 * r["before"]["attack_success_rate"],
                                             100 * r["after"]["attack_success_rate"]]
    for bad in (lambda: widgets.eot_demo(sweep, 3), lambda: widgets.certified_demo(family["certified"], 0.3),
                lambda: widgets.t_star_demo(poison["round_trip_curve"], 7),
                lambda: widgets.poisoning_demo(poison["rows"], "sticker", 10)):
        with pytest.raises(ValueError, match="saved|the sweep has"):
            bad()
    defense, _ = pretrained
    x, y = digits_test
    fig = widgets.trigger_demo(defense.classifier, x, y, poisoning.Trigger(), 0)
    assert "with the badnets trigger" in "".join(a.text for a in fig.layout.annotations)
