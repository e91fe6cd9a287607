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

Speed: the neuron is elementwise, so its cost is passes over memory. Where
``torch.compile`` works (a C++ compiler on CPUs, Triton on GPUs), forward and
backward each run as one compiled loop over the elements (the fused kernels
below); elsewhere, or with ``SNNLAB_MLF=eager`` / :func:`set_backend`, an eager
formulation with preallocated in-place buffers. Both give the same bits
(``tests/test_neurons.py``); ``benchmarks/neuron_speed.py`` times them.
"""
from __future__ import annotations

import logging
import math
import os
import warnings

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

    Two implementations give the same bits. The **fused** one (the default wherever
    ``torch.compile`` works, for tensors of at least ``FUSED_MIN_NUMEL`` elements) runs each
    direction as one compiled loop over the elements and saves only the input; the **eager**
    one below computes ``h'`` and ``M`` in the forward pass and saves them, so its backward is
    one multiply-add per step. No library ships MLF, so both are written by hand.

    An attacker may choose another backward (``surrogate``, any object with
    ``window(u - Vth) -> h'``, ``temporal`` and ``rate``; see
    :mod:`snnlab.attacks.surrogates`). The forward ops are the same; the
    backward then uses that ``h'``, cuts the membrane path ``M[t]`` when
    ``temporal`` is False, and mixes in the rate gradient (BPTR)
    ``dL/dx[t] = 1[mean_t out > 0] * mean_t g[t]`` with weight ``rate``. A rectangular,
    temporal surrogate whose width is a power of two runs the fused backward at its width
    (the same bits); one that gives its ``h'`` elementwise (``elementwise``, as every
    :class:`snnlab.attacks.surrogates.Surrogate` does) runs one fused loop that recomputes the
    membranes and applies it (the same bits as eager for every shape but 'exponential', whose
    compiled exp differs in the last bits: gradients within 1e-5, ``tests/test_neurons.py``);
    any other object replays the membranes fused and applies its ``window`` eagerly.
    """

    @staticmethod
    def forward(ctx, x, thresholds, tau, width, surrogate=None, values=None):
        # x: (T, N, ...); thresholds: (K, 1, ..., 1); values: the same K thresholds as Python floats
        # (read from the tensor when not given). ``surrogate`` (an attack-time backward, see
        # snnlab.attacks.surrogates) changes what is saved for the backward pass only.
        need_grad = ctx.needs_input_grad[0]
        ctx.tau, ctx.width, ctx.surrogate = tau, width, surrogate
        ctx.values = tuple(values) if values is not None else tuple(thresholds.flatten().tolist())
        if _use_fused(x):
            ctx.constants = _constants(x, ctx.values, tau)  # thresholds (K,) and tau, for both directions
            out = _run("spikes", _flat(x), *ctx.constants)
            if out is not None:
                out = out.view(x.shape)
                ctx.mode = "fused"
                if need_grad:
                    ctx.save_for_backward(x, out)
                return out  # (T, N, ...)
        ctx.mode = "eager"
        return _eager_forward(ctx, x, thresholds, tau, width, surrogate, need_grad)

    @staticmethod
    def backward(ctx, grad_out):
        if ctx.mode == "eager":
            windows, carries, rate_mask = ctx.saved_tensors
            return (_eager_backward(windows, carries, rate_mask, ctx.surrogate_rate, grad_out),
                    None, None, None, None, None)
        x, out = ctx.saved_tensors
        flat, shape, constants = _flat(x), x.shape, ctx.constants
        width = _fused_backward_width(ctx.surrogate, ctx.width)
        if width is not None:
            width = torch.tensor(width, dtype=x.dtype, device=x.device)
            grad_flat = _flat(grad_out)
            grad = _run("grad", flat, grad_flat, *constants, width)
            if grad is None:  # the compiler failed: the same maths, eagerly
                grad = _fused_grad(flat, grad_flat, *constants, width)
            return grad.view(shape), None, None, None, None, None
        surrogate = ctx.surrogate
        h = getattr(surrogate, "elementwise", None)
        if surrogate.rate == 1.0:  # the rate gradient alone needs no membranes
            grad = _rate_mix(None, out, grad_out, 1.0)
        elif h is not None:  # one loop: membranes recomputed, the surrogate's h' applied, back through time
            args = (flat, _flat(grad_out), *constants, torch.tensor(surrogate.width, dtype=x.dtype, device=x.device),
                    h, bool(surrogate.temporal), getattr(surrogate, "adaptive_clip", None))
            grad = _run("surrogate", *args)
            if grad is None:  # the compiler failed: the same maths, eagerly
                grad = _fused_surrogate_grad(*args)
            grad = _rate_mix(grad.view(shape), out, grad_out, surrogate.rate)
        else:  # any other surrogate object: replay the membranes fused, apply its window eagerly
            replayed = _run("replay", flat, *constants)
            membranes, decays = replayed if replayed is not None else _fused_replay(flat, *constants)
            membranes, decays = membranes.view(shape[0], -1, *shape[1:]), decays.view(shape[0], -1, *shape[1:])
            windows, carries, rate_mask = _surrogate_terms(surrogate, membranes, decays, out, ctx.values, ctx.tau)
            grad = _eager_backward(windows, carries, rate_mask, surrogate.rate, grad_out)
        return grad, None, None, None, None, None


