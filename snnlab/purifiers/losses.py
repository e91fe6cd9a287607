"""The purifier's composite loss.

    L = Charbonnier(x_hat, x_clean)
        + w_kl   * KL(p(x_clean) || p(x_hat))
        + w_asym * asym(sigma_hat, sigma)
        + w_tv   * TV(sigma_hat)

References
----------
- Chen & Xu, arXiv 2404.17092 (the four terms; the paper's weights and its
  exact KL term are not public).
- Charbonnier et al., ICIP 1994; Lai et al. (LapSRN) for its use in restoration.
- Guo et al. (CBDNet), CVPR 2019: the asymmetric and TV terms on the noise map.

Our reading of the KL term, documented as a reading, not the paper's text:
the KL divergence between the frozen classifier's softmax on the clean image
and on the purified image (semantic consistency). Set ``w_kl=0`` for the
ablation without it.

The true noise map ``sigma`` for an adversarial example is taken as
``|x_adv - x_clean|`` per pixel (zero for clean images).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F


def charbonnier(x_hat: torch.Tensor, x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """``mean(sqrt((x_hat - x)^2 + eps^2))``: a smooth L1 that is robust to outliers."""
    return torch.sqrt((x_hat - x) ** 2 + eps**2).mean()


def asymmetric(sigma_hat: torch.Tensor, sigma: torch.Tensor, alpha: float = 0.3) -> torch.Tensor:
    """CBDNet's asymmetric noise loss ``mean(|alpha - 1[sigma_hat - sigma < 0]| * (sigma_hat - sigma)^2)``.

    With alpha < 0.5, under-estimating the noise (sigma_hat < sigma) costs
    ``1 - alpha`` per squared error and over-estimating costs ``alpha``:
    a denoiser told too little noise leaves it in the image.

    (The indicator is CBDNet's, on under-estimation. SYSTEM.md writes it as
    ``1[sigma - sigma_hat < 0]``, which would penalise over-estimation more and
    contradict the stated intent; snnlab follows CBDNet. A first snnlab
    version used the SYSTEM.md form; tests/test_losses.py pins the direction.)
    """
    under = (sigma_hat - sigma < 0).to(sigma.dtype)
    return ((alpha - under).abs() * (sigma_hat - sigma) ** 2).mean()


def total_variation(sigma_hat: torch.Tensor) -> torch.Tensor:
    """Squared total variation of a noise map ``(N, C, H, W)``, as CBDNet: smooth noise maps."""
    dh = sigma_hat[..., 1:, :] - sigma_hat[..., :-1, :]
    dw = sigma_hat[..., :, 1:] - sigma_hat[..., :, :-1]
    return (dh**2).mean() + (dw**2).mean()


def kl_consistency(logits_hat: torch.Tensor, logits_clean: torch.Tensor) -> torch.Tensor:
    """``KL(softmax(logits_clean) || softmax(logits_hat))``, batch mean (our reading of the paper's KL)."""
    return F.kl_div(F.log_softmax(logits_hat, 1), F.log_softmax(logits_clean, 1), log_target=True,
                    reduction="batchmean")


@dataclass
class PurifierLoss:
    """The composite loss with each term's weight a named field.

    Defaults: ``w_asym=0.5`` and ``w_tv=0.05`` follow CBDNet; ``alpha=0.3`` as
    CBDNet; ``eps=1e-3`` Charbonnier. ``w_kl=0.01`` is our choice, measured
    on digits (30-epoch purifiers, seed 0): ``w_kl=0.1`` raised the detector's
    1%-false-positive threshold from 0.119 to 0.214 (the purifier moved clean
    images more) and cut detection of eps=0.1 PGD from 82% to 37%, for the
    same accuracy on purified images. (Measured before the asymmetric term's
    direction was fixed; not re-measured since.)
    """

    w_kl: float = 0.01
    w_asym: float = 0.5
    w_tv: float = 0.05
    alpha: float = 0.3
    eps: float = 1e-3

    def terms(self, x_hat, x_clean, sigma_hat, sigma, logits_hat=None, logits_clean=None) -> dict:
        """Each term unweighted, as tensors: 'charbonnier', 'kl', 'asym', 'tv'."""
        kl = (kl_consistency(logits_hat, logits_clean) if logits_hat is not None
              else x_hat.new_zeros(()))
        return {
            "charbonnier": charbonnier(x_hat, x_clean, self.eps),
            "kl": kl,
            "asym": asymmetric(sigma_hat, sigma, self.alpha),
            "tv": total_variation(sigma_hat),
        }

    def __call__(self, x_hat, x_clean, sigma_hat, sigma, logits_hat=None, logits_clean=None) -> torch.Tensor:
        t = self.terms(x_hat, x_clean, sigma_hat, sigma, logits_hat, logits_clean)
        return t["charbonnier"] + self.w_kl * t["kl"] + self.w_asym * t["asym"] + self.w_tv * t["tv"]
