import pytest
import torch

from snnlab.neurons import MLF, MLF_THRESHOLDS, direct_encode, encode, lif_trace, mlf_trace, rate_encode


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
