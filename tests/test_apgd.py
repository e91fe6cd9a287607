import pytest
import torch
import torchattacks

from snnlab.attacks.apgd import APGD, checkpoints
from snnlab.attacks.objectives import classification_loss, dlr_loss, smooth_score, targeted_dlr_loss


def _acc(model, adv, y):
    with torch.no_grad():
        return (model(adv).argmax(1) == y).float().mean().item()


def test_checkpoints_follow_croce_and_hein():
    # p_j = 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99 of the iterations (AutoAttack, Sec. 3.2)
    assert checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    assert checkpoints(1) == [1]


def test_dlr_losses_by_hand():
    logits = torch.tensor([[3.0, 1.0, 0.0, -1.0], [0.0, 2.0, 1.0, -1.0]])
    labels = torch.tensor([0, 0])
    # image 0: true is top: -(3 - 1) / (3 - 0); image 1: -(0 - 2) / (2 - 0)
    assert torch.allclose(dlr_loss(logits, labels), torch.tensor([-2 / 3, 1.0]))
    # targeted towards class 2: -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)
    expected = torch.tensor([-(3 - 0) / (3 - (0 - 1) / 2), -(0 - 1) / (2 - (0 - 1) / 2)])
    assert torch.allclose(targeted_dlr_loss(logits, labels, torch.tensor([2, 2])), expected)
    with pytest.raises(ValueError, match="unknown loss"):
        classification_loss("hinge", logits, labels)
    with pytest.raises(ValueError, match="target"):
        classification_loss("dlr-targeted", logits, labels)


def test_smooth_score_is_zero_exactly_under_the_aim():
    x = torch.zeros(2, 1, 2, 2)
    p = torch.tensor([0.05, 0.0, 0.0, 0.0, 0.3, 0.2, 0.0, 0.0]).view(2, 1, 2, 2)
    hinge = smooth_score(x, p, aim=0.1)
    assert hinge[0] == 0 and torch.isclose(hinge[1], torch.tensor(0.3))  # (0.3 - 0.1) + (0.2 - 0.1)
    soft = smooth_score(x, p, aim=0.0, kind="softmax", temperature=0.001)
    assert torch.allclose(soft, torch.tensor([0.05, 0.3]), atol=2e-3)


@pytest.mark.parametrize("loss", ["ce", "dlr"])
def test_apgd_is_at_least_as_strong_as_torchattacks_apgd(pretrained, digits_test, loss):
    classifier = pretrained[0].classifier
    x, y = digits_test[0][:100], digits_test[1][:100]
    ours = APGD(classifier, eps=0.1, steps=20, loss=loss)(x, y)
    assert (ours - x).abs().max() <= 0.1 + 1e-6 and ours.min() >= 0 and ours.max() <= 1
    theirs = torchattacks.APGD(classifier, norm="Linf", eps=0.1, steps=20, loss=loss, seed=0)(x, y)
    assert _acc(classifier, ours, y) <= _acc(classifier, theirs, y)


@pytest.mark.parametrize("loss", ["ce", "dlr", "dlr-targeted"])
def test_apgd_drives_the_classifier_to_near_zero_at_large_eps(pretrained, digits_test, loss):
    classifier = pretrained[0].classifier
    x, y = digits_test[0][:48], digits_test[1][:48]
    assert _acc(classifier, APGD(classifier, eps=0.3, steps=20, loss=loss)(x, y), y) <= 0.05


def test_apgd_on_the_defence_with_the_detector_penalty(pretrained, digits_test):
    defense, _ = pretrained
    x, y = digits_test[0][:48], digits_test[1][:48]
    plain = APGD(defense, eps=0.1, steps=20)(x, y)
    evading = APGD(defense, eps=0.1, steps=20, detector_penalty=10.0)(x, y)
    out_plain, out_evading = defense.defend(plain), defense.defend(evading)
    cof = lambda out: ((out.logits.argmax(1) == y) | out.flags).float().mean().item()  # noqa: E731
    assert cof(out_evading) <= cof(out_plain)


def test_apgd_restarts_run_only_on_unbroken_images_and_never_weaken(pretrained, digits_test):
    classifier = pretrained[0].classifier
    x, y = digits_test[0][:48], digits_test[1][:48]
    one = _acc(classifier, APGD(classifier, eps=0.05, steps=10)(x, y), y)
    two = _acc(classifier, APGD(classifier, eps=0.05, steps=10, restarts=2)(x, y), y)
    assert two <= one


def test_bad_apgd_arguments(pretrained):
    classifier = pretrained[0].classifier
    with pytest.raises(ValueError, match="unknown loss"):
        APGD(classifier, loss="cw")
    with pytest.raises(ValueError, match="detector"):
        APGD(classifier, detector_penalty=1.0)
    with pytest.raises(ValueError, match="labels"):
        APGD(classifier)(torch.rand(4, 1, 8, 8), torch.zeros(3, dtype=torch.long))


def test_attacks_work_under_no_grad(pretrained, digits_test):
    from snnlab.attacks import AdaptivePGD
    from snnlab.attacks.orthogonal import OrthogonalPGD

    defense, _ = pretrained
    x, y = digits_test[0][:8], digits_test[1][:8]
    with torch.no_grad():
        for attack in (APGD(defense, eps=0.1, steps=2), OrthogonalPGD(defense, eps=0.1, steps=2),
                       AdaptivePGD(defense, eps=0.1, steps=2)):
            assert (attack(x, y) - x).abs().max() <= 0.1 + 1e-6
