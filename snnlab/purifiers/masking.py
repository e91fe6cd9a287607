"""IMPure-style information-masking purification, at lesson scale.

Liu et al., "Adversarial purification with information masking" (2023; code NoWindButRain/IMPure,
``recon_model/MAE/RCMMFFDMAE.py``). What snnlab takes from their code:

- the image's patches are split at random into ``k`` groups; each group is rebuilt from the
  others (its own pixels masked), and each group keeps only its own reconstruction, so no patch
  is rebuilt from its own, perturbed, content; the assembled image is refined by a 3x3 conv;
- training on adversarial and clean images, with an L1 loss to the clean image plus a semantic
  term on a "mixed" image in which a random share of patches is put back from the adversarial
  input (simulating perturbation the purifier left behind).

**Where snnlab departs** (labelled so in the lesson too): their reconstructor is a ViT-B/16 MAE on
ImageNet with 16x16 patches; here patches are single pixels (``patch=1``; 2x2 on 8x8 digits
loses too much), the reconstructor is a small convolutional network that takes the masked image
(masked pixels filled with uniform noise) and the mask, and the semantic term is the KL between the
frozen spiking classifier's softmax on the mixed and on the clean image (their perceptual loss
needs ImageNet weights). Training examples are FGSM against the classifier, as for the SNN purifier.

The grouping is random at every call, so the purifier is **random**: attack it with EOT; set
``noise_seed`` to fix the grouping and the fill (the "fixed randomness" test). Written by hand: no
library ships IMPure for small images.
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
class MaskingConfig:
    in_channels: int = 1  # C
    image_size: int = 8  # H = W
    groups: int = 4  # k: each pixel group is rebuilt from the other k - 1
    patch: int = 1  # patch side in pixels (must divide image_size)
    width: int = 48  # channels of the reconstructor

    @classmethod
    def for_dataset(cls, name: str) -> "MaskingConfig":
        info = dataset_info(name)
        return cls(in_channels=info.channels, image_size=info.size, patch=1 if info.size <= 8 else 2)


class MaskingPurifier(nn.Module):
    """Images in [0, 1] ``(N, C, H, W)`` -> each random pixel group rebuilt from the others, then refined."""

    def __init__(self, config: MaskingConfig | None = None):
        super().__init__()
        self.config = config = config or MaskingConfig()
        if config.image_size % config.patch:
            raise ValueError(f"patch {config.patch} must divide the image size {config.image_size}")
        c, w = config.in_channels, config.width
        self.rebuild = nn.Sequential(
            nn.Conv2d(2 * c, w, 3, padding=1), nn.SiLU(),
            nn.Conv2d(w, w, 3, padding=2, dilation=2), nn.SiLU(),
            nn.Conv2d(w, w, 3, padding=1), nn.SiLU(),
            nn.Conv2d(w, c, 3, padding=1))
        self.refine = nn.Conv2d(c, c, 3, padding=1)
        self.noise_seed: int | None = None

    @property
    def random(self) -> bool:
        return self.noise_seed is None

    def groups(self, n: int, device, generator=None) -> torch.Tensor:
        """A random group index per patch, per image: ``(N, 1, H, W)`` int64 in [0, k), each group of equal size."""
        cfg = self.config
        side = cfg.image_size // cfg.patch
        draw_on = generator.device if generator is not None else device  # a generator draws on its own device
        order = torch.rand(n, side * side, generator=generator, device=draw_on).to(device).argsort(1)  # (N, P)
        index = order % cfg.groups  # balanced groups
        index = index.reshape(n, 1, side, side)
        return index.repeat_interleave(cfg.patch, 2).repeat_interleave(cfg.patch, 3)  # (N, 1, H, W)

    def assemble(self, images: torch.Tensor, groups: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
        """Rebuild each group from the others: ``(N, C, H, W)``, unclamped (before the refinement)."""
        out = torch.zeros_like(images)
        for g in range(self.config.groups):
            mask = (groups == g).to(images.dtype)  # (N, 1, H, W): 1 where this group's pixels are hidden
            hidden = images * (1 - mask) + fill * mask
            rebuilt = self.rebuild(torch.cat([hidden, mask.expand_as(images)], dim=1))  # linear: a sigmoid saturates
            out = out + rebuilt * mask
        return out

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images, self.config.in_channels, self.config.image_size)
        images = follow(self, images)
        generator = None
        if self.noise_seed is not None:
            generator = torch.Generator().manual_seed(self.noise_seed)
        groups = self.groups(len(images), images.device, generator)
        fill = torch.rand(images.shape, generator=generator, dtype=images.dtype,
                          device="cpu" if generator is not None else images.device).to(images.device)
        assembled = self.assemble(images, groups, fill)
        return (assembled + self.refine(assembled)).clamp(0.0, 1.0)


@dataclass
class MaskingTraining:
    epochs: int = 40  # about a minute on 2 CPU cores (FGSM and the KL go through the spiking classifier)
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.0
    seed: int = 0
    eps_range: tuple = (0.05, 0.3)  # FGSM epsilon drawn per batch
    clean_fraction: float = 0.5  # share of each batch kept clean
    mix_share: float = 0.25  # share of pixels put back from the adversarial input in the mixed image
    kl_weight: float = 0.05  # weight of the semantic term on the mixed image


def train_masking(classifier: nn.Module, dataset: str = "digits", settings: MaskingTraining | None = None,
                  checkpoint: str | None = None, device: str = "auto", progress: bool = True,
                  config: MaskingConfig | None = None, data=None) -> MaskingPurifier:
    """Train on FGSM examples against the frozen ``classifier``: L1 to the clean image + KL on the mixed image.

    Same conventions as :mod:`snnlab.training.trainers` (seeded, resumable, progress bar). Returns eval mode.
    """
    # imported here, not at the top: snnlab.training trains the purifiers, so it sits above them
    from ..training.engine import Loop, fit
    from ..training.trainers import fgsm_batches, frozen, seed_everything

    if classifier is None:
        raise ValueError("the masking purifier trains on FGSM examples: pass the classifier they attack")
    settings = settings or MaskingTraining()
    device = resolve_device(device)
    generator = seed_everything(settings.seed)
    images, labels = data if data is not None else load_dataset(dataset, "train")
    purifier = MaskingPurifier(config or MaskingConfig.for_dataset(dataset)).to(device)
    classifier = classifier.to(device).eval()

    def loss(batch, epoch):
        x, y, x_adv = batch
        groups = purifier.groups(len(x), "cpu", generator).to(device)  # a CPU generator draws on the CPU
        fill = torch.rand(x.shape, generator=generator).to(device)
        assembled = purifier.assemble(x_adv, groups, fill)
        x_hat = assembled + purifier.refine(assembled)  # unclamped: the clamp would stop the gradient
        keep = (torch.rand(x.shape, generator=generator) < settings.mix_share).to(device, x.dtype)
        mixed = x_hat.clamp(0.0, 1.0) * (1 - keep) + x_adv * keep  # leftover perturbation, simulated
        with torch.no_grad():
            target = F.log_softmax(classifier(x), dim=1)
        kl = F.kl_div(F.log_softmax(classifier(mixed), dim=1), target, log_target=True, reduction="batchmean")
        return F.l1_loss(x_hat, x) + settings.kl_weight * kl

    with frozen(classifier):
        fit(purifier, settings,
            Loop("purifier-masking", lambda epoch: fgsm_batches(classifier, images, labels, settings, generator,
                                                                device),
                 loss, math.ceil(len(labels) / settings.batch_size)),
            generator=generator, checkpoint=checkpoint, progress=progress)
    return purifier.eval()
