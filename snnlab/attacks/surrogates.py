"""The gradient is a choice: attack-time surrogate gradients for MLF neurons.

A spike is a step function, so every white-box attack on a spiking network
differentiates through a surrogate someone chose. The attacker need not use
the one the model was trained with (rectangular, width 1), and one fixed
surrogate can badly overstate robustness. This module swaps the **backward
pass only**: the forward pass, and so every decision of the model, stays
bit-identical (``tests/test_surrogates.py`` proves it).

With ``s = u - Vth_k`` the distance of a level's membrane to its threshold
and ``w`` the width (each shape peaks near ``1/w`` and integrates to 1)::

    rectangular   h'(s) = 1[|s| < w/2] / w                  (the training surrogate at w = 1)
    triangular    h'(s) = 2/w * max(0, 1 - 2|s|/w)          (piecewise linear)
    sigmoid       h'(s) = k sig(ks) (1 - sig(ks)),  k = 4/w
    exponential   h'(s) = exp(-2|s|/w) / w
    arctan        h'(s) = 1 / (w (1 + (pi s / w)^2))
    ste           h'(s) = 1                                 (straight-through)

The straight-through estimator passes gradient through every neuron, silent
ones included, and on the digits classifier it is a poor attacker: APGD-CE-20
through it left 62.5% of 64 test images correct at eps 0.3, where every other
surrogate here reaches 0-5% (``tests/test_surrogates.py``). It stays in the
full ensemble for completeness and is never trusted alone.

Beyond the shape:

- ``rate`` (BPTR / RGA-style, Ding et al. 2022; Bu et al., CVPR 2023):
  backpropagate through firing rates instead of the spike train; every step
  gets ``1[mean_t out > 0] * mean_t dL/dout[t]``.
- ``hart`` (HART-style, Hao et al., ICLR 2024): half rate gradient, half
  temporal gradient with the membrane's temporal path cut.
- ``adaptive`` (ASSG-style, Wang et al., arXiv 2512.22522): a sigmoid whose
  width is set per neuron, on every forward pass, from the membrane's own
  statistics, ``w = 2 E_t|u - Vth|`` clipped to [0.1, 4]: sharp where the
  membrane stays near the threshold, wide where it stays far. (The paper
  adapts over attack iterations; here it follows the current input, so it
  re-adapts as the attack moves the image.)

Usage, on a classifier, a purifier or a whole defence (every MLF inside)::

    >>> with attack_surrogate(defense, "rect-0.5"):
    ...     loss = F.cross_entropy(defense(x), y); loss.backward()
    >>> model = SurrogateModel(classifier, "rate")   # an nn.Module for torchattacks

Written by hand: snntorch's surrogates are single-threshold autograd
functions; MLF's backward is fused over K levels and time
(:class:`snnlab.models.neurons.MLFFunction`), so a surrogate here only supplies
``h'`` and two switches.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
from torch import nn

from ..models.neurons import MLF, MLF_WIDTH

SHAPES = ("rectangular", "triangular", "sigmoid", "exponential", "arctan", "ste")
SHORT = {"rectangular": "rect", "triangular": "tri", "sigmoid": "sig", "exponential": "exp", "arctan": "atan"}


# h'(s, w) per shape, elementwise in s = u - Vth; w is a number or a tensor (the fused kernel passes one,
# so that a new width needs no new compile). Surrogate.window and MLF's fused backward both call these.

def _rectangular(s, w):
    return (s.abs() < w / 2).to(s.dtype) / w


def _triangular(s, w):
    return (1 - 2 * s.abs() / w).clamp_min(0) * (2 / w)


def _sigmoid(s, w):
    sig = torch.sigmoid(4 / w * s)
    return 4 / w * sig * (1 - sig)


def _exponential(s, w):
    return torch.exp(-2 * s.abs() / w) / w


def _arctan(s, w):
    return 1 / (w * (1 + (math.pi * s.abs() / w) ** 2))


def _ste(s, w):
    return torch.ones_like(s)


WINDOWS = dict(zip(SHAPES, (_rectangular, _triangular, _sigmoid, _exponential, _arctan, _ste)))
ADAPTIVE_MIN, ADAPTIVE_MAX = 0.1, 4.0  # the adaptive width's clip (ASSG-style)


@dataclass(frozen=True)
class Surrogate:
    """One attack-time backward for MLF.

    Arguments:
        shape: one of ``SHAPES``.
        width: w, the window's width in membrane units (ignored by 'ste').
        temporal: keep the gradient through the membrane's time path (BPTT); False cuts it.
        rate: weight of the rate gradient, 0 (none) to 1 (the rate gradient alone).
        adaptive: set the width per neuron from ``2 E_t|u - Vth|`` (ASSG-style); ``width`` is then unused.
    """

    shape: str = "rectangular"
    width: float = MLF_WIDTH
    temporal: bool = True
    rate: float = 0.0
    adaptive: bool = False

    def __post_init__(self):
        if self.shape not in SHAPES:
            raise ValueError(f"unknown surrogate shape {self.shape!r}; choose one of: {', '.join(SHAPES)}")
        if not self.width > 0:
            raise ValueError(f"surrogate width must be positive, got {self.width}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate weight must be in [0, 1], got {self.rate}")

    def window(self, shifted: torch.Tensor) -> torch.Tensor:
        """h'(u - Vth) for membranes ``shifted = u - Vth``, shaped ``(T, K, N, ...)``."""
        w = self.width
        if self.adaptive:  # per neuron and level: (1, K, N, ...)
            w = (2 * shifted.abs().mean(0, keepdim=True)).clamp(ADAPTIVE_MIN, ADAPTIVE_MAX)
        return WINDOWS[self.shape](shifted, w)

    @property
    def elementwise(self):
        """``h(s, w) -> h'``, elementwise in ``s`` (``w`` a number or a tensor), for MLF's fused backward.

        With it, and ``temporal``, ``rate`` and ``adaptive_clip``, the fused kernel of
        :class:`snnlab.models.neurons.MLFFunction` recomputes the membranes and applies this ``h'``
        in one loop over the elements, instead of storing every step's membranes.
        """
        return WINDOWS[self.shape]

    @property
    def adaptive_clip(self):
        """The adaptive width's clip ``(lo, hi)``, or None when the width is fixed."""
        return (ADAPTIVE_MIN, ADAPTIVE_MAX) if self.adaptive else None

    @property
    def name(self) -> str:
        """A short label, e.g. 'rect-0.5', 'rate', 'hart', 'assg'."""
        for key, value in SURROGATES.items():
            if value == self:
                return key
        return (f"{self.shape}-{self.width:g}" + ("" if self.temporal else "-cut")
                + (f"+rate{self.rate:g}" if self.rate else ""))


