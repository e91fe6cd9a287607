"""Random defences are attacked with EOT and reported over draws; deterministic ones pass through."""
import pytest
import torch

import snnlab
from snnlab import purifiers
from snnlab.attacks import stochastic
from snnlab.purifiers.consistency import ConsistencyConfig, ConsistencyPurifier


@pytest.fixture(scope="module")
def defences():
    defense = snnlab.load_pretrained("digits")
    model = ConsistencyPurifier(ConsistencyConfig()).eval()  # untrained: random, and wrong often enough
    return defense, purifiers.defense_with(defense, model)


@pytest.fixture(scope="module")
def data():
    images, labels = snnlab.load_dataset("digits", "test", limit=24)
    return images, labels


def test_a_deterministic_defence_is_judged_once(defences, data):
    defense, _ = defences
    assert not stochastic.is_random(defense)
    report = stochastic.draws(defense, *data, k=5)
    for metric in ("accuracy", "correct_or_flagged"):
        r = report[metric]
        assert len(r["draws"]) == 1 and r["std"] == 0 and r["worst"] == r["mean"] == r["every_draw"]
    assert stochastic.eot_attack(defense, 0.1).eot == 1


def test_a_random_defence_is_judged_over_draws(defences, data):
    _, random_defense = defences
    assert stochastic.is_random(random_defense)
    r = stochastic.draws(random_defense, *data, k=4)["accuracy"]
    assert len(r["draws"]) == 4 and r["every_draw"] <= r["worst"] <= r["mean"]
    assert stochastic.draws(random_defense, *data, k=4) == stochastic.draws(random_defense, *data, k=4)  # seeded
    assert stochastic.eot_attack(random_defense, 0.1, eot=7).eot == 7
    with pytest.raises(ValueError, match="k must be at least 1"):
        stochastic.draws(random_defense, *data, k=0)


def test_fixed_noise_makes_the_defence_deterministic_and_restores_it(defences, data):
    _, random_defense = defences
    images, _ = data
    with stochastic.fixed_noise(random_defense, 3):
        assert not stochastic.is_random(random_defense)
        with torch.no_grad():
            assert torch.equal(random_defense(images), random_defense(images))
    assert random_defense.purifier.noise_seed is None and stochastic.is_random(random_defense)


def test_eot_sweep_and_fixed_randomness_report_their_settings(defences, data):
    _, random_defense = defences
    images, labels = data[0][:8], data[1][:8]
    rows = stochastic.eot_sweep(random_defense, images, labels, 0.2, eots=(1, 2), steps=(2,), k=2)
    assert [(r["eot"], r["steps"]) for r in rows] == [(1, 2), (2, 2)]
    assert all(0 <= r["accuracy"]["mean"] <= 1 for r in rows)
    fixed = stochastic.fixed_randomness(random_defense, images, labels, 0.2, steps=2, k=2)
    assert len(fixed["same_draw"]["accuracy"]["draws"]) == 1 and len(fixed["fresh_draws"]["accuracy"]["draws"]) == 2
    assert random_defense.purifier.noise_seed is None


def test_worst_case_over_attacks_picks_per_image_on_separate_draws(defences, data):
    defense, random_defense = defences
    images, labels = data
    noise = (images + 0.3 * torch.rand_like(images)).clamp(0, 1)
    for target in (defense, random_defense):
        report = stochastic.worst_case(target, {"clean": images, "noisy": noise}, labels, k=3)
        alone = [stochastic.draws(target, x, labels, 3, seed=2)["accuracy"]["mean"] for x in (images, noise)]
        assert sum(report["chosen"].values()) == len(labels)
        if not stochastic.is_random(target):  # deterministic: exactly the per-image worst case
            assert report["accuracy"]["mean"] <= min(alone) + 1e-9
        assert report["adversarial"].shape == images.shape
        again = stochastic.draws(target, report["adversarial"], labels, 3, seed=1)  # reported on fresh draws
        assert report["accuracy"] == again["accuracy"]
