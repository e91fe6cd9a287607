"""The shipped digits defence meets the figures the lessons and the results page quote (measured on the test split)."""
import pytest
import torch

from snnlab import load_pretrained
from snnlab.evaluation.evaluate import defend_batched


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
    x, y = digits_test
    with torch.no_grad():
        clf_acc = (defense.classifier(x).argmax(1) == y).float().mean().item()
    logits, flags, _, _ = defend_batched(defense, x)
    def_acc = (logits.argmax(1) == y).float().mean().item()
    assert clf_acc >= 0.98
    assert def_acc >= clf_acc - 0.005
    assert flags.float().mean().item() <= 0.02


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
