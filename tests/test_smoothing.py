"""Randomized smoothing against cases with known answers."""
import math

import pytest
import torch
from scipy.stats import norm

from snnlab.evaluation import smoothing


class Constant(torch.nn.Module):
    """Always class ``c``: every noisy vote agrees."""

    def __init__(self, c=3, classes=10):
        super().__init__()
        self.c, self.classes = c, classes

    def forward(self, x):
        logits = torch.zeros(len(x), self.classes)
        logits[:, self.c] = 1.0
        return logits


class Coin(torch.nn.Module):
    """Class 0 or 1 by the sign of the first noisy pixel's deviation from 0.5: a 50/50 vote."""

    def forward(self, x):
        logits = torch.zeros(len(x), 10)
        logits[torch.arange(len(x)), (x.flatten(1)[:, 0] > 0.5).long()] = 1.0
        return logits


IMAGE = torch.full((1, 1, 8, 8), 0.5)


@pytest.mark.parametrize("sigma, n, alpha", [(0.25, 1000, 0.001), (0.5, 100, 0.01)])
def test_a_constant_classifier_certifies_the_maximal_radius(sigma, n, alpha):
    cert = smoothing.Smooth(Constant(), 10, sigma).certify(IMAGE, n0=10, n=n, alpha=alpha)
    assert cert.prediction == 3
    assert cert.p_lower == pytest.approx(alpha ** (1 / n))  # Clopper-Pearson with every vote a success
    assert cert.radius == pytest.approx(smoothing.max_radius(sigma, n, alpha))
    assert cert.radius == pytest.approx(sigma * norm.ppf(alpha ** (1 / n)))


def test_the_design_note_figure_for_the_maximal_radius():
    assert smoothing.max_radius(1.0, 1000, 0.001) == pytest.approx(2.46, abs=0.01)


def test_a_coin_flip_abstains_in_both_predict_and_certify():
    smooth = smoothing.Smooth(Coin(), 10, 0.5, seed=1)
    assert smooth.predict(IMAGE, n=1000, alpha=0.001) == smoothing.ABSTAIN
    cert = smooth.certify(IMAGE, n0=100, n=1000, alpha=0.001)
    assert cert.prediction == smoothing.ABSTAIN and cert.radius == 0.0 and cert.p_lower < 0.5


def test_predict_returns_a_clear_winner():
    assert smoothing.Smooth(Constant(7), 10, 0.5).predict(IMAGE, n=100, alpha=0.001) == 7


def test_counts_are_seeded_and_sum_to_n():
    a = smoothing.Smooth(Coin(), 10, 0.5, batch_size=64, seed=5).counts(IMAGE, 300)
    b = smoothing.Smooth(Coin(), 10, 0.5, batch_size=64, seed=5).counts(IMAGE, 300)
    assert torch.equal(a, b) and int(a.sum()) == 300


def test_certified_accuracy_and_linf_coverage():
    rows = [{"correct": True, "radius": 0.3}, {"correct": True, "radius": 0.9}, {"correct": False, "radius": 0.0},
            {"correct": False, "radius": 1.2}]
    assert smoothing.certified_accuracy(rows, [0.0, 0.5, 1.0]) == {0.0: 0.5, 0.5: 0.25, 1.0: 0.0}
    assert smoothing.linf_covered(0.8, 64) == pytest.approx(0.1)  # 8x8 digits: R = 0.8 covers eps 0.1
    rows = smoothing.certify_dataset(Constant(2), torch.full((3, 1, 8, 8), 0.5), torch.tensor([2, 2, 5]), 0.25,
                                     n0=10, n=100)
    assert [r["correct"] for r in rows] == [True, True, False]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="sigma must be positive"):
        smoothing.Smooth(Constant(), 10, 0.0)
    with pytest.raises(ValueError, match="one image at a time"):
        smoothing.Smooth(Constant(), 10, 0.5).counts(torch.full((2, 1, 8, 8), 0.5), 10)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        smoothing.Smooth(Constant(), 10, 0.5).counts(torch.full((1, 1, 8, 8), 2.0), 10)
    with pytest.raises(ValueError, match="no certification results"):
        smoothing.certified_accuracy([], [0.0])
    assert math.isfinite(smoothing.lower_confidence_bound(0, 10, 0.01))


def test_noise_training_is_seeded_and_refuses_bad_settings():
    """Gaussian-noise training draws its noise from the seeded generator: same seed, same weights;
    the noise changes what is learned."""
    import snnlab
    from snnlab.training.trainers import ClassifierTraining, train_classifier

    data = snnlab.load_dataset("digits", "train", limit=64)

    def weights(sigma, seed=0):
        model = train_classifier(settings=ClassifierTraining(epochs=1, seed=seed, noise_sigma=sigma), progress=False,
                                 data=data)
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    noisy = weights(0.5)
    assert torch.equal(noisy, weights(0.5))
    assert not torch.allclose(noisy, weights(0.0))
    for bad in (ClassifierTraining(noise_sigma=-0.1), ClassifierTraining(noise_sigma=0.25, adversarial="pgd")):
        with pytest.raises(ValueError, match="noise_sigma"):
            train_classifier(settings=bad, progress=False, data=data)


def test_the_shipped_noise_trained_classifiers_beat_the_plain_one_under_their_noise():
    """The point of Gaussian-noise training (Cohen et al.): the base classifier stays accurate on noisy
    copies, which is what randomized smoothing votes with."""
    import snnlab

    plain = snnlab.load_pretrained("digits").classifier
    images, labels = snnlab.load_dataset("digits", "test", limit=200)
    for sigma in (0.25, 0.5):
        model = smoothing.load_noise_classifier(sigma)
        assert not model.training and smoothing.noise_run(sigma)["seed"] == 0
        noisy = (images + sigma * torch.randn(images.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
        with torch.no_grad():
            ours, theirs = [(m(noisy).argmax(1) == labels).float().mean().item() for m in (model, plain)]
        assert ours > theirs + 0.1, (sigma, ours, theirs)


def test_noise_training_from_the_cli_into_a_folder(tmp_path, capsys):
    import json

    from snnlab.cli import main
    from snnlab.runs.checkpoints import CheckpointError

    out = tmp_path / "models"
    assert main(["train-noise", "0.5", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    manifest = json.loads((out / "smoothing" / "manifest.json").read_text())
    assert manifest["runs"]["noise-sigma0.5"]["sigma"] == 0.5
    assert not smoothing.load_noise_classifier(0.5, folder=str(out)).training
    assert main(["train-noise", "0.5", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "smoothing" / "manifest.json").read_text()) == manifest  # finished: kept as is
    capsys.readouterr()
    assert main(["train-noise", "0.5", "--seed", "2", "--out", str(out), "--quiet"]) == 2
    assert "seed 0 here, 2 asked" in capsys.readouterr().err
    assert main(["train-noise", "0.5", "--epochs", "2", "--out", str(out), "--quiet"]) == 2
    assert "(epochs 1 here, 2 asked)" in capsys.readouterr().err  # a shorter finished run is not a longer one
    with pytest.raises(CheckpointError, match="snnlab train-noise 0.25"):
        smoothing.load_noise_classifier(0.25, folder=str(out))
    (out / "smoothing" / "noise-sigma0.5.pt").write_bytes(b"corrupt")
    with pytest.raises(CheckpointError, match="corrupt"):
        smoothing.load_noise_classifier(0.5, folder=str(out))
    with pytest.raises(SystemExit):
        main(["train-noise", "0"])
    assert "(0, 4]" in capsys.readouterr().err
