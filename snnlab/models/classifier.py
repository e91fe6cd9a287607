"""The MLF spiking ResNet classifier with Squeeze-and-Excitation (SE) attention.

References
----------
- Feng et al., "Multi-Level Firing with Spiking DS-ResNet", IJCAI 2022: the
  dormant-suppressed (DS) block applies the spiking activation before the
  residual addition, ``out = MLF(BN(conv(MLF(BN(conv(x)))))) + shortcut(x)``.
- Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018.
- Chen & Xu, arXiv 2404.17092: an MLF spiking network with SE as the classifier.

Time is folded into the batch for convolutions and batch norm: a spike train
``(T, N, C, H, W)`` is viewed as ``(T*N, C, H, W)``; only the neurons need the
time axis. Input is direct-encoded over T=4 steps by default, and the logits
are the readout averaged over T.

Our choices where the paper is silent (measured, not taken from it):
- SE sits on the second BN output, before the second MLF: the attention
  rescales membrane input, the block output stays spikes.
- SE's squeeze and excitation are analog (ReLU/sigmoid), per time step.
- Sizes: digits (8x8) uses a 32-channel stem and stages of 32 and 64
  channels, one block each; 28x28 grey images (MNIST, Fashion-MNIST) a lean
  32/64/128 layout, one block per stage (0.32 M parameters: what 2 CPU cores
  train in hours; ``benchmarks/neuron_speed.py`` times it); 32x32 colour and
  larger a ResNet-20-like 64/128/256 layout with 3 blocks per stage.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from ..data.datasets import check_images, dataset_info
from ..devices import follow
from .neurons import MLF, encode


@dataclass
class ClassifierConfig:
    in_channels: int = 1  # C of the input images
    image_size: int = 8  # H = W of the input images
    classes: int = 10  # number of logits
    steps: int = 4  # T, time steps
    stem: int = 32  # channels after the first conv
    stages: list = field(default_factory=lambda: [32, 64])  # channels per stage (stride 2 after the first)
    blocks: int = 1  # DS-SE blocks per stage
    se_reduction: int = 4  # SE bottleneck = channels // se_reduction
    encoding: str = "direct"  # 'direct' or 'rate'

    @classmethod
    def for_dataset(cls, name: str) -> "ClassifierConfig":
        """The size snnlab uses for a dataset: small for 8x8 digits, lean for 28x28 grey, ResNet-20-like otherwise."""
        info = dataset_info(name)
        if info.size <= 8:
            return cls(in_channels=info.channels, image_size=info.size, classes=info.classes)
        if info.size <= 28 and info.channels == 1:
            return cls(in_channels=1, image_size=info.size, classes=info.classes, stem=32, stages=[32, 64, 128])
        return cls(in_channels=info.channels, image_size=info.size, classes=info.classes,
                   stem=64, stages=[64, 128, 256], blocks=3, se_reduction=16)


def fold(x: torch.Tensor) -> torch.Tensor:
    """``(T, N, ...) -> (T*N, ...)`` so conv and BN see every step as a batch item."""
    return x.reshape(-1, *x.shape[2:])


def unfold(x: torch.Tensor, steps: int) -> torch.Tensor:
    """``(T*N, ...) -> (T, N, ...)``, the inverse of :func:`fold`."""
    return x.reshape(steps, -1, *x.shape[1:])


class SqueezeExcitation(nn.Module):
    """Channel attention: ``x * sigmoid(W2 relu(W1 avgpool(x)))``, per time step. ``(B, C, H, W) -> same``."""

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = x.mean(dim=(2, 3))  # (B, C) squeeze
        w = torch.sigmoid(self.fc2(torch.relu(self.fc1(w))))  # (B, C) excitation
        return x * w[:, :, None, None]


class ConvBN(nn.Sequential):
    """3x3 (or 1x1) convolution and batch norm on folded time, ``(T*N, C, H, W)``."""

    def __init__(self, cin: int, cout: int, stride: int = 1, kernel: int = 3):
        super().__init__(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout))


class DSSEBlock(nn.Module):
    """Dormant-suppressed residual block with SE: ``MLF(SE(BN(conv(MLF(BN(conv(x))))))) + shortcut(x)``.

    ``se_reduction=None`` leaves SE out (the purifier's residual blocks).
    Shape: ``(T, N, Cin, H, W) -> (T, N, Cout, H/stride, W/stride)``.
    """

    def __init__(self, cin: int, cout: int, stride: int = 1, se_reduction: int | None = None):
        super().__init__()
        self.conv1 = ConvBN(cin, cout, stride)
        self.mlf1 = MLF()
        self.conv2 = ConvBN(cout, cout)
        self.se = SqueezeExcitation(cout, se_reduction) if se_reduction else nn.Identity()
        self.mlf2 = MLF()
        self.shortcut = nn.Identity() if stride == 1 and cin == cout else ConvBN(cin, cout, stride, kernel=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps = x.shape[0]
        h = self.mlf1(unfold(self.conv1(fold(x)), steps))  # (T, N, Cout, H', W')
        h = self.mlf2(unfold(self.se(self.conv2(fold(h))), steps))  # (T, N, Cout, H', W')
        return h + unfold(self.shortcut(fold(x)), steps)


class SpikingResNet(nn.Module):
    """MLF spiking ResNet with SE blocks: images ``(N, C, H, W)`` in [0, 1] -> logits ``(N, classes)``.

    Any attack library can attack it: it takes unnormalised images and returns
    logits. Gradients flow through MLF's rectangular surrogate. State is
    created inside ``forward``, so the same input always gives the same output
    (in eval mode; in train mode BN uses batch statistics, and rate encoding
    draws a new sample each call).

    Example::

        >>> model = SpikingResNet(ClassifierConfig.for_dataset("digits"))
        >>> model(torch.rand(2, 1, 8, 8)).shape
        torch.Size([2, 10])
    """

    def __init__(self, config: ClassifierConfig | None = None):
        super().__init__()
        self.config = config = config or ClassifierConfig()
        self.stem = ConvBN(config.in_channels, config.stem)
        self.stem_mlf = MLF()
        blocks, cin = [], config.stem
        for i, cout in enumerate(config.stages):
            for j in range(config.blocks):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(DSSEBlock(cin, cout, stride, config.se_reduction))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(cin, config.classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images, self.config.in_channels, self.config.image_size)
        images = follow(self, images)  # CPU data works with a model on the GPU
        steps = self.config.steps
        x = encode(images, steps, self.config.encoding)  # (T, N, C, H, W)
        x = self.stem_mlf(unfold(self.stem(fold(x)), steps))  # (T, N, stem, H, W)
        x = self.blocks(x)  # (T, N, C_last, H', W')
        x = x.mean(dim=(3, 4))  # (T, N, C_last) global average pool
        return self.head(x).mean(0)  # (N, classes), readout averaged over T


def config_dict(config) -> dict:
    """A config dataclass as a plain dict (what checkpoints store)."""
    return asdict(config)
