"""Spiking neurons and input encodings.

References
----------
- MLF (multi-level firing): Feng, Liu, Tang, Yan, Xu, "Multi-Level Firing with
  Spiking DS-ResNet", IJCAI 2022 (official code: langfengQ/MLF-DSResNet).
- LIF: snntorch.Leaky (Eshraghian et al., "Training spiking neural networks
  using lessons from deep learning", Proc. IEEE 2023).

Shapes: a spike train carries time first, ``(T, N, ...)``.

MLF is written by hand here because no library ships it. snntorch's surrogate
functions are single-threshold Heavisides; MLF needs K thresholds whose
rectangular windows tile the membrane axis, so the surrogate below is a small
``torch.autograd.Function`` of its own, vectorised over the K levels.
"""
from __future__ import annotations

import torch
from torch import nn

MLF_THRESHOLDS = (0.6, 1.6, 2.6)  # Vth_k for the K=3 levels (official MLF code)
MLF_TAU = 0.25  # membrane decay
MLF_WIDTH = 1.0  # width a of each rectangular surrogate window


class MLFFunction(torch.autograd.Function):
    """MLF over all T steps in one autograd node, with a hand-written backward through time.

    Forward, per level k (vectorised over k as a leading axis)::

        u_k[t] = tau * u_k[t-1] * (1 - o_k[t-1]) + x[t]
        o_k[t] = H(u_k[t] - Vth_k),   out[t] = sum_k o_k[t]

    Backward uses the rectangular surrogate ``h'(u) = 1/a * 1[|u - Vth_k| < a/2]``
    and differentiates through the reset too (as the official MLF code does).
    With ``G[t] = dL/du[t]`` and ``g[t]`` the incoming gradient of ``out[t]``::

        G[t] = h'(u[t]) * g[t] + M[t] * G[t+1],
        M[t] = tau * (1 - o[t]) - tau * u[t] * h'(u[t])       (decay path + reset path)
        dL/dx[t] = sum_k G_k[t]

    ``h'`` and ``M`` are computed in the forward pass, so the backward is one
    fused multiply-add per step. One autograd node instead of a graph of
    ~6 ops per step keeps MLF close to ``snntorch.Leaky`` in speed despite its
    3 levels (see benchmarks/neuron_speed.py). No library ships MLF, so this
    is written by hand.

    An attacker may choose another backward (``surrogate``, any object with
    ``window(u - Vth) -> h'``, ``temporal`` and ``rate``; see
    :mod:`snnlab.attacks.surrogates`). The forward ops are the same; the
    backward then uses that ``h'``, cuts the membrane path ``M[t]`` when
    ``temporal`` is False, and mixes in the rate gradient (BPTR)
    ``dL/dx[t] = 1[mean_t out > 0] * mean_t g[t]`` with weight ``rate``.
    """

    @staticmethod
    def forward(ctx, x, thresholds, tau, width, surrogate=None):
        # x: (T, N, ...); thresholds: (K, 1, ..., 1). Buffers are preallocated and
        # written in place: on CPU this is memory-bound, so passes over memory count.
        # ``surrogate`` (an attack-time backward, see snnlab.attacks.surrogates) changes what is
        # saved for the backward pass only: the forward ops below are the same either way.
        need_grad = ctx.needs_input_grad[0]
        custom = need_grad and surrogate is not None
        need_grad = need_grad and surrogate is None
        steps, levels = x.shape[0], thresholds.shape[0]
        out = x.new_empty(x.shape)  # (T, N, ...)
        u = x.new_zeros((levels, *x.shape[1:]))  # (K, N, ...)
        decay = torch.full_like(u, tau)  # tau * (1 - o[t-1])
        shifted, spikes = torch.empty_like(u), torch.empty_like(u)
        if need_grad:
            windows = x.new_empty((steps, *u.shape))  # h'(u[t]), (T, K, N, ...)
            carries = x.new_empty((steps, *u.shape))  # M[t], (T, K, N, ...)
        if custom:
            membranes = x.new_empty((steps, *u.shape))  # u[t], (T, K, N, ...)
            decays = x.new_empty((steps, *u.shape))  # tau * (1 - o[t]), (T, K, N, ...)
        for t in range(steps):
            torch.addcmul(x[t], u, decay, out=u)  # u = tau * u * (1 - o) + x[t]
            torch.sub(u, thresholds, out=shifted)
            torch.ge(shifted, 0, out=spikes)  # o = H(u - Vth); a float `out` is much faster than bool
            torch.sum(spikes, 0, out=out[t])
            spikes.mul_(-tau).add_(tau)  # now tau * (1 - o)
            decay, spikes = spikes, decay
            if need_grad:
                window = windows[t]
                torch.lt(shifted.abs_(), width / 2, out=window)
                if width != 1.0:
                    window.div_(width)
                torch.mul(u, window, out=carries[t]).mul_(-tau).add_(decay)
            if custom:
                membranes[t].copy_(u)
                decays[t].copy_(decay)
        if custom:
            windows = surrogate.window(membranes - thresholds)  # h'(u[t] - Vth), (T, K, N, ...)
            carries = decays - tau * membranes * windows if surrogate.temporal else None  # M[t]
            rate_mask = (out.mean(0) > 0).to(x.dtype) if surrogate.rate > 0 else None  # (N, ...)
            ctx.surrogate_rate = surrogate.rate
            ctx.save_for_backward(windows, carries, rate_mask)
        elif need_grad:
            ctx.surrogate_rate = 0.0
            ctx.save_for_backward(windows, carries, None)
        return out  # (T, N, ...)

    @staticmethod
    def backward(ctx, grad_out):
        windows, carries, rate_mask = ctx.saved_tensors
        rate = ctx.surrogate_rate
        grad_x = torch.empty_like(grad_out)
        if rate < 1.0:  # the temporal gradient (BPTT through the surrogate)
            if carries is None:  # the membrane's temporal path cut: each step's gradient stays local
                torch.sum(windows * grad_out.unsqueeze(1), 1, out=grad_x)
            else:
                g = torch.zeros_like(windows[0])  # dL/du[t+1], (K, N, ...)
                for t in range(windows.shape[0] - 1, -1, -1):
                    torch.addcmul(windows[t] * grad_out[t], carries[t], g, out=g)
                    torch.sum(g, 0, out=grad_x[t])
        if rate > 0.0:  # the rate gradient (BPTR): d rate / d mean input = 1 where the neuron fires
            rate_grad = (rate_mask * grad_out.mean(0)).expand_as(grad_out)
            grad_x = rate_grad if rate == 1.0 else (1 - rate) * grad_x + rate * rate_grad
        return grad_x, None, None, None, None


