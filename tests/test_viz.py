import plotly.graph_objects as go
import torch

from snnlab.course import viz


def test_figures_are_plotly_figures():
    imgs = torch.rand(3, 1, 8, 8)
    assert isinstance(viz.image_rows({"clean": imgs, "perturbation": imgs - 0.5}, titles=list("abc")), go.Figure)
    assert isinstance(viz.image_rows({"rgb": torch.rand(2, 3, 8, 8)}), go.Figure)
    rows = [{"threat_model": "grey-box", "attack": "pgd", "eps": e, "evaluated_on": "defense",
             "accuracy": 0.9, "correct_or_flagged": 1.0} for e in (0.1, 0.2)]
    fig = viz.accuracy_vs_eps(rows)
    assert len(fig.data) == 2 and list(fig.data[0].x) == [0.1, 0.2]
    fig = viz.score_histogram(torch.rand(10), {"pgd": torch.rand(10)}, threshold=0.3)
    assert len(fig.data) == 2
    fig = viz.roc_figure({"pgd": ([0, 1], [0, 1], 0.5)})
    assert len(fig.data) == 2


def test_value_grid_places_each_value_in_its_row_and_column():
    fig = viz.value_grid({(2, 10): 0.009, (2, 5): 1.0, (1, 5): 0.5}, "ASR after", "size", "t*")
    heat = fig.data[0]
    assert list(heat.y) == ["1", "2"] and list(heat.x) == ["5", "10"]
    assert heat.z[1][0] == 100.0 and abs(heat.z[1][1] - 0.9) < 1e-9 and heat.z[0][1] is None  # (1, 10) was not measured
    assert heat.text[0][0] == "50.0" and heat.text[0][1] == ""
