"""Every widget callback, swept across its slider range (as the lessons' sliders call them); and a widget cell
under the notebook executors: headless, a per-cell timeout, a stalled run retried or failed fast."""
import os
import subprocess
import sys
import time

import plotly.graph_objects as go
import pytest

from snnlab.attacks import AttackSpec, run_attack
from snnlab.course import widgets
from snnlab.models.neurons import record_spikes


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
    from snnlab.course.viz import precomputed_slider

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
    from snnlab.attacks.surrogate_sweep import sweep_names

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
    from snnlab.course.viz import precomputed_slider

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


# ----- executing a notebook never waits on a widget: headless interact, a per-cell timeout, one retry

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)
sys.path.insert(0, os.path.join(ROOT, "book"))
import build_course  # noqa: E402


class _Drawn:
    """What a demo returns, minus plotly: ``show`` records the values it was drawn at."""

    shown = []

    def __init__(self, **values):
        self.values = values

    def show(self):
        _Drawn.shown.append(self.values)


def test_headless_interact_draws_once_at_the_sliders_starting_values(monkeypatch):
    sliders = dict(beta="beta", index=(0, 19, 1), name=["snn", "masking"])
    monkeypatch.setenv("SNNLAB_HEADLESS", "0")  # a live notebook: real ipywidgets
    live = widgets.interact(lambda **kw: _Drawn(**kw), **sliders)
    started = dict(live.widget.kwargs)  # the values ipywidgets called the demo with
    _Drawn.shown.clear()
    monkeypatch.setenv("SNNLAB_HEADLESS", "1")
    assert widgets.interact(lambda **kw: _Drawn(**kw), **sliders) is None  # no widget made
    assert _Drawn.shown == [started] == [widgets.slider_defaults(**sliders)]
    assert started == {"beta": pytest.approx(0.745), "index": 0, "name": "snn"}


def test_the_executors_share_one_cell_timeout_of_minutes():
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        addopts = next(line for line in f if line.startswith("addopts"))
    assert f"--nbval-cell-timeout={build_course.CELL_TIMEOUT}" in addopts  # nbval, as the course builds
    assert 60 <= build_course.CELL_TIMEOUT <= 600
    assert build_course.kernel_env()["SNNLAB_HEADLESS"] == "1"
    assert os.environ.get("SNNLAB_HEADLESS") == "1"  # conftest.py: nbval's kernels inherit it


def _widget_notebook(tmp_path, body: str) -> str:
    """A one-cell notebook whose widget callback runs ``body`` (with ``marker``, a file path, in scope)."""
    import nbformat

    marker = tmp_path / "marker"
    source = (f"import pathlib, time\nfrom snnlab.course import widgets\nmarker = pathlib.Path({str(marker)!r})\n\n"
              f"class Drawn:\n    def __init__(self, eps):\n        self.eps = eps\n\n"
              f"    def show(self):\n        print('drawn at eps', self.eps)\n\n\n"
              f"def demo(eps):\n" + "".join(f"    {line}\n" for line in body.splitlines()) +
              "    return Drawn(eps)\n\n\nwidgets.interact(demo, eps='eps');\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "stall.ipynb"
    nbformat.write(nb, str(path))
    return str(path)


def _outputs(path):
    import nbformat

    return nbformat.read(path, as_version=4).cells[0].outputs


def test_a_widget_cell_runs_its_demo_without_a_front_end(tmp_path, monkeypatch):
    monkeypatch.delenv("SNNLAB_HEADLESS")  # the executor sets it for its kernel by itself
    path = _widget_notebook(tmp_path, "pass")
    assert build_course.execute(path, timeout=60) == []
    outputs = _outputs(path)
    assert [o.get("text") for o in outputs] == ["drawn at eps 0.15\n"]  # the demo, once, at the slider's start
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)


def test_a_widget_cell_that_stalls_once_is_run_again_and_recovers(tmp_path, capsys):
    path = _widget_notebook(tmp_path, "if not marker.exists():\n    marker.write_text('stalled')\n    time.sleep(600)")
    start = time.perf_counter()
    assert build_course.execute(path, timeout=8, retries=1) == []
    assert time.perf_counter() - start < 120  # not the 600 s the cell would have slept
    assert (tmp_path / "marker").read_text() == "stalled"  # the first attempt did stall
    assert "stall.ipynb, cell 0: no reply within 8 s (attempt 1 of 2)" in capsys.readouterr().err
    assert [o.get("text") for o in _outputs(path)] == ["drawn at eps 0.15\n"]


def test_a_widget_cell_that_always_stalls_fails_fast_naming_the_cell(tmp_path):
    path = _widget_notebook(tmp_path, "time.sleep(600)")
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"stall.ipynb, cell 0: no reply within 5 s \(attempt 2 of 2\)"):
        build_course.execute(path, timeout=5, retries=1)
    assert time.perf_counter() - start < 120


def test_nbval_fails_a_stalled_widget_cell_at_its_timeout(tmp_path):
    path = _widget_notebook(tmp_path, "time.sleep(600)")
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                          "-c", os.devnull, "--nbval-lax", "--nbval-cell-timeout=5", path],
                         capture_output=True, text=True, timeout=300, cwd=str(tmp_path),
                         env={**os.environ, "SNNLAB_HEADLESS": "1"})
    assert run.returncode == 1, run.stdout[-2000:]
    assert "Timeout of 5 seconds exceeded" in run.stdout
    assert time.perf_counter() - start < 120
