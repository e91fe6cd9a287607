import pytest
import torch

from snnlab.models.neurons import MLF, MLF_THRESHOLDS, direct_encode, encode, lif_trace, mlf_trace, rate_encode


class _RefSpike(torch.autograd.Function):
    """Reference: a plain autograd Heaviside with the rectangular surrogate of width 1."""

    @staticmethod
    def forward(ctx, shifted):
        ctx.save_for_backward(shifted)
        return (shifted >= 0).float()

    @staticmethod
    def backward(ctx, grad):
        (shifted,) = ctx.saved_tensors
        return grad * (shifted.abs() < 0.5).float()


def reference_mlf(x, tau=0.25):
    """MLF written step by step with autograd (the SYSTEM.md equations), to check the fused version."""
    vth = torch.tensor(MLF_THRESHOLDS).view(-1, *([1] * (x.dim() - 1)))
    u = torch.zeros(3, *x.shape[1:])
    o = torch.zeros_like(u)
    out = []
    for t in range(x.shape[0]):
        u = tau * u * (1 - o) + x[t]
        o = _RefSpike.apply(u - vth)
        out.append(o.sum(0))
    return torch.stack(out)


def test_mlf_matches_reference_forward_and_backward():
    torch.manual_seed(0)
    x = (torch.rand(4, 6, 5) * 3.5 - 0.2).requires_grad_()
    w = torch.randn(4, 6, 5)
    out = MLF()(x)
    (out * w).sum().backward()
    grad = x.grad.clone()
    x.grad = None
    ref = reference_mlf(x)
    (ref * w).sum().backward()
    assert torch.equal(out, ref)
    assert torch.allclose(grad, x.grad, atol=1e-5)
    assert grad.abs().sum() > 0


def test_mlf_output_counts_levels_and_docstring_example():
    assert MLF()(torch.full((4, 1), 1.0)).squeeze(1).tolist() == [1.0, 1.0, 1.0, 1.0]
    # a large input fires all three levels at once
    assert MLF()(torch.full((1, 1), 3.0)).item() == 3.0
    assert MLF()(torch.zeros(4, 3)).sum() == 0


def test_surrogate_windows_tile_the_membrane_axis():
    # one step: u = x, so d out / d x is 1 inside (0.1, 3.1) and 0 outside
    x = torch.tensor([[0.05], [0.15], [1.1001], [2.0], [3.05], [3.2]]).T.contiguous().requires_grad_()
    MLF()(x).sum().backward()
    assert x.grad.squeeze(0).tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]


def test_mlf_is_stateless_between_calls():
    neuron = MLF()
    x = torch.rand(4, 3, 2, 2) * 2
    assert torch.equal(neuron(x), neuron(x))


@pytest.mark.parametrize("thresholds,tau", [((), 0.25), ((1.0, 0.5), 0.25), ((0.6,), 1.5)])
def test_mlf_rejects_bad_parameters(thresholds, tau):
    with pytest.raises(ValueError):
        MLF(thresholds, tau)


def test_encodings():
    images = torch.rand(2, 1, 3, 3)
    assert direct_encode(images, 4).shape == (4, 2, 1, 3, 3)
    assert torch.equal(direct_encode(images, 4)[2], images)
    images.requires_grad_()
    spikes = rate_encode(images, 50, generator=torch.Generator().manual_seed(0))
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    spikes.sum().backward()  # straight-through: d/dx = T
    assert torch.allclose(images.grad, torch.full_like(images, 50.0))
    with pytest.raises(ValueError, match="unknown encoding"):
        encode(images, 4, "latency")


def test_rate_encoding_follows_pixel_intensity():
    images = torch.tensor([0.1, 0.9]).view(2, 1, 1, 1)
    rate = rate_encode(images, 2000, generator=torch.Generator().manual_seed(0)).mean(0).flatten()
    assert abs(rate[0] - 0.1) < 0.03 and abs(rate[1] - 0.9) < 0.03