class MLF(nn.Module):
    r"""Multi-level firing neuron (K membranes, one shared input).

    For every level k = 1..K, over time steps t::

        u_k[t] = tau * u_k[t-1] * (1 - o_k[t-1]) + x[t]     (hard reset)
        o_k[t] = H(u_k[t] - Vth_k)
        out[t] = sum_k o_k[t]                                 (0..K)

    with Vth = (0.6, 1.6, 2.6), tau = 0.25 and a rectangular surrogate of
    width 1 around each threshold. The K levels are one extra leading tensor
    axis, so each time step is a handful of tensor ops whatever K is.

    State lives inside ``forward``: two calls on the same input give the same
    output (unlike snntorch neurons, which keep hidden state between calls).

    Args:
        thresholds: the K firing thresholds (default 0.6, 1.6, 2.6).
        tau: membrane decay (default 0.25).
        width: surrogate window width a (default 1.0).

    Shape:
        input ``(T, N, ...)`` membrane input current; output ``(T, N, ...)``
        spike counts in {0, ..., K}.

    Example::

        >>> neuron = MLF()
        >>> x = torch.full((4, 1), 1.0)   # T=4 steps of constant input 1.0
        >>> neuron(x).squeeze(1).tolist()  # level 1 fires at u=1.0, then resets
        [1.0, 1.0, 1.0, 1.0]
    """

    def __init__(self, thresholds=MLF_THRESHOLDS, tau: float = MLF_TAU, width: float = MLF_WIDTH):
        super().__init__()
        if len(thresholds) < 1 or any(b <= a for a, b in zip(thresholds, thresholds[1:])):
            raise ValueError(f"MLF thresholds must be a non-empty increasing sequence, got {thresholds}")
        if not 0.0 <= tau < 1.0:
            raise ValueError(f"MLF tau must be in [0, 1), got {tau}")
        self.register_buffer("thresholds", torch.tensor(thresholds, dtype=torch.float32), persistent=False)
        self.tau = float(tau)
        self.width = float(width)
        self.surrogate = None  # an attack-time backward (snnlab.attacks.surrogates); None: the training one

    @property
    def levels(self) -> int:
        return int(self.thresholds.numel())

    def _vth(self, x: torch.Tensor) -> torch.Tensor:
        return self.thresholds.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))  # (K, 1, ..., 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return MLFFunction.apply(x, self._vth(x), self.tau, self.width, self.surrogate)  # (T, N, ...)

    @torch.no_grad()
    def states(self, x: torch.Tensor):
        """Every level's membrane and spikes per step, ``(T, K, N, ...)`` each, for plots (no gradient)."""
        vth = self._vth(x)
        u = x.new_zeros((self.levels, *x.shape[1:]))
        o = torch.zeros_like(u)
        mems, spikes = [], []
        for t in range(x.shape[0]):
            u = self.tau * u * (1.0 - o) + x[t]
            o = (u >= vth).to(x.dtype)
            mems.append(u)
            spikes.append(o)
        return torch.stack(mems), torch.stack(spikes)


