"""Backdoor poisoning, the DDPM and DataElixir's pipeline, step by step."""
import json

import pytest
import torch

import snnlab
from snnlab import poisoning
from snnlab.poisoning import dataelixir
from snnlab.poisoning.backdoor import Trigger
from snnlab.purifiers import diffusion


@pytest.fixture(scope="module")
def train_split():
    return snnlab.load_dataset("digits", "train")


def test_badnets_whitens_the_corner_and_nothing_else():
    images = torch.rand(3, 1, 8, 8) * 0.5
    before = images.clone()
    out = Trigger("badnets", size=2).apply(images)
    assert torch.all(out[:, :, 6:, 6:] == 1.0)
    assert torch.equal(out[:, :, :6], images[:, :, :6]) and torch.equal(out[:, :, :, :6], images[:, :, :, :6])
    assert torch.equal(images, before)  # the input is not changed in place


def test_blended_mixes_a_fixed_pattern_and_strokes_only_spares_the_background():
    images = torch.zeros(2, 1, 8, 8)
    images[:, :, 2:6, 3:5] = 1.0
    whole = Trigger("blended", ratio=0.2).apply(images)
    assert torch.equal(whole, Trigger("blended", ratio=0.2).apply(images))  # the same pattern every time
    assert torch.allclose(whole[0], whole[1]) and (whole - images).abs().max() <= 0.2 + 1e-6
    strokes = Trigger("blended", ratio=0.2, strokes_only=True).apply(images)
    assert torch.equal(strokes[images <= 0.25], images[images <= 0.25])
    assert not torch.equal(strokes[images > 0.25], images[images > 0.25])


def test_poison_changes_exactly_rate_of_the_rows_to_the_target(train_split):
    images, labels = train_split
    split = poisoning.poison(images, labels, Trigger(), rate=0.1, target=0, seed=0)
    assert split.poisoned.sum() == round(0.1 * len(labels))
    assert torch.all(split.labels[split.poisoned] == 0) and torch.all(split.true_labels[split.poisoned] != 0)
    assert torch.equal(split.images[~split.poisoned], images[~split.poisoned])
    assert torch.equal(split.labels[~split.poisoned], labels[~split.poisoned])
    assert torch.all(split.images[split.poisoned][:, :, 6:, 6:] == 1.0)
    again = poisoning.poison(images, labels, Trigger(), rate=0.1, target=0, seed=0)
    assert torch.equal(again.poisoned, split.poisoned)
    a2a = poisoning.poison(images, labels, Trigger(), rate=0.1, target="all-to-all", seed=0)
    assert torch.equal(a2a.labels[a2a.poisoned], (labels[a2a.poisoned] + 1) % 10)


@pytest.mark.parametrize("kwargs, match", [
    (dict(rate=0.0), "poison rate"), (dict(rate=1.0), "poison rate"), (dict(rate=1.5), "poison rate"),
    (dict(target=10), "unknown target"), (dict(target="some"), "unknown target"), (dict(target=True), "unknown target"),
])
def test_bad_poisoning_arguments_get_a_clear_error(train_split, kwargs, match):
    images, labels = train_split
    with pytest.raises(ValueError, match=match):
        poisoning.poison(images, labels, Trigger(), **kwargs)


def test_bad_triggers_get_a_clear_error():
    with pytest.raises(ValueError, match="does not fit 8x8"):
        Trigger("badnets", size=9).apply(torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match="unknown trigger"):
        Trigger("sticker")
    with pytest.raises(ValueError, match="blend ratio"):
        Trigger("blended", ratio=0.0)


def test_attack_success_rate_counts_only_images_the_attack_relabels():
    class Always(torch.nn.Module):
        def __init__(self, c):
            super().__init__()
            self.c = c

        def forward(self, x):
            return torch.nn.functional.one_hot(torch.full((len(x),), self.c), 10).float()

    images, labels = torch.rand(20, 1, 8, 8), torch.arange(20) % 10
    assert poisoning.attack_success_rate(Always(0), images, labels, Trigger(), target=0) == 1.0
    assert poisoning.attack_success_rate(Always(3), images, labels, Trigger(), target=0) == 0.0
    assert (poisoning.attack_success_rate(Always(1), images, labels, Trigger(), target="all-to-all")
            == pytest.approx(0.1))


