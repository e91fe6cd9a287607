import pytest
import torch

from snnlab.models.defense import JointDefense
from snnlab.models.detector import Detector


class Half(torch.nn.Module):
    """Stand-in purifier: x / 2 (score = max(x) / 2)."""

    def forward(self, x):
        return x / 2


class Sum(torch.nn.Module):
    """Stand-in classifier whose logits record the total intensity it saw."""

    def forward(self, x):
        s = x.flatten(1).sum(1, keepdim=True)
        return torch.cat([s, -s], 1)


def test_flagged_inputs_see_purified_image_others_pass_unchanged():
    purifier = Half()
    defense = JointDefense(Sum(), purifier, Detector(purifier, threshold=0.3))
    x = torch.stack([torch.full((1, 2, 2), 0.2), torch.full((1, 2, 2), 0.8)])  # scores 0.1 and 0.4
    out = defense.defend(x)
    assert out.flags.tolist() == [False, True]
    assert out.logits[:, 0].tolist() == pytest.approx([0.8, 1.6])  # 4*0.2 unchanged; 4*0.8/2 purified
    assert out.scores.tolist() == pytest.approx([0.1, 0.4])
    assert torch.equal(defense(x), out.logits)
    assert defense.last_flags.tolist() == [False, True]
    assert defense.threshold == 0.3


def test_float_threshold_and_gradients():
    defense = JointDefense(Sum(), Half(), 0.3)
    x = torch.full((1, 1, 2, 2), 0.8, requires_grad=True)
    defense(x)[:, 0].sum().backward()
    assert torch.allclose(x.grad, torch.full_like(x, 0.5))  # through the purifier


def test_bad_input_is_rejected():


    defense = JointDefense(Sum(), Half(), 0.3)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        defense(torch.full((1, 1, 2, 2), 2.0))