def test_lif_trace_uses_snntorch_and_resets_between_calls():
    current = torch.full((20,), 0.3)
    mem1, spk1 = lif_trace(current, beta=0.9, threshold=1.0)
    mem2, spk2 = lif_trace(current, beta=0.9, threshold=1.0)
    assert torch.equal(mem1, mem2) and torch.equal(spk1, spk2)
    assert spk1.sum() > 0  # 0.3 per step charges past 1.0
    assert lif_trace(torch.full((20,), 0.05), beta=0.9)[1].sum() == 0  # settles at 0.5, never fires
    with pytest.raises(ValueError):
        lif_trace(current, reset="sometimes")


def test_mlf_trace_per_level():
    mems, spikes = mlf_trace(torch.full((6,), 1.0), levels=3)
    assert mems.shape == spikes.shape == (6, 3)
    assert spikes[:, 0].sum() == 6 and spikes[:, 1:].sum() == 0
    with pytest.raises(ValueError):
        mlf_trace(torch.ones(3), levels=4)


# --- the fused kernels: nothing changes but time ----------------------------------------------

from snnlab.models import neurons  # noqa: E402


@pytest.fixture
def eager_backend():
    """Run a block under the eager implementation, restoring 'auto' after."""
    def run(fn):
        neurons.set_backend("eager")
        try:
            return fn()
        finally:
            neurons.set_backend("auto")
    return run


def _forward_backward(neuron, x, w):
    x = x.clone().requires_grad_()
    out = neuron(x)
    (out * w).sum().backward()
    return out.detach(), x.grad


@pytest.mark.parametrize("thresholds, width", [(MLF_THRESHOLDS, 1.0), (MLF_THRESHOLDS, 0.5), ((0.6,), 1.0),
                                               ((0.3, 0.9), 0.75)])
def test_fused_mlf_is_bit_identical_to_eager(eager_backend, thresholds, width):
    torch.manual_seed(0)
    x = torch.rand(4, 64, 8, 8, 10) * 3.5 - 0.2  # 163,840 elements: above FUSED_MIN_NUMEL
    assert x.numel() >= neurons.FUSED_MIN_NUMEL
    w = torch.randn_like(x)
    neuron = MLF(thresholds, width=width)
    fused = _forward_backward(neuron, x, w)
    assert neurons.fused_status() == "fused"
    eager = eager_backend(lambda: _forward_backward(neuron, x, w))
    assert torch.equal(fused[0], eager[0]) and torch.equal(fused[1], eager[1])
    assert fused[1].abs().sum() > 0


@pytest.mark.parametrize("name", ["rect-0.5", "rect-1", "sig-1", "rate", "hart", "assg", "ste", "tri-2", "atan-0.5",
                                  "atan-0.25", "exp-0.25"])
def test_fused_mlf_under_attack_surrogates_matches_eager(eager_backend, name):
    """Same spikes; the same gradient bits, except the compiled exp (within 1e-5 of the largest, measured 8e-8)."""
    from snnlab.attacks.surrogates import SURROGATES

    torch.manual_seed(1)
    x = torch.rand(4, 32, 16, 8, 8) * 3.5 - 0.2
    w = torch.randn_like(x)
    neuron = MLF()
    neuron.surrogate = SURROGATES[name]
    fused = _forward_backward(neuron, x, w)
    eager = eager_backend(lambda: _forward_backward(neuron, x, w))
    assert torch.equal(fused[0], eager[0])
    assert fused[1].abs().sum() > 0
    if SURROGATES[name].shape == "exponential":
        assert (fused[1] - eager[1]).abs().max() <= 1e-5 * eager[1].abs().max()
    else:
        assert torch.equal(fused[1], eager[1])


