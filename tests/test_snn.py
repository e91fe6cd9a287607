import pytest
import torch

from snnlab.purifiers.snn import Purifier, PurifierConfig, unet_depth


@pytest.mark.parametrize("size,depth", [(8, 2), (28, 2), (32, 3), (64, 3), (7, 0)])
def test_unet_depth_adapts_to_size(size, depth):
    assert unet_depth(size) == depth


def test_output_shape_range_and_noise_bound():
    torch.manual_seed(0)
    purifier = Purifier().eval()
    x = torch.rand(6, 1, 8, 8)
    with torch.no_grad():
        x_hat, sigma = purifier.estimate(x)
    assert x_hat.shape == sigma.shape == x.shape
    assert x_hat.min() >= 0 and x_hat.max() <= 1
    assert sigma.min() >= 0
    assert ((x_hat - x).abs() <= sigma + 1e-6).all()  # the correction never exceeds the noise estimate
    assert torch.equal(purifier(x), x_hat)  # deterministic
    assert torch.equal(purifier.noise_map(x), sigma)


def test_rgb_32x32():
    purifier = Purifier(PurifierConfig.for_dataset("cifar10")).eval()
    with torch.no_grad():
        assert purifier(torch.rand(1, 3, 32, 32)).shape == (1, 3, 32, 32)


def test_gradient_flows_to_input():
    purifier = Purifier().eval()
    x = torch.rand(2, 1, 8, 8, requires_grad=True)
    purifier(x).sum().backward()
    assert x.grad.abs().sum() > 0


def test_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        Purifier()(torch.full((1, 1, 8, 8), float("nan")))
