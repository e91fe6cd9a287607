"""Consistency Purification, at lesson scale: one-step denoising of Gaussian-noised images.

Li et al., "Consistency Purification: Effective and Efficient Diffusion Purification towards
Certified Robustness", NeurIPS 2024. Their pipeline, which snnlab follows:

1. add Gaussian noise, ``x + delta``, ``delta ~ N(0, sigma^2 I)`` (the noise of randomized
   smoothing, :mod:`snnlab.evaluation.smoothing`);
2. map ``sigma`` to the model's noise level: images are scaled to [-1, 1], so the noise doubles,
   ``t = 2 sigma`` (EDM convention);
3. denoise in one call with the consistency boundary parametrisation
   ``f(y, t) = c_skip(t) y + c_out(t) F(c_in(t) y, t)`` with ``c_skip = sd^2 / ((t - e)^2 + sd^2)``,
   ``c_out = sd (t - e) / sqrt(sd^2 + t^2)``, ``c_in = 1 / sqrt(t^2 + sd^2)``, ``sd = 0.5``,
   ``e = 0.002`` (so ``f(y, e) = y``);
4. classify the purified image (inside smoothing: certify the majority vote).

**Where snnlab departs from the paper** (labelled so in the lesson too):

- ``F`` is a small convolutional network (not spiking, not a diffusion U-Net) trained directly on
  x-prediction (``|| f(x + 2 sigma n, 2 sigma) - x ||^2`` over ``sigma`` in ``sigma_range``); it is
  **not** distilled from a probability-flow ODE, so it is a consistency-*parametrised* one-step
  denoiser, not a consistency model.
- Their "Consistency Fine-tuning" aligns purified and clean images semantically with LPIPS, which
  needs ImageNet weights; snnlab's fine-tune uses the frozen spiking classifier instead: the KL
  between its softmax on the purified and on the clean image (the SNN purifier's semantic term),
  plus the reconstruction loss, at the smoothing ``sigma``.

As a purifier (``forward``) it adds its own noise, so it is **random**: attack it with EOT, and
report mean, spread and worst over several evaluation draws. ``noise_seed`` fixes the noise for
the "fixed randomness" test (every call then draws the same noise). Written by hand: no library
ships a consistency denoiser for 8x8 images.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..data.datasets import check_images, dataset_info, load_dataset
from ..devices import follow, resolve_device

SIGMA_DATA = 0.5  # sd: the data's standard deviation on [-1, 1] (consistency-model default)
EPSILON = 0.002  # e: the smallest noise level; f is the identity there


@dataclass
class ConsistencyConfig:
    in_channels: int = 1  # C
    image_size: int = 8  # H = W
    width: int = 48  # channels of the denoiser
    blocks: int = 3  # residual blocks
    sigma: float = 0.5  # noise std (on [0, 1] images) the purifier adds before denoising
    sigma_min: float = 0.05  # training range of sigma (on [0, 1] images)
    sigma_max: float = 1.25

    @classmethod
    def for_dataset(cls, name: str) -> "ConsistencyConfig":
        info = dataset_info(name)
        return cls(in_channels=info.channels, image_size=info.size, width=48 if info.size <= 8 else 96)


def boundary_scalings(t: torch.Tensor):
    """``(c_skip, c_out, c_in)`` at noise level ``t`` (any shape): the consistency boundary parametrisation."""
    c_skip = SIGMA_DATA**2 / ((t - EPSILON) ** 2 + SIGMA_DATA**2)
    c_out = SIGMA_DATA * (t - EPSILON) / torch.sqrt(SIGMA_DATA**2 + t**2)
    c_in = 1.0 / torch.sqrt(t**2 + SIGMA_DATA**2)
    return c_skip, c_out, c_in


class _Block(nn.Module):
    """Residual conv block with the noise level injected as a per-channel scale and shift (FiLM)."""

    def __init__(self, width: int, embed: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, width), nn.Conv2d(width, width, 3, padding=1)
        self.norm2, self.conv2 = nn.GroupNorm(8, width), nn.Conv2d(width, width, 3, padding=1)
        self.film = nn.Linear(embed, 2 * width)

    def forward(self, h, e):  # h (N, W, H, W'), e (N, embed)
        scale, shift = self.film(e)[:, :, None, None].chunk(2, dim=1)
        z = self.conv1(F.silu(self.norm1(h)))
        z = self.norm2(z) * (1 + scale) + shift
        return h + self.conv2(F.silu(z))


class ConsistencyDenoiser(nn.Module):
    """``F(c_in * y, t)`` of the parametrisation: ``(N, C, H, W), (N,) -> (N, C, H, W)``."""

    def __init__(self, config: ConsistencyConfig):
        super().__init__()
        embed = 64
        self.embed = nn.Sequential(nn.Linear(16, embed), nn.SiLU(), nn.Linear(embed, embed))
        self.inp = nn.Conv2d(config.in_channels, config.width, 3, padding=1)
        self.blocks = nn.ModuleList(_Block(config.width, embed) for _ in range(config.blocks))
        self.out = nn.Sequential(nn.GroupNorm(8, config.width), nn.SiLU(),
                                 nn.Conv2d(config.width, config.in_channels, 3, padding=1))
        self.register_buffer("freqs", torch.exp(torch.linspace(0, math.log(100.0), 8)), persistent=False)

    def forward(self, y, t):
        angles = (0.25 * torch.log(t))[:, None] * self.freqs  # (N, 8): EDM's c_noise = log(t) / 4
        e = self.embed(torch.cat([angles.sin(), angles.cos()], dim=1))  # (N, embed)
        h = self.inp(y)
        for block in self.blocks:
            h = block(h, e)
        return self.out(h)


class ConsistencyPurifier(nn.Module):
    """Images in [0, 1] ``(N, C, H, W)`` -> purified images: add N(0, sigma^2) noise, denoise in one step.

    Random (fresh noise every call) unless ``noise_seed`` is set.
    """

    def __init__(self, config: ConsistencyConfig | None = None):
        super().__init__()
        self.config = config = config or ConsistencyConfig()
        self.net = ConsistencyDenoiser(config)
        self.noise_seed: int | None = None

    @property
    def random(self) -> bool:
        """True when two calls on the same images may differ (attack with EOT)."""
        return self.noise_seed is None

    def denoise(self, noisy: torch.Tensor, sigma) -> torch.Tensor:
        """One-step estimate of the clean image from ``noisy`` = image + N(0, sigma^2) noise (both on [0, 1]).

        ``sigma``: a float or a ``(N,)`` tensor. Output ``(N, C, H, W)`` clamped to [0, 1].
        """
        sigma = torch.as_tensor(sigma, dtype=noisy.dtype, device=noisy.device).expand(noisy.shape[0])  # (N,)
        t = 2 * sigma  # noise level on [-1, 1] images
        c_skip, c_out, c_in = (c[:, None, None, None] for c in boundary_scalings(t))
        y = 2 * noisy - 1  # (N, C, H, W) on [-1, 1]
        f = c_skip * y + c_out * self.net(c_in * y, t)
        return ((f + 1) / 2).clamp(0.0, 1.0)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images, self.config.in_channels, self.config.image_size)
        images = follow(self, images)
        generator = None
        if self.noise_seed is not None:
            generator = torch.Generator().manual_seed(self.noise_seed)
        noise = torch.randn(images.shape, generator=generator, dtype=images.dtype,
                            device="cpu" if generator is not None else images.device).to(images.device)
        return self.denoise(images + self.config.sigma * noise, self.config.sigma)


@dataclass
class ConsistencyTraining:
    epochs: int = 100  # all epochs (under a minute on 2 CPU cores); the last `semantic_epochs` add the KL
    semantic_epochs: int = 5
    batch_size: int = 64
    lr: float = 2e-3  # AdamW, cosine-annealed
    weight_decay: float = 0.0
    seed: int = 0
    kl_weight: float = 0.1  # weight of the semantic (KL) term in the fine-tune


def train_consistency(classifier: nn.Module | None = None, dataset: str = "digits",
                      settings: ConsistencyTraining | None = None, checkpoint: str | None = None,
                      device: str = "auto", progress: bool = True, config: ConsistencyConfig | None = None,
                      data=None) -> ConsistencyPurifier:
    """Train the one-step denoiser on x-prediction, then fine-tune it semantically with ``classifier``.

    Same conventions as :mod:`snnlab.training.trainers`: seeded, resumable from ``checkpoint`` (saved atomically
    after every epoch), a progress bar. Without a classifier the semantic fine-tune is skipped.
    Returns the purifier in eval mode.
    """
    # imported here, not at the top: snnlab.training trains the purifiers, so it sits above them
    from ..training.engine import Loop, fit
    from ..training.trainers import _batches, frozen, seed_everything

    settings = settings or ConsistencyTraining()
    device = resolve_device(device)
    generator = seed_everything(settings.seed)
    images, _ = data if data is not None else load_dataset(dataset, "train")
    purifier = ConsistencyPurifier(config or ConsistencyConfig.for_dataset(dataset)).to(device)
    cfg = purifier.config
    if classifier is not None:
        classifier = classifier.to(device).eval()

    def batches(epoch):
        for idx in _batches(len(images), settings.batch_size, generator):
            yield images[idx].to(device)  # (B, C, H, W)

    def semantic(epoch):  # the last epochs fine-tune through the classifier, at the purifier's own sigma
        return classifier is not None and epoch >= settings.epochs - settings.semantic_epochs

    def loss(x, epoch):
        if semantic(epoch):
            sigma = torch.full((len(x),), cfg.sigma, device=device)
        else:
            sigma = cfg.sigma_min + (cfg.sigma_max - cfg.sigma_min) * torch.rand(len(x), generator=generator)
            sigma = sigma.to(device)
        noise = torch.randn(x.shape, generator=generator).to(device)
        x_hat = purifier.denoise(x + sigma[:, None, None, None] * noise, sigma)
        value = F.mse_loss(x_hat, x)
        if semantic(epoch):
            with torch.no_grad():
                target = F.log_softmax(classifier(x), dim=1)
            value = value + settings.kl_weight * F.kl_div(F.log_softmax(classifier(x_hat), dim=1), target,
                                                          log_target=True, reduction="batchmean")
        return value

    with frozen(classifier):
        fit(purifier, settings,
            Loop("purifier-consistency", batches, loss, math.ceil(len(images) / settings.batch_size),
                 postfix=lambda last, epoch: {"loss": f"{last:.4f}",
                                              "stage": "semantic" if semantic(epoch) else "denoise"}),
            generator=generator, checkpoint=checkpoint, progress=progress)
    return purifier.eval()