def _eager_forward(ctx, x, thresholds, tau, width, surrogate, need_grad):
    """The eager MLF forward: preallocated buffers written in place, ``h'`` and ``M`` saved per step."""
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
        ctx.surrogate_rate = surrogate.rate
        ctx.save_for_backward(*_surrogate_terms(surrogate, membranes, decays, out, thresholds, tau))
    elif need_grad:
        ctx.surrogate_rate = 0.0
        ctx.save_for_backward(windows, carries, None)
    return out  # (T, N, ...)


def _surrogate_terms(surrogate, membranes, decays, out, thresholds, tau):
    """An attack-time surrogate's ``h'`` and ``M`` per step, ``(T, K, N, ...)``, and the rate mask ``(N, ...)``."""
    if not torch.is_tensor(thresholds):
        thresholds = membranes.new_tensor(thresholds).view(-1, *([1] * (membranes.dim() - 2)))
    windows = surrogate.window(membranes - thresholds)  # h'(u[t] - Vth), (T, K, N, ...)
    carries = decays - tau * membranes * windows if surrogate.temporal else None  # M[t]
    rate_mask = (out.mean(0) > 0).to(out.dtype) if surrogate.rate > 0 else None  # (N, ...)
    return windows, carries, rate_mask


def _eager_backward(windows, carries, rate_mask, rate, grad_out):
    """Backward through time from saved ``h'`` and ``M`` (``(T, K, N, ...)``), plus the rate gradient."""
    grad_x = torch.empty_like(grad_out)
    if rate < 1.0:  # the temporal gradient (BPTT through the surrogate)
        if carries is None:  # the membrane's temporal path cut: each step's gradient stays local
            torch.sum(windows * grad_out.unsqueeze(1), 1, out=grad_x)
        else:
            g = torch.zeros_like(windows[0])  # dL/du[t+1], (K, N, ...)
            for t in range(windows.shape[0] - 1, -1, -1):
                torch.addcmul(windows[t] * grad_out[t], carries[t], g, out=g)
                torch.sum(g, 0, out=grad_x[t])
    return _rate_mix(grad_x, None, grad_out, rate, rate_mask)


def _rate_mix(grad_x, out, grad_out, rate, rate_mask=None):
    """Mix the rate gradient (BPTR) into ``grad_x`` with weight ``rate``: ``d rate / d mean input`` is 1 where
    the neuron fires, so every step gets ``1[mean_t out > 0] * mean_t g[t]``. ``(T, N, ...)`` in and out."""
    if rate == 0.0:
        return grad_x
    if rate_mask is None:
        rate_mask = (out.mean(0) > 0).to(out.dtype)  # (N, ...)
    rate_grad = (rate_mask * grad_out.mean(0)).expand_as(grad_out)
    return rate_grad if rate == 1.0 else (1 - rate) * grad_x + rate * rate_grad


def _fused_backward_width(surrogate, width):
    """The rectangular width the fused backward can run for this surrogate, or None (it needs the replay)."""
    if surrogate is None:
        return width
    if (getattr(surrogate, "shape", None) == "rectangular" and surrogate.temporal and surrogate.rate == 0
            and not getattr(surrogate, "adaptive", False) and math.frexp(surrogate.width)[0] == 0.5):
        return surrogate.width  # 1/w exact: the same bits as the surrogate's own formula
    return None