def test_every_attack_surrogate_has_a_fused_backward():
    """Each preset runs one fused loop (or none, for the rate gradient alone); none falls back to the replay."""
    from snnlab.attacks.surrogates import SURROGATES

    torch.manual_seed(2)
    x = torch.rand(4, 32, 16, 8, 8) * 3.5 - 0.2
    ran = []
    original = neurons._run
    try:
        neurons._run = lambda name, *args: ran.append(name) or original(name, *args)
        for spec in SURROGATES.values():
            neuron = MLF()
            neuron.surrogate = spec
            _forward_backward(neuron, x, torch.ones_like(x))
    finally:
        neurons._run = original
    assert "replay" not in ran and ran.count("surrogate") + ran.count("grad") >= len(SURROGATES) - 1


def test_shipped_models_decide_identically_fused_and_eager(pretrained, digits_test, eager_backend):
    """The whole digits test split: predictions, detector flags, every layer's spikes and the gradient."""
    defense, _ = pretrained
    x, y = digits_test

    def run():
        with torch.no_grad():
            out = defense.defend(x)
        spikes = neurons.record_spikes(defense.classifier, x)
        spikes.update({f"purifier.{k}": v for k, v in neurons.record_spikes(defense.purifier, x).items()})
        xi = x.clone().requires_grad_()
        torch.nn.functional.cross_entropy(defense(xi), y).backward()
        return out.logits.argmax(1), out.flags, out.scores, spikes, xi.grad

    fused, eager = run(), eager_backend(run)
    assert torch.equal(fused[0], eager[0])  # predictions
    assert torch.equal(fused[1], eager[1])  # detector flags
    assert torch.equal(fused[2], eager[2])  # detector scores
    assert fused[3].keys() == eager[3].keys() and len(fused[3]) > 5
    flipped = sum(int((fused[3][k] != eager[3][k]).sum()) for k in fused[3])
    assert flipped == 0  # not one spike flips
    assert torch.equal(fused[4], eager[4])  # the gradient through the whole defence, bit for bit


def test_training_is_deterministic_and_the_same_fused_or_eager(eager_backend):
    from snnlab import load_dataset
    from snnlab.models.classifier import ClassifierConfig
    from snnlab.training.trainers import ClassifierTraining, train_classifier

    data = load_dataset("digits", "train", limit=64)
    config, settings = ClassifierConfig(stem=8, stages=[8, 16]), ClassifierTraining(epochs=2, batch_size=32, seed=5)
    assert 4 * 32 * 8 * 64 >= neurons.FUSED_MIN_NUMEL  # the stem's spikes take the fused path

    def train():
        return train_classifier(settings=settings, config=config, data=data, progress=False).state_dict()

    a, b = train(), train()
    c = eager_backend(train)
    assert all(torch.equal(a[k], b[k]) and torch.equal(a[k], c[k]) for k in a)


def test_no_compiler_falls_back_to_eager_with_one_warning(monkeypatch):
    def broken(*args, **kwargs):
        def fail(*a, **k):
            raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found")
        return fail

    monkeypatch.setattr(torch, "compile", broken)
    monkeypatch.setattr(neurons, "_kernels", {})
    monkeypatch.setattr(neurons, "_kernels_ran", set())
    monkeypatch.setattr(neurons, "_fused_failed", [])
    torch.manual_seed(0)
    x = torch.rand(4, 64, 8, 8, 10) * 3
    w = torch.randn_like(x)
    with pytest.warns(UserWarning, match="torch.compile is unavailable") as caught:
        out, grad = _forward_backward(MLF(), x, w)
        _forward_backward(MLF(), x, w)
    assert len([c for c in caught if "unavailable" in str(c.message)]) == 1
    assert neurons.fused_status().startswith("eager (torch.compile failed: InvalidCxxCompiler")
    monkeypatch.setattr(neurons, "_fused_failed", [])
    monkeypatch.setattr(neurons, "_backend", "eager")
    ref = _forward_backward(MLF(), x, w)
    assert torch.equal(out, ref[0]) and torch.equal(grad, ref[1])


def test_unknown_backend_is_named():
    with pytest.raises(ValueError, match="unknown MLF backend 'fast'.*auto, eager"):
        neurons.set_backend("fast")
