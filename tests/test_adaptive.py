import math

import pytest
import torch

from snnlab.attacks import AdaptivePGD, AttackSpec, BPDADefense, run_attack
from snnlab.evaluation.evaluate import defend_batched
from snnlab.models.defense import JointDefense
from snnlab.models.detector import Detector

N = 48


@pytest.fixture(scope="module")
def batch(digits_test):
    return digits_test[0][:N], digits_test[1][:N]


def _acc(defense, adv, y):
    logits, flags, _, _ = defend_batched(defense, adv)
    correct = logits.argmax(1) == y
    return correct.float().mean().item(), (correct | flags).float().mean().item()


@pytest.mark.parametrize("purifier,gate", [("surrogate", "hard"), ("identity", "smooth"), ("identity", "hard")])
def test_bpda_forward_is_the_real_defence(pretrained, batch, purifier, gate):
    defense, _ = pretrained
    x, _ = batch
    with torch.no_grad():
        logits, scores = BPDADefense(defense, purifier, gate)(x)
        out = defense.defend(x)
    assert torch.allclose(logits, out.logits, atol=1e-5)
    assert torch.allclose(scores, out.scores)


def test_bad_bpda_options(pretrained):
    with pytest.raises(ValueError):
        BPDADefense(pretrained[0], purifier="magic")
    with pytest.raises(ValueError):
        BPDADefense(pretrained[0], gate="soft")


@pytest.mark.parametrize("options", [dict(), dict(purifier="identity", gate="smooth"), dict(detector_aware=True)])
def test_adaptive_attacks_beat_or_equal_grey_box(pretrained, batch, options):
    defense, _ = pretrained
    x, y = batch
    grey = run_attack(AttackSpec("pgd", 0.2, 20), defense.classifier, x, y)
    adv = AdaptivePGD(defense, eps=0.2, steps=20, **options)(x, y)
    assert (adv - x).abs().max() <= 0.2 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    grey_acc, grey_cof = _acc(defense, grey, y)
    acc, cof = _acc(defense, adv, y)
    assert acc <= grey_acc
    if options.get("detector_aware"):
        assert cof <= grey_cof


def test_apgd_reference_on_the_whole_defence_beats_or_equals_grey_box(pretrained, batch):
    defense, _ = pretrained
    x, y = batch
    grey = run_attack(AttackSpec("pgd", 0.2, 20), defense.classifier, x, y)
    adv = run_attack(AttackSpec("apgd", 0.2, 20), defense, x, y)
    assert (adv - x).abs().max() <= 0.2 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    assert _acc(defense, adv, y)[0] <= _acc(defense, grey, y)[0]


def test_adaptive_pgd_drives_an_undefended_model_to_zero(pretrained, batch):
    defense, _ = pretrained
    x, y = batch
    never_flags = JointDefense(defense.classifier, defense.purifier, Detector(defense.purifier, math.inf))
    adv = AdaptivePGD(never_flags, eps=0.3, steps=20)(x, y)
    assert _acc(never_flags, adv, y)[0] <= 0.05


def test_more_steps_never_help_the_defence(pretrained, batch):
    defense, _ = pretrained
    x, y = batch
    few = _acc(defense, AdaptivePGD(defense, eps=0.1, steps=5)(x, y), y)[0]
    many = _acc(defense, AdaptivePGD(defense, eps=0.1, steps=20)(x, y), y)[0]
    assert many <= few


def test_accuracy_falls_to_zero_as_eps_grows(pretrained, batch):
    defense, _ = pretrained
    x, y = batch
    accs = [_acc(defense, AdaptivePGD(defense, eps=e, steps=20)(x, y), y)[0] for e in (0.05, 0.5)]
    assert accs[1] <= accs[0] and accs[1] <= 0.05


def test_eot_averages_random_encodings(pretrained, batch):
    from snnlab.models.classifier import ClassifierConfig, SpikingResNet

    defense, _ = pretrained
    cfg = ClassifierConfig(**{**defense.classifier.config.__dict__, "encoding": "rate"})
    rate = SpikingResNet(cfg)
    rate.load_state_dict(defense.classifier.state_dict())
    rate_defense = JointDefense(rate.eval(), defense.purifier, defense.detector)
    x, y = batch
    adv = AdaptivePGD(rate_defense, eps=0.2, steps=5, eot=4)(x[:8], y[:8])
    assert adv.shape == x[:8].shape and (adv - x[:8]).abs().max() <= 0.2 + 1e-6


def test_default_step_size_decays_from_half_eps():
    attack = AdaptivePGD(None, eps=0.2, steps=11)
    sizes = [attack.step_size(s) for s in range(11)]
    assert sizes[0] == pytest.approx(0.1) and sizes[-1] == pytest.approx(0.002)
    assert all(a > b for a, b in zip(sizes, sizes[1:]))
    assert AdaptivePGD(None, eps=0.2, steps=11, alpha=0.01).step_size(5) == 0.01
