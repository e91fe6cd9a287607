import pytest
import torch
from torch.nn import functional as F

from snnlab.attacks import SURROGATES, Surrogate, SurrogateModel, attack_surrogate, surrogate
from snnlab.attacks.apgd import APGD
from snnlab.models.neurons import MLF

N = 64


@pytest.fixture(scope="module")
def batch(digits_test):
    return digits_test[0][:N], digits_test[1][:N]


def _forward_and_grad(model, x, y, spec=None):
    x = x.clone().requires_grad_(True)
    with attack_surrogate(model, spec):
        logits = model(x)
    F.cross_entropy(logits, y).backward()
    return logits.detach(), x.grad


@pytest.mark.parametrize("name", list(SURROGATES))
def test_forward_is_bit_identical_under_every_surrogate(pretrained, batch, name):
    defense, _ = pretrained
    x, y = batch
    adv = (x + 0.2 * torch.sign(torch.randn_like(x))).clamp(0, 1)  # flagged inputs too: the purifier runs
    for model in (defense.classifier, defense):
        for images in (x, adv):
            reference, _ = _forward_and_grad(model, images, y)
            logits, grad = _forward_and_grad(model, images, y, name)
            assert torch.equal(logits, reference)
            assert torch.isfinite(grad).all()


def test_the_model_surrogate_reproduces_the_training_backward(pretrained, batch):
    classifier = pretrained[0].classifier
    _, reference = _forward_and_grad(classifier, *batch)
    _, grad = _forward_and_grad(classifier, *batch, "model")
    assert torch.equal(grad, reference)


def test_narrow_rectangle_matches_the_neurons_own_width():
    """The general backward with a rectangle of width 0.5 equals MLF's fused backward at width 0.5."""
    x = torch.randn(4, 8, 16) * 1.5
    fused, general = MLF(width=0.5), MLF()
    general.surrogate = Surrogate("rectangular", 0.5)
    grads = []
    for neuron in (fused, general):
        xi = x.clone().requires_grad_(True)
        (neuron(xi) * torch.arange(16.0)).sum().backward()
        grads.append(xi.grad)
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_surrogates_change_the_gradient(pretrained, batch):
    classifier = pretrained[0].classifier
    _, reference = _forward_and_grad(classifier, *batch)
    for name in ("rect-0.5", "sig-1", "ste", "rate", "hart", "assg"):
        _, grad = _forward_and_grad(classifier, *batch, name)
        assert not torch.allclose(grad, reference), name


def test_rate_gradient_is_the_same_at_every_step():
    neuron = MLF()
    neuron.surrogate = SURROGATES["rate"]
    x = torch.tensor([[0.9], [0.1], [1.3], [-0.5]]).requires_grad_(True)  # (T=4, 1): the neuron fires
    (neuron(x) * torch.tensor([[1.0], [2.0], [3.0], [4.0]])).sum().backward()
    assert torch.allclose(x.grad, torch.full_like(x, 2.5))  # mean of the upstream gradient, where rate > 0
    silent = torch.full((4, 1), -1.0, requires_grad=True)
    neuron(silent).sum().backward()
    assert torch.equal(silent.grad, torch.zeros_like(silent))


def test_cut_temporal_path_keeps_only_local_windows():
    neuron = MLF()
    neuron.surrogate = Surrogate("rectangular", 1.0, temporal=False)
    x = torch.full((3, 1), 0.6, requires_grad=True)  # u = 0.6 at every step (reset after each spike)
    neuron(x).sum().backward()
    # per step: levels whose |u - Vth| < 0.5 -> only level 1 (Vth 0.6); no carry across steps
    assert torch.allclose(x.grad, torch.ones_like(x))


def test_context_restores_and_model_wrapper(pretrained, batch):
    classifier = pretrained[0].classifier
    neurons = [m for m in classifier.modules() if isinstance(m, MLF)]
    with attack_surrogate(classifier, "rect-0.5"):
        assert all(m.surrogate == SURROGATES["rect-0.5"] for m in neurons)
    assert all(m.surrogate is None for m in neurons)
    wrapped = SurrogateModel(classifier, "rate")
    assert torch.equal(wrapped(batch[0]), classifier(batch[0]))
    assert wrapped.config is classifier.config and all(m.surrogate is None for m in neurons)


def test_bad_surrogates_are_named():
    with pytest.raises(ValueError, match="unknown surrogate 'boxcar'"):
        surrogate("boxcar")
    with pytest.raises(ValueError, match="shape"):
        Surrogate("gaussian")
    with pytest.raises(ValueError, match="width"):
        Surrogate(width=0)
    with pytest.raises(ValueError, match="rate"):
        Surrogate(rate=2)


def _acc(model, adv, y):
    with torch.no_grad():
        return (model(adv).argmax(1) == y).float().mean().item()


def test_a_narrow_surrogate_is_at_least_as_strong_as_the_models_own(pretrained, digits_test):
    """The issue's finding, as a check on the undefended classifier: the training surrogate overstates robustness."""
    classifier = pretrained[0].classifier
    x, y = digits_test[0][:100], digits_test[1][:100]
    own = _acc(classifier, APGD(classifier, eps=0.1, steps=25)(x, y), y)
    narrow = _acc(classifier, APGD(classifier, eps=0.1, steps=25, surrogate="rect-0.5")(x, y), y)
    assert narrow <= own


# Not "ste": straight-through passes gradient through silent neurons too and fails this check on the digits
# classifier (documented in snnlab.attacks.surrogates); the ensemble keeps it, no figure relies on it alone.
@pytest.mark.parametrize("name", ["rect-0.25", "rect-2", "tri-1", "sig-1", "exp-1", "atan-1", "rate", "hart", "assg"])
def test_every_surrogate_drives_the_classifier_to_near_zero_at_large_eps(pretrained, batch, name):
    classifier = pretrained[0].classifier
    x, y = batch
    assert _acc(classifier, APGD(classifier, eps=0.3, steps=20, surrogate=name)(x, y), y) <= 0.05


def test_torchattacks_attacks_take_a_surrogate(pretrained, batch):
    from snnlab.attacks import AttackSpec, run_attack

    classifier = pretrained[0].classifier
    x, y = batch
    own = run_attack(AttackSpec("fgsm", 0.1), classifier, x, y)
    narrow = run_attack(AttackSpec("fgsm", 0.1, surrogate="rect-0.5"), classifier, x, y)
    assert not torch.equal(own, narrow)  # a different gradient, so a different step
    assert (narrow - x).abs().max() <= 0.1 + 1e-6
    assert all(m.surrogate is None for m in classifier.modules() if isinstance(m, MLF))
