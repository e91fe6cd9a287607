"""The shipped digits and Fashion-MNIST defences meet the figures the lessons and the results page quote
(measured on the test split)."""
import pytest
import torch

from snnlab import load_pretrained
from snnlab.evaluation.evaluate import defend_batched


def clean_figures(defense, x, y):
    """On clean images ``x`` (N, C, H, W): the classifier's accuracy, the joint defence's, and the share flagged."""
    with torch.no_grad():
        clf_acc = (defense.classifier(x).argmax(1) == y).float().mean().item()
    logits, flags, _, _ = defend_batched(defense, x)
    return clf_acc, (logits.argmax(1) == y).float().mean().item(), flags.float().mean().item()


def test_interface(pretrained):
    defense, substitute = pretrained
    assert isinstance(defense.detector.threshold, float)
    x = torch.rand(3, 1, 8, 8)
    with torch.no_grad():
        assert defense.classifier(x).shape == (3, 10)
        assert defense.purifier(x).shape == (3, 1, 8, 8)
        assert defense.detector.score(x).shape == (3,)
        assert defense.detector.flags(x).dtype == torch.bool
        assert defense(x).shape == (3, 10)
        assert substitute(x).shape == (3, 10)


def test_clean_accuracy_and_false_positives(pretrained, digits_test):
    defense, _ = pretrained
    clf_acc, def_acc, flagged = clean_figures(defense, *digits_test)
    assert clf_acc >= 0.98
    assert def_acc >= clf_acc - 0.005
    assert flagged <= 0.02


def test_unknown_pretrained_name():
    with pytest.raises(ValueError, match="no pretrained checkpoints for 'cifar10'"):
        load_pretrained("cifar10")


@pytest.mark.parametrize("bad", [torch.rand(1, 8, 8), torch.rand(1, 1, 8, 8) * 3, torch.rand(1, 3, 8, 8)])
def test_bad_input_to_the_defence(pretrained, bad):
    with pytest.raises(ValueError):
        pretrained[0](bad)


def test_load_or_train_reuses_finished_models(tmp_path):
    import os
    import shutil

    from snnlab import load_or_train
    from snnlab.pretrained import PRETRAINED_DIR

    folder = tmp_path / "digits"
    shutil.copytree(os.path.join(PRETRAINED_DIR, "digits"), folder)
    shipped = load_pretrained("digits")
    retrained = load_or_train("digits", retrain=True, out=str(folder))  # finished checkpoints: nothing to train
    assert retrained.detector.threshold == pytest.approx(shipped.detector.threshold)
    for a, b in zip(shipped.purifier.state_dict().values(), retrained.purifier.state_dict().values()):
        assert torch.equal(a, b)
    assert load_or_train("digits").detector.threshold == shipped.detector.threshold


@pytest.fixture(scope="module")
def fashion():
    return load_pretrained("fashion-mnist", with_substitute=True)


def test_fashion_mnist_defence_ships_with_its_interface(fashion):
    defense, substitute = fashion
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        assert defense.classifier(x).shape == (3, 10)
        assert defense.purifier(x).shape == (3, 1, 28, 28)
        assert defense.detector.score(x).shape == (3,)
        assert defense(x).shape == (3, 10)
        assert substitute(x).shape == (3, 10)


@pytest.fixture(scope="module")
def fashion_clean(fashion, fashion_test):
    """:func:`clean_figures` of the shipped Fashion-MNIST defence on the first 1,000 test images."""
    x, y = fashion_test
    return clean_figures(fashion[0], x[:1000], y[:1000])


def test_fashion_mnist_clean_accuracy_and_false_positives(fashion_clean):
    """On the first 1,000 test images: the figures the closing note measured on all 10,000 (93.03% for the
    classifier), within the sampling noise of 1,000 images."""
    clf_acc, def_acc, flagged = fashion_clean
    assert clf_acc >= 0.90
    assert def_acc >= clf_acc - 0.01
    assert flagged <= 0.03  # calibrated at 1% on the held-out calibration split


def test_fashion_mnist_noise_trained_baseline_ships_with_its_record(fashion, fashion_test, fashion_clean):
    """The Gaussian-noise baseline (sigma 0.1) loads from the package, checked against its manifest; its record
    names the run; on the first 1,000 test images noise training costs at most 5 points of clean accuracy
    against the shipped classifier (measured: 90.5% against the classifier's figure of the test above)."""
    from snnlab.attacks.core import predict_batched
    from snnlab.evaluation.smoothing import load_noise_classifier, noise_run

    record = noise_run(0.1, "fashion-mnist")
    assert record["sigma"] == 0.1 and record["epochs"] == 15 and record["dataset"] == "fashion-mnist"
    assert record["train_seconds"] > 0
    noisy = load_noise_classifier(0.1, "fashion-mnist", device="cpu")
    x, y = fashion_test[0][:1000], fashion_test[1][:1000]
    with torch.no_grad():
        noisy_acc = (predict_batched(noisy, x).argmax(1) == y).float().mean().item()
    assert noisy_acc >= fashion_clean[0] - 0.05  # the classifier's accuracy on the same 1,000 images
    assert any(not torch.equal(a, b) for a, b in zip(noisy.state_dict().values(),
                                                    fashion[0].classifier.state_dict().values()))


@pytest.mark.parametrize("dataset, image", [("digits", (1, 1, 28, 28)), ("fashion-mnist", (1, 1, 8, 8))])
def test_a_defence_given_another_datasets_images_says_so_in_one_line(dataset, image, pretrained, fashion):
    defense = pretrained[0] if dataset == "digits" else fashion[0]
    with pytest.raises(ValueError) as err:
        defense(torch.rand(*image))
    message = str(err.value)
    assert "\n" not in message and "28" in message and "8" in message