# ---------------------------------------------------------------------------------------------
# The fused kernels. MLF is elementwise: per element it reads T inputs, runs K membranes over T
# steps and writes T spike counts. Written as plain tensor ops with T and K unrolled, torch.compile
# (inductor: C++/OpenMP loops on CPUs, Triton on GPUs) turns each function below into one loop over
# the elements that keeps every membrane in registers: one pass over memory each way instead of a
# dozen per step. The backward saves only the input and recomputes the membranes (cheaper than
# storing K x T windows and carries). The ops are the eager ones in the same order, inductor does not
# contract a*b+c (-ffp-contract=off), and the one multiply-add eager fuses (addcmul) is an explicit
# fma here, so spikes and gradients are bit-identical to the eager path (tests/test_neurons.py).
# benchmarks/neuron_speed.py has the measurements that chose this (eager vs fused, vs ReLU, vs Leaky).
# ---------------------------------------------------------------------------------------------

def _fma(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``a * b + c`` rounded once, as eager ``torch.addcmul(c, a, b)`` computes it on CPU and GPU."""
    if _inductor_fma is not None and torch.compiler.is_compiling():
        return _inductor_fma(a, b, c)
    return torch.addcmul(c, a, b)  # eager (and PyTorch without inductor's fma): the same single rounding


try:  # inductor's fused multiply-add (lowers to fmadd / tl.fma); private, so guarded
    from torch._inductor.inductor_prims import fma as _inductor_fma
except Exception:  # pragma: no cover - a PyTorch without it
    _inductor_fma = None


# The kernels take the thresholds (K,), tau and width as tensors, not Python numbers: a new value
# then needs no new compile (only a new T, K, dtype or device does). Shapes: x (T, M), M = N*C*H*W.

def _membranes(x: torch.Tensor, thresholds: torch.Tensor, tau: torch.Tensor):
    """Replay the forward: per step and level the membrane ``u`` and ``tau * (1 - o)``, as nested lists."""
    levels = thresholds.shape[0]
    us, decays = [], []
    u, decay = [None] * levels, [None] * levels
    for t in range(x.shape[0]):
        for k in range(levels):
            u[k] = x[t] if t == 0 else x[t] + u[k] * decay[k]  # u*decay is exact (decay is 0 or tau)
            decay[k] = tau - tau * ((u[k] - thresholds[k]) >= 0).to(x.dtype)  # tau * (1 - o)
        us.append(list(u))
        decays.append(list(decay))
    return us, decays


def _fused_spikes(x: torch.Tensor, thresholds: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """MLF's forward, ``(T, M) -> (T, M)`` spike counts, one loop over the elements once compiled."""
    us, _ = _membranes(x, thresholds, tau)
    out = []
    for t in range(x.shape[0]):
        count = ((us[t][0] - thresholds[0]) >= 0).to(x.dtype)
        for k in range(1, thresholds.shape[0]):
            count = count + ((us[t][k] - thresholds[k]) >= 0).to(x.dtype)
        out.append(count)
    return torch.stack(out)


def _fused_grad(x: torch.Tensor, grad_out: torch.Tensor, thresholds: torch.Tensor, tau: torch.Tensor,
                width: torch.Tensor) -> torch.Tensor:
    """MLF's backward through time, rectangular surrogate of ``width``, membranes recomputed from ``x``.

    ``G[t] = h'(u[t]) g[t] + M[t] G[t+1]``, ``M[t] = tau (1 - o[t]) - tau u[t] h'(u[t])``,
    ``dL/dx[t] = sum_k G_k[t]`` (the equations of :class:`MLFFunction`). ``(T, M)`` in and out.
    """
    us, decays = _membranes(x, thresholds, tau)
    steps, levels = x.shape[0], thresholds.shape[0]
    windows, carries = [], []
    for t in range(steps):
        w_t, m_t = [], []
        for k in range(levels):
            w = ((us[t][k] - thresholds[k]).abs() < width / 2).to(x.dtype) / width  # h'(u); /1 is exact
            w_t.append(w)
            m_t.append((us[t][k] * w) * -tau + decays[t][k])  # M[t]
        windows.append(w_t)
        carries.append(m_t)
    return _through_time(windows, carries, grad_out)


def _through_time(windows: list, carries: list | None, grad_out: torch.Tensor) -> torch.Tensor:
    """``G[t] = h'[t] g[t] + M[t] G[t+1]`` backwards from the last step, ``dL/dx[t] = sum_k G_k[t]``.

    ``windows`` and ``carries`` are nested lists ``[t][k]`` of ``(M,)`` tensors; ``carries`` None cuts the
    membrane's temporal path (``M = 0``). ``grad_out`` ``(T, M)`` -> ``(T, M)``.
    """
    steps, levels = len(windows), len(windows[0])
    g = [None] * levels  # dL/du[t+1] per level
    grads = [None] * steps
    for t in range(steps - 1, -1, -1):
        for k in range(levels):
            local = windows[t][k] * grad_out[t]
            g[k] = local if carries is None or t == steps - 1 else _fma(carries[t][k], g[k], local)
        total = g[0]
        for k in range(1, levels):
            total = total + g[k]
        grads[t] = total
    return torch.stack(grads)


def _fused_replay(x: torch.Tensor, thresholds: torch.Tensor, tau: torch.Tensor):
    """Membranes and ``tau * (1 - o)`` for every step and level, ``(T, K, M)`` each (attack surrogates)."""
    us, decays = _membranes(x, thresholds, tau)
    return torch.stack([torch.stack(u) for u in us]), torch.stack([torch.stack(d) for d in decays])


def _fused_surrogate_grad(x: torch.Tensor, grad_out: torch.Tensor, thresholds: torch.Tensor, tau: torch.Tensor,
                          width: torch.Tensor, h, temporal: bool, adaptive_clip=None) -> torch.Tensor:
    """MLF's backward through time for an attack-time surrogate ``h(s, w) -> h'`` (elementwise in ``s``).

    The equations of :func:`_fused_grad` with the surrogate's ``h'`` in place of the rectangle; ``temporal``
    False cuts the membrane path (``M = 0``); ``adaptive_clip = (lo, hi)`` sets ``w = 2 mean_t |u - Vth|`` per
    element and level, clipped to [lo, hi] (ASSG-style). The rate gradient is mixed in by the caller.
    ``(T, M)`` in and out. The ops are those of the eager replay in the same order; only the compiled exp
    rounds differently from eager's, so 'exponential' agrees to 1e-5 and every other shape bit for bit.
    """
    us, decays = _membranes(x, thresholds, tau)
    steps, levels = x.shape[0], thresholds.shape[0]
    windows = [[None] * levels for _ in range(steps)]
    for k in range(levels):
        shifted = [us[t][k] - thresholds[k] for t in range(steps)]
        w = width
        if adaptive_clip is not None:
            total = shifted[0].abs()
            for t in range(1, steps):
                total = total + shifted[t].abs()
            w = (2 * (total / steps)).clamp(*adaptive_clip)
        for t in range(steps):
            windows[t][k] = h(shifted[t], w)
    carries = None
    if temporal:  # M[t], as the eager replay computes it (_surrogate_terms)
        carries = [[decays[t][k] - (tau * us[t][k]) * windows[t][k] for k in range(levels)] for t in range(steps)]
    return _through_time(windows, carries, grad_out)


# Which implementation runs. 'auto': fused where torch.compile works and the tensor is big enough
# to repay a compile (seconds, once per process and shape family; inductor caches on disk);
# 'eager' never compiles. SNNLAB_MLF=eager in the environment sets it before import.
FUSED_MIN_NUMEL = 1 << 15
SURROGATE_VARIANTS = 64  # compiled variants of the surrogate kernel (window shape x temporal x T x dtype)
BACKENDS = ("auto", "eager")
_backend = os.environ.get("SNNLAB_MLF", "auto")
_kernels: dict = {}
_kernels_ran: set = set()  # kernels that compiled and ran once
_fused_failed: list = []  # the compiler's error, once it failed (then everything runs eager)


def set_backend(name: str) -> None:
    """Choose MLF's implementation: 'auto' (fused where torch.compile works) or 'eager'. Same results."""
    global _backend
    if name not in BACKENDS:
        raise ValueError(f"unknown MLF backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    _backend = name


def fused_status() -> str:
    """'fused', 'eager (chosen)' or 'eager (torch.compile failed: ...)': what MLF runs on big tensors now."""
    if _backend == "eager":
        return "eager (chosen)"
    if _fused_failed:
        return f"eager (torch.compile failed: {_fused_failed[0]})"
    return "fused"


def _constants(x: torch.Tensor, values: tuple, tau: float):
    """The thresholds ``(K,)`` and tau as tensors of ``x``'s dtype and device, for the kernels."""
    return (torch.tensor(values, dtype=x.dtype, device=x.device), torch.tensor(tau, dtype=x.dtype, device=x.device))


def _flat(x: torch.Tensor) -> torch.Tensor:
    """``(T, N, ...) -> (T, M)``, contiguous: one compiled kernel serves every layer shape.

    ``detach`` makes the result a tensor of its own rather than a view, so dynamo does not guard
    on (and recompile for) the shape of the tensor it was viewed from. The kernels run inside
    the autograd node, which owns the gradient, so nothing is lost.
    """
    return x.contiguous().view(x.shape[0], -1).detach()


def _use_fused(x: torch.Tensor) -> bool:
    if _backend not in BACKENDS:
        raise ValueError(f"SNNLAB_MLF={_backend!r} is not a backend; choose one of: {', '.join(BACKENDS)}")
    return (_backend == "auto" and not _fused_failed and x.numel() >= FUSED_MIN_NUMEL
            and x.dtype in (torch.float32, torch.float64) and not torch.jit.is_scripting())


def _run(name: str, *args):
    """Run fused kernel ``name``, compiling it on first use; None where it cannot (then the caller runs eager).

    A compiler that fails on first use (no C++ compiler, no Triton, an unsupported platform) turns
    the fused path off for the process, said in one warning. A kernel that has run before and then
    fails (say, too many shape variants for dynamo's recompile limit) runs that call eagerly.
    """
    if _fused_failed:
        return None
    kernel = _kernels.get(name)
    if kernel is None:
        # inductor imports torch.utils.cpp_extension, which logs a warning about CUDA_HOME on CPU-only
        # machines; it is about CUDA extensions, not this kernel, and would print in every notebook
        cpp_log = logging.getLogger("torch.utils.cpp_extension")
        if cpp_log.level == logging.NOTSET:
            cpp_log.setLevel(logging.ERROR)
        fn = {"spikes": _fused_spikes, "grad": _fused_grad, "replay": _fused_replay,
              "surrogate": _fused_surrogate_grad}[name]
        kernel = _kernels[name] = torch.compile(fn, dynamic=True, fullgraph=True)
    try:
        if name == "surrogate":  # one compiled variant per window shape and T: more than dynamo's default 8
            with torch._dynamo.config.patch(recompile_limit=SURROGATE_VARIANTS):
                result = kernel(*args)
        else:
            result = kernel(*args)
    except Exception as error:
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        if name in _kernels_ran:
            if (name, reason) not in _kernels_ran:
                _kernels_ran.add((name, reason))
                warnings.warn(f"snnlab: the fused MLF kernel {name!r} could not compile a new variant ({reason}); "
                              "those calls run eager (same results, slower).", stacklevel=3)
            return None
        _fused_failed.append(reason)
        warnings.warn(f"snnlab: torch.compile is unavailable here ({reason}); MLF neurons run eager "
                      "(same results, slower). Set SNNLAB_MLF=eager to skip the attempt.", stacklevel=3)
        return None
    _kernels_ran.add(name)
    return result


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
        self.values = tuple(self.thresholds.tolist())  # the same, as Python floats (no device sync per call)
        self.tau = float(tau)
        self.width = float(width)
        self.surrogate = None  # an attack-time backward (snnlab.attacks.surrogates); None: the training one

    @property
    def levels(self) -> int:
        return int(self.thresholds.numel())

    def _vth(self, x: torch.Tensor) -> torch.Tensor:
        return self.thresholds.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))  # (K, 1, ..., 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return MLFFunction.apply(x, self._vth(x), self.tau, self.width, self.surrogate, self.values)  # (T, N, ...)

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
