import pytest
import torch

from snnlab.models.classifier import ClassifierConfig, SpikingResNet


def test_shapes_and_determinism():
    torch.manual_seed(0)
    model = SpikingResNet(ClassifierConfig.for_dataset("digits")).eval()
    x = torch.rand(5, 1, 8, 8)
    out = model(x)
    assert out.shape == (5, 10)
    assert torch.equal(out, model(x))  # state reset inside forward


def test_gradient_reaches_the_input_through_surrogates():
    torch.manual_seed(0)
    model = SpikingResNet().eval()
    x = torch.rand(4, 1, 8, 8, requires_grad=True)
    model(x).logsumexp(1).sum().backward()
    assert x.grad.abs().sum() > 0


def test_larger_config_for_cifar():
    cfg = ClassifierConfig.for_dataset("cifar10")
    assert cfg.stages == [64, 128, 256] and cfg.in_channels == 3
    model = SpikingResNet(cfg).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 32, 32)).shape == (1, 10)


def test_rate_encoding_is_random_direct_is_not():
    torch.manual_seed(0)
    model = SpikingResNet(ClassifierConfig(encoding="rate")).eval()
    x = torch.rand(3, 1, 8, 8)
    with torch.no_grad():
        assert not torch.equal(model(x), model(x))


@pytest.mark.parametrize("bad", [torch.rand(8, 8), torch.rand(1, 3, 8, 8), torch.rand(1, 1, 8, 8) + 1])
def test_bad_input(bad):
    with pytest.raises(ValueError):
        SpikingResNet()(bad)
