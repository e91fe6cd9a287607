import torch

from snnlab.purifiers.losses import PurifierLoss, asymmetric, charbonnier, kl_consistency, total_variation


def test_charbonnier():
    x = torch.rand(2, 1, 4, 4)
    assert torch.isclose(charbonnier(x, x, eps=1e-3), torch.tensor(1e-3))
    assert torch.isclose(charbonnier(x + 0.5, x, eps=1e-6), torch.tensor(0.5), atol=1e-5)


def test_asymmetric_penalises_underestimation_more():
    sigma = torch.full((1, 1, 2, 2), 0.2)
    under = asymmetric(sigma - 0.1, sigma, alpha=0.3)
    over = asymmetric(sigma + 0.1, sigma, alpha=0.3)
    assert torch.isclose(under, torch.tensor(0.7 * 0.01))
    assert torch.isclose(over, torch.tensor(0.3 * 0.01))


def test_total_variation_zero_on_constant_maps():
    assert total_variation(torch.full((1, 1, 4, 4), 0.3)) == 0
    assert total_variation(torch.rand(1, 1, 4, 4)) > 0


def test_kl_zero_for_same_prediction():
    logits = torch.randn(3, 10)
    assert kl_consistency(logits, logits).abs() < 1e-6
    assert kl_consistency(torch.randn(3, 10), logits) > 0


def test_weights_are_named_and_switch_terms_off():
    x, x_hat = torch.rand(2, 1, 4, 4), torch.rand(2, 1, 4, 4)
    s, s_hat = torch.rand(2, 1, 4, 4), torch.rand(2, 1, 4, 4)
    la, lb = torch.randn(2, 10), torch.randn(2, 10)
    only_rec = PurifierLoss(w_kl=0, w_asym=0, w_tv=0)
    assert torch.isclose(only_rec(x_hat, x, s_hat, s, la, lb), charbonnier(x_hat, x))
    full = PurifierLoss(w_kl=0.1, w_asym=0.5, w_tv=0.05)
    t = full.terms(x_hat, x, s_hat, s, la, lb)
    expect = t["charbonnier"] + 0.1 * t["kl"] + 0.5 * t["asym"] + 0.05 * t["tv"]
    assert torch.isclose(full(x_hat, x, s_hat, s, la, lb), expect)
