import math

import pytest
import torch

from snnlab.attacks import AdaptivePGD
from snnlab.attacks.orthogonal import OrthogonalPGD, remove_component
from snnlab.evaluation.evaluate import defend_batched
from snnlab.models.defense import JointDefense
from snnlab.models.detector import Detector


def _acc_cof(defense, adv, y):
    logits, flags, _, _ = defend_batched(defense, adv)
    correct = logits.argmax(1) == y
    return correct.float().mean().item(), (correct | flags).float().mean().item()


def test_remove_component_leaves_an_orthogonal_vector():
    g, a = torch.randn(5, 1, 8, 8), torch.randn(5, 1, 8, 8)
    r = remove_component(g, a)
    assert torch.allclose((r * a).flatten(1).sum(1), torch.zeros(5), atol=1e-4)
    assert torch.equal(remove_component(g, torch.zeros_like(a)), g)


@pytest.mark.parametrize("selective", [False, True])
def test_orthogonal_pgd_is_at_least_as_strong_as_the_penalty_attack(pretrained, digits_test, selective):
    """Bryniarski et al.'s claim, checked here: 'correct or flagged' no higher than under the penalty attack."""
    defense, _ = pretrained
    x, y = digits_test[0][:64], digits_test[1][:64]
    penalty = AdaptivePGD(defense, eps=0.1, steps=25, detector_aware=True)(x, y)
    orthogonal = OrthogonalPGD(defense, eps=0.1, steps=25, selective=selective)(x, y)
    assert (orthogonal - x).abs().max() <= 0.1 + 1e-6 and orthogonal.min() >= 0 and orthogonal.max() <= 1
    assert _acc_cof(defense, orthogonal, y)[1] <= _acc_cof(defense, penalty, y)[1]


def test_orthogonal_pgd_reaches_near_zero_at_large_eps(pretrained, digits_test):
    defense, _ = pretrained
    x, y = digits_test[0][:48], digits_test[1][:48]
    never_flags = JointDefense(defense.classifier, defense.purifier, Detector(defense.purifier, math.inf))
    assert _acc_cof(never_flags, OrthogonalPGD(never_flags, eps=0.3, steps=20)(x, y), y)[0] <= 0.05
    assert _acc_cof(defense, OrthogonalPGD(defense, eps=0.3, steps=25, surrogate="rect-0.5")(x, y), y)[1] <= 0.05


def test_orthogonal_pgd_needs_a_defence(pretrained):
    with pytest.raises(ValueError, match="joint defence"):
        OrthogonalPGD(pretrained[0].classifier)
    with pytest.raises(ValueError, match="score"):
        OrthogonalPGD(pretrained[0], score="max")
