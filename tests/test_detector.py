import math

import pytest
import torch

from snnlab.models.detector import Detector, auroc, detection_threshold, linf_score, roc


def test_linf_score():
    x = torch.zeros(2, 1, 2, 2)
    p = x.clone()
    p[0, 0, 1, 1] = 0.4
    p[1, 0, 0, 0] = -0.1
    assert linf_score(x, p).tolist() == pytest.approx([0.4, 0.1])


@pytest.mark.parametrize("fpr", [0.0, 0.01, 0.05, 0.2])
def test_threshold_keeps_false_positives_at_most_fpr(fpr):
    scores = torch.rand(359, generator=torch.Generator().manual_seed(1))
    threshold = detection_threshold(scores, fpr)
    assert (scores > threshold).float().mean() <= fpr
    # and it is the tightest such threshold: the next lower score would exceed fpr
    lower = scores[scores < threshold].max()
    assert (scores > lower).float().mean() > fpr or fpr == 0.0


def test_threshold_bad_input():
    with pytest.raises(ValueError):
        detection_threshold(torch.rand(10), 1.5)
    with pytest.raises(ValueError):
        detection_threshold(torch.tensor([]), 0.01)


def test_auroc_and_roc():
    assert auroc(torch.tensor([0.1, 0.2]), torch.tensor([0.3, 0.4])) == 1.0
    assert auroc(torch.tensor([0.3, 0.4]), torch.tensor([0.1, 0.2])) == 0.0
    assert auroc(torch.tensor([0.1, 0.3]), torch.tensor([0.2, 0.4])) == 0.75
    fpr, tpr, _ = roc(torch.tensor([0.1, 0.3]), torch.tensor([0.2, 0.4]))
    assert fpr[-1] == 1.0 and tpr[-1] == 1.0
    with pytest.raises(ValueError):
        auroc(torch.tensor([]), torch.tensor([0.1]))


class Shift(torch.nn.Module):
    """A stand-in purifier that moves every pixel towards 0.5 by up to 0.2."""

    def forward(self, x):
        return x + (0.5 - x).clamp(-0.2, 0.2)


def test_detector_flags_and_calibration():
    det = Detector(Shift())
    assert math.isinf(det.threshold) and not det.flags(torch.zeros(1, 1, 2, 2)).any()
    clean = torch.full((10, 1, 2, 2), 0.45)  # score 0.05
    det.calibrate(clean, fpr=0.0)
    assert det.threshold == pytest.approx(0.05) and det.fpr == 0.0
    assert det.flags(torch.zeros(1, 1, 2, 2)).item()  # score 0.2