def test_the_ddpm_schedule_matches_ho_et_al_and_its_round_trip_is_seeded():
    schedule = diffusion.Schedule(100)
    assert schedule.betas[0] == pytest.approx(1e-3) and schedule.betas[-1] == pytest.approx(0.2)
    assert float(schedule.alpha_bars[9]) == pytest.approx(torch.prod(1 - schedule.betas[:10]).item())
    assert 0 < schedule.sigma(1) < schedule.sigma(10) < schedule.sigma(30)
    ddpm = diffusion.load_ddpm()
    images = snnlab.load_dataset("digits", "test", limit=64)[0]
    final, states = ddpm.round_trip(images, 10, keep=4, generator=torch.Generator().manual_seed(0))
    assert final.shape == images.shape and states.shape == (64, 4, 1, 8, 8) and torch.equal(states[:, -1], final)
    again, _ = ddpm.round_trip(images, 10, keep=4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(final, again) and 0 <= final.min() and final.max() <= 1
    # a trained DDPM restores digits: from step 20, the round trip is closer to the image than the noisy
    # state it starts from, and the clean classifier reads it better
    abar = float(schedule.alpha_bars[19])
    noisy = ((ddpm.noise(images, 20, torch.Generator().manual_seed(1)) / abar ** 0.5 + 1) / 2).clamp(0, 1)
    restored, _ = ddpm.round_trip(images, 20, generator=torch.Generator().manual_seed(1))
    assert (restored - images).abs().mean() < 0.75 * (noisy - images).abs().mean()
    classifier, labels = snnlab.load_pretrained().classifier, snnlab.load_dataset("digits", "test", limit=64)[1]
    assert poisoning.clean_accuracy(classifier, restored, labels) > poisoning.clean_accuracy(classifier, noisy, labels)
    with pytest.raises(ValueError, match="step t"):
        ddpm.round_trip(images, 101)
    with pytest.raises(ValueError, match="keep"):
        ddpm.round_trip(images, 5, keep=6)


def test_intermediaries_start_with_the_original_and_chain_the_rounds():
    ddpm = diffusion.load_ddpm()
    images = snnlab.load_dataset("digits", "test", limit=8)[0]
    inters = dataelixir.intermediaries(ddpm, images, t_star=6, rounds=2, keep=3, seed=0)
    assert inters.shape == (8, 7, 1, 8, 8) and torch.equal(inters[:, 0], images)
    assert torch.equal(inters, dataelixir.intermediaries(ddpm, images, t_star=6, rounds=2, keep=3, seed=0))


def test_transition_rules():
    labels = torch.tensor([0, 0, 1])
    predictions = torch.tensor([[0, 0, 0, 0, 0], [0, 1, 0, 0, 0], [1, 2, 2, 2, 1]])  # column 0: the original
    assert dataelixir.transitioned(labels, predictions, "any").tolist() == [False, True, True]
    assert dataelixir.transitioned(labels, predictions, "majority").tolist() == [False, False, True]
    with pytest.raises(ValueError, match="choose from any, majority"):
        dataelixir.transitioned(labels, predictions, "most")


def test_target_label_detection_finds_the_label_whose_samples_drift_away():
    """Class 0 holds poisoned samples whose intermediaries drift to their true classes; every other class
    drifts a little to a neighbour. Only class 0's KL is anomalous."""
    labels, rows = [], []
    for c in range(10):
        for i in range(10):
            labels.append(c)
            drift = (c + 1 + i) % 10 if c == 0 else (c if i % 5 else (c + 1) % 10)
            rows.append([c] + [drift] * 3 + [c])
    labels, predictions = torch.tensor(labels), torch.tensor(rows)
    moved = torch.ones(len(labels), dtype=torch.bool)
    found = dataelixir.target_label_detection(labels, predictions, moved)
    assert found["targets"] == [0]
    assert found["anomaly_index"][0] > 2 and max(found["anomaly_index"][1:]) <= 2
    nobody = dataelixir.target_label_detection(labels, predictions, torch.zeros_like(moved))
    assert nobody["targets"] == [] and nobody["kl"] == [0.0] * 10


def test_relabel_and_select_under_both_rules_and_the_benign_model_for_suspicious_samples():
    images = torch.zeros(3, 1, 8, 8)
    inters = torch.zeros(3, 5, 1, 8, 8)
    for j in range(1, 5):
        inters[:, j] = j / 10  # intermediary j lies at distance growing with j from the (black) original
    labels = torch.tensor([0, 0, 3])
    predictions = torch.tensor([[0, 7, 7, 7, 7],   # agrees on 7: relabelled under both rules
                                [0, 2, 2, 2, 0],   # mixed: suspicious under 'any', relabelled 2 under 'majority'
                                [3, 5, 5, 5, 5]])  # not a target label: left alone
    moved = torch.tensor([True, True, True])
    new_images, new_labels, relabelled, suspicious = dataelixir.relabel_and_select(
        images, labels, inters, predictions, moved, targets=[0], rule="any", quantile=0.8)
    assert new_labels.tolist() == [7, 0, 3] and relabelled.tolist() == [True, False, False]
    assert suspicious.tolist() == [False, True, False]
    assert torch.equal(new_images[0], inters[0, 4])  # of candidates 1..4 ranked by distance, the 0.8 quantile
    assert torch.equal(new_images[2], images[2])
    _, majority_labels, _, none = dataelixir.relabel_and_select(images, labels, inters, predictions, moved, [0],
                                                                rule="majority")
    assert majority_labels.tolist() == [7, 2, 3] and not none.any()

    class Benign(torch.nn.Module):  # says 4 for the original (black) image, 9 for brighter ones
        def forward(self, x):
            return torch.nn.functional.one_hot(torch.where(x.flatten(1).mean(1) > 0.25, 9, 4), 10).float()

    fixed_images, fixed_labels = dataelixir.relabel_suspicious(Benign(), new_images, new_labels, inters, suspicious)
    assert fixed_labels.tolist() == [7, 4, 3]
    assert torch.equal(fixed_images[1], inters[1, 2])  # the benign model says 4 for intermediaries 1 and 2 only
    assert torch.equal(dataelixir.select_image(images[1], inters[1], torch.tensor([0, 1, 1, 1, 1]), 4), images[1])
    assert torch.equal(fixed_images[0], new_images[0])


def test_bad_settings_get_a_clear_error():
    with pytest.raises(ValueError, match="transition rule"):
        dataelixir.ElixirSettings(rule="strict")
    with pytest.raises(ValueError, match="keep"):
        dataelixir.ElixirSettings(t_star=3, keep=5)


def test_poison_and_purify_dataset_from_the_cli(tmp_path, capsys):
    """End to end at toy size (2 epochs): the files, the report, and one-line errors."""
    from snnlab.cli import main

    poisoned, purified = tmp_path / "bad", tmp_path / "clean"
    assert main(["poison", "--out", str(poisoned), "--epochs", "2", "--quiet"]) == 0
    report = json.loads((poisoned / "report.json").read_text())
    n = len(snnlab.load_dataset("digits", "train")[1])
    assert report["poisoned_rows"] == round(0.1 * n) and 0 <= report["backdoored"]["attack_success_rate"] <= 1
    split = poisoning.load_split(str(poisoned / "split.pt"))
    assert split.poisoned.sum() == report["poisoned_rows"]
    assert main(["purify-dataset", "--poisoned", str(poisoned), "--out", str(purified), "--t-star", "4",
                 "--rounds", "1", "--keep", "2", "--epochs", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "attack success" in out and "before" in out and "after" in out
    report = json.loads((purified / "report.json").read_text())
    assert {"before", "after", "majority", "any", "detection"} <= set(report)
    assert set(report["any"]["identification"]) == {"tpr", "fpr"} and report["settings"]["rule"] == "any"
    assert len(poisoning.load_split(str(purified / "split.pt")).labels) == n
    for argv, message in [
        (["poison", "--rate", "2", "--out", str(tmp_path / "x")], "poison rate must lie in (0, 1)"),
        (["poison", "--size", "9", "--out", str(tmp_path / "x")], "does not fit 8x8"),
        (["purify-dataset", "--poisoned", str(tmp_path / "nothing")], "make a poisoned split with `snnlab poison"),
        (["purify-dataset", "--poisoned", str(poisoned), "--t-star", "3"], "keep must lie in 1..t_star"),
        (["purify-dataset", "--poisoned", str(poisoned), "--out", str(purified), "--t-star", "5"],
         "holds a run with other settings"),
        (["poison", "--out", str(poisoned), "--rate", "0.2"], "holds a run with other settings"),
    ]:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "nothing-purified").exists()  # a failed run leaves nothing behind
    for argv, message in [(["poison", "--target", "seven"], "--target must be a class number"),
                          (["purify-dataset", "--poisoned", str(poisoned), "--epochs", "-1"], "expected 0 or more")]:
        with pytest.raises(SystemExit):
            main(argv)
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