def direct_encode(images: torch.Tensor, steps: int) -> torch.Tensor:
    """Direct encoding: the analog image repeated at every step. ``(N, ...) -> (T, N, ...)``."""
    return images.unsqueeze(0).expand(steps, *images.shape)


def rate_encode(images: torch.Tensor, steps: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Rate (Bernoulli/Poisson-like) encoding: pixel value = firing probability per step.

    ``(N, ...) -> (T, N, ...)`` of 0/1 spikes. The sample is random, so an attack
    on a rate-encoded model needs EOT (average gradients over samples). The
    gradient is passed straight through (d spike / d pixel = 1), the usual
    estimator for Bernoulli encoders.
    """
    probs = images.unsqueeze(0).expand(steps, *images.shape)
    spikes = torch.bernoulli(probs.detach(), generator=generator)
    return probs + (spikes - probs).detach()


ENCODINGS = {"direct": direct_encode, "rate": rate_encode}


def encode(images: torch.Tensor, steps: int, encoding: str = "direct") -> torch.Tensor:
    """Encode ``(N, ...)`` images as a ``(T, N, ...)`` input train by name ('direct' or 'rate')."""
    try:
        return ENCODINGS[encoding](images, steps)
    except KeyError:
        raise ValueError(f"unknown encoding {encoding!r}; choose one of {sorted(ENCODINGS)}") from None


def lif_trace(current: torch.Tensor, beta: float = 0.9, threshold: float = 1.0, reset: str = "subtract"):
    """Run one ``snntorch.Leaky`` neuron over a current trace and return its history.

    A thin wrapper used by the lessons, so that a student sees snntorch's own
    neuron. The membrane is initialised inside this call (``init_leaky``), so
    no state leaks between calls.

    Args:
        current: ``(T,)`` or ``(T, N)`` input current.
        beta: membrane decay per step.
        threshold: firing threshold.
        reset: 'subtract', 'zero' or 'none' (snntorch's reset mechanisms).

    Returns:
        ``(membrane, spikes)``, each shaped like ``current``; membrane is the
        value after the update and reset of each step.
    """
    import snntorch as snn

    if reset not in ("subtract", "zero", "none"):
        raise ValueError(f"reset must be 'subtract', 'zero' or 'none', got {reset!r}")
    neuron = snn.Leaky(beta=beta, threshold=threshold, reset_mechanism=reset)
    mem = neuron.init_leaky()
    mems, spikes = [], []
    with torch.no_grad():
        for t in range(current.shape[0]):
            spk, mem = neuron(current[t], mem)
            mems.append(mem)
            spikes.append(spk)
    return torch.stack(mems), torch.stack(spikes)


def mlf_trace(current: torch.Tensor, levels: int = 3, tau: float = MLF_TAU):
    """Run one MLF neuron with the first ``levels`` thresholds over a ``(T,)`` current.

    Returns ``(membranes (T, K), spikes (T, K))``, one column per level, for plotting.
    """
    if not 1 <= levels <= len(MLF_THRESHOLDS):
        raise ValueError(f"levels must be between 1 and {len(MLF_THRESHOLDS)}, got {levels}")
    mems, spikes = MLF(MLF_THRESHOLDS[:levels], tau=tau).states(current.reshape(-1, 1).float())
    return mems[:, :, 0], spikes[:, :, 0]  # (T, K)


@torch.no_grad()
def record_spikes(model: nn.Module, images: torch.Tensor) -> dict:
    """Spike trains ``(T, N, ...)`` of every MLF layer of ``model`` for one forward pass, by module name.

    Uses forward hooks that are removed afterwards, so the model is unchanged.
    """
    spikes = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: spikes.__setitem__(name, out.detach()))
             for name, m in model.named_modules() if isinstance(m, MLF)]
    try:
        model(images)
    finally:
        for hook in hooks:
            hook.remove()
    return spikes