def _presets() -> dict:
    presets = {"model": Surrogate()}  # the training surrogate (rectangular, width 1)
    for shape, label in SHORT.items():
        for width in (0.25, 0.5, 1.0, 2.0, 4.0):
            presets[f"{label}-{width:g}"] = Surrogate(shape, width)
    presets["ste"] = Surrogate("ste")
    presets["rate"] = Surrogate(rate=1.0)  # BPTR / RGA-style
    presets["hart"] = Surrogate(temporal=False, rate=0.5)  # HART-style mix
    presets["assg"] = Surrogate("sigmoid", adaptive=True)  # ASSG-style adaptive sharpness
    return presets


SURROGATES = _presets()  # name -> Surrogate


def surrogate(spec) -> Surrogate | None:
    """A :class:`Surrogate` from a name in ``SURROGATES``, a Surrogate, or None (the model's own)."""
    if spec is None or isinstance(spec, Surrogate):
        return spec
    try:
        return SURROGATES[spec]
    except KeyError:
        raise ValueError(f"unknown surrogate {spec!r}; choose one of: {', '.join(SURROGATES)}") from None


@contextlib.contextmanager
def attack_surrogate(model: nn.Module, spec):
    """Inside the block, every MLF neuron of ``model`` backpropagates through ``spec``; restored after.

    Only the backward pass changes. ``spec`` is a name, a :class:`Surrogate`, or None (no change).
    The choice is captured when the forward pass runs, so ``backward()`` may be called after the block.
    """
    chosen = surrogate(spec)
    neurons = [m for m in model.modules() if isinstance(m, MLF)] if chosen is not None else []
    before = [m.surrogate for m in neurons]
    for m in neurons:
        m.surrogate = chosen
    try:
        yield model
    finally:
        for m, old in zip(neurons, before):
            m.surrogate = old


class SurrogateModel(nn.Module):
    """``model`` with an attack-time surrogate: same forward, chosen backward. For attack libraries.

    Example::

        >>> torchattacks.PGD(SurrogateModel(classifier, "rect-0.5"), eps=0.1)(images, labels)
    """

    def __init__(self, model: nn.Module, spec):
        super().__init__()
        self.model, self.surrogate = model, surrogate(spec)

    def forward(self, *args, **kwargs):
        with attack_surrogate(self.model, self.surrogate):
            return self.model(*args, **kwargs)

    def __getattr__(self, name):  # expose the wrapped model's attributes (config, detector, ...)
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "model":
                raise
            return getattr(self.model, name)
