"""PSSR-inspired purification: remove the salient pixels, regenerate them.

Fu et al., "Purify Adversarial Perturbations via Pixel Surgery and Semantic Regeneration" (PSSR,
arXiv 2402.00304). Only the abstract is known: a score-based *pixel surgery* removes the salient
part of the attack and keeps the trivial part; a *semantic regeneration* module restores the
content; a self-augmentation regulariser with adversarial R-Drop balances robustness and accuracy;
evaluated on MNIST and CIFAR with BPDA. No code or formulas were found, so **everything below is
snnlab's interpretation, "PSSR-inspired", not PSSR**:

- saliency: the magnitude of the classifier's input gradient of the cross-entropy at its own
  prediction, ``|d CE(f(x), argmax f(x)) / dx|`` (the pixels an attacker moves most usefully);
- surgery: the top ``remove`` share of pixels by saliency is removed (set to 0, marked in a mask);
- regeneration: a small convolutional inpainter takes the cut image and the mask and fills the
  removed pixels (kept pixels pass unchanged), trained for pixel alignment (L1 to the clean image)
  and feature alignment (KL between the frozen classifier's softmax on the regenerated and on the
  clean image);
- adversarial R-Drop, on the regeneration side: two passes with dropout on the same FGSM example,
  plus ``rdrop_weight`` times the symmetric KL between the classifier's outputs on the two
  (the original applies R-Drop to the classifier; snnlab keeps its classifier frozen).

The purifier needs the classifier for its saliency; it is held as a plain attribute (not saved in
the purifier's checkpoint) and attached by :func:`snnlab.purifiers.load`. The top-k mask is
piecewise constant and computed without gradient: attack through it with BPDA (the mask's
backward is zero already; the inpainter is differentiable), and with a saliency-aware attack that
keeps the perturbation off the removed pixels. Deterministic in eval mode. Written by hand.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..data.datasets import check_images, dataset_info, load_dataset
from ..devices import follow, resolve_device


@dataclass
class SurgeryConfig:
    in_channels: int = 1  # C
    image_size: int = 8  # H = W
    remove: float = 0.15  # share of pixels removed by saliency
    width: int = 48  # channels of the inpainter
    dropout: float = 0.1  # inpainter dropout (R-Drop's randomness in training; off in eval)

    @classmethod
    def for_dataset(cls, name: str) -> "SurgeryConfig":
        info = dataset_info(name)
        return cls(in_channels=info.channels, image_size=info.size)


class SurgeryPurifier(nn.Module):
    """Images in [0, 1] ``(N, C, H, W)`` -> the most salient pixels removed and regenerated."""

    def __init__(self, config: SurgeryConfig | None = None, classifier: nn.Module | None = None):
        super().__init__()
        self.config = config = config or SurgeryConfig()
        if not 0 < config.remove < 1:
            raise ValueError(f"remove must be a share in (0, 1), got {config.remove}")
        c, w = config.in_channels, config.width
        self.inpaint = nn.Sequential(
            nn.Conv2d(2 * c, w, 3, padding=1), nn.SiLU(), nn.Dropout2d(config.dropout),
            nn.Conv2d(w, w, 3, padding=2, dilation=2), nn.SiLU(), nn.Dropout2d(config.dropout),
            nn.Conv2d(w, w, 3, padding=1), nn.SiLU(),
            nn.Conv2d(w, c, 3, padding=1))
        self.attach(classifier)

    @property
    def random(self) -> bool:
        return False  # deterministic in eval mode

    def attach(self, classifier: nn.Module | None) -> "SurgeryPurifier":
        """Use ``classifier`` for the saliency (kept out of this module's parameters and checkpoint)."""
        self.__dict__["scorer"] = classifier
        return self

    def saliency(self, images: torch.Tensor) -> torch.Tensor:
        """``|d CE(f(x), argmax f(x)) / dx|`` per pixel, summed over channels: ``(N, 1, H, W)``, no graph."""
        if self.__dict__.get("scorer") is None:
            raise ValueError("the surgery purifier needs a classifier for its saliency: purifier.attach(classifier)")
        classifier = self.__dict__["scorer"]
        with torch.enable_grad():
            x = images.detach().clone().requires_grad_(True)
            logits = classifier(x)
            loss = F.cross_entropy(logits, logits.argmax(1).detach(), reduction="sum")
            grad, = torch.autograd.grad(loss, x)
        return grad.abs().sum(1, keepdim=True)

    def removal_mask(self, images: torch.Tensor) -> torch.Tensor:
        """1 at the removed pixels, the top ``remove`` share by saliency: ``(N, 1, H, W)``."""
        score = self.saliency(images).flatten(1)  # (N, H*W)
        k = max(1, round(self.config.remove * score.shape[1]))
        top = score.topk(k, dim=1).indices
        mask = torch.zeros_like(score).scatter_(1, top, 1.0)
        return mask.reshape(len(images), 1, *images.shape[2:])

    def regenerate(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Fill the masked pixels from the rest; kept pixels pass unchanged. ``(N, C, H, W)``."""
        mask = mask.expand_as(images)
        cut = images * (1 - mask)
        filled = torch.sigmoid(self.inpaint(torch.cat([cut, mask], dim=1)))
        return cut + filled * mask

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images, self.config.in_channels, self.config.image_size)
        images = follow(self, images)
        return self.regenerate(images, self.removal_mask(images))


@dataclass
class SurgeryTraining:
    epochs: int = 20  # about a minute on 2 CPU cores (saliency, FGSM and three classifier passes per batch)
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.0
    seed: int = 0
    eps_range: tuple = (0.05, 0.3)  # FGSM epsilon drawn per batch
    clean_fraction: float = 0.5
    kl_weight: float = 0.05  # feature alignment
    rdrop_weight: float = 0.05  # adversarial R-Drop: symmetric KL between two dropout passes


def train_surgery(classifier: nn.Module, dataset: str = "digits", settings: SurgeryTraining | None = None,
                  checkpoint: str | None = None, device: str = "auto", progress: bool = True,
                  config: SurgeryConfig | None = None, data=None) -> SurgeryPurifier:
    """Train the inpainter on FGSM examples against the frozen ``classifier`` (L1 + KL + R-Drop); eval mode."""
    # imported here, not at the top: snnlab.training trains the purifiers, so it sits above them
    from ..training.engine import Loop, fit
    from ..training.trainers import fgsm_batches, frozen, seed_everything

    if classifier is None:
        raise ValueError("the surgery purifier needs the classifier (saliency, FGSM examples, alignment)")
    settings = settings or SurgeryTraining()
    device = resolve_device(device)
    generator = seed_everything(settings.seed)
    images, labels = data if data is not None else load_dataset(dataset, "train")
    classifier = classifier.to(device).eval()
    purifier = SurgeryPurifier(config or SurgeryConfig.for_dataset(dataset), classifier).to(device)

    def loss(batch, epoch):
        x, y, x_adv = batch
        mask = purifier.removal_mask(x_adv)
        first, second = purifier.regenerate(x_adv, mask), purifier.regenerate(x_adv, mask)  # two dropouts
        with torch.no_grad():
            target = F.log_softmax(classifier(x), dim=1)
        log_p, log_q = F.log_softmax(classifier(first), dim=1), F.log_softmax(classifier(second), dim=1)
        align = F.kl_div(log_p, target, log_target=True, reduction="batchmean")
        rdrop = 0.5 * (F.kl_div(log_p, log_q, log_target=True, reduction="batchmean")
                       + F.kl_div(log_q, log_p, log_target=True, reduction="batchmean"))
        return (0.5 * (F.l1_loss(first, x) + F.l1_loss(second, x)) + settings.kl_weight * align
                + settings.rdrop_weight * rdrop)

    with frozen(classifier):
        fit(purifier, settings,
            Loop("purifier-surgery", lambda epoch: fgsm_batches(classifier, images, labels, settings, generator,
                                                                device),
                 loss, math.ceil(len(labels) / settings.batch_size)),
            generator=generator, checkpoint=checkpoint, progress=progress)
    return purifier.eval()
