"""Choosing the torch device: ``"auto"`` (CUDA, then Apple MPS, then CPU) or a named one, checked.

    >>> resolve_device("auto")      # device(type='cuda', index=0) on a GPU machine, else mps, else cpu
    >>> resolve_device("cuda")      # ValueError on a machine without CUDA, naming the fix

A named device that this machine cannot provide gets one clear ValueError (the CLI prints it as one
line), not a traceback from deep inside torch.

On CUDA, fp32 convolutions and matrix products are kept in full fp32 (PyTorch may otherwise use
TF32, about 1e-3 off: enough to flip a spike, so the shipped detector threshold, calibrated on the
CPU, would no longer hold); mixed precision is asked for explicitly (bf16 autocast in
:mod:`snnlab.training.distributed`). ``CUBLAS_WORKSPACE_CONFIG`` is set (unless already set) so that
deterministic algorithms work on CUDA.

Models move their inputs to their own device (:func:`follow`), so data on the CPU works with a model
on the GPU; outputs stay on the model's device.
"""
from __future__ import annotations

import os

import torch

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when cuBLAS starts: deterministic GEMMs

CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _full_fp32(device: torch.device) -> torch.device:
    """No TF32 in fp32 convolutions and matrix products on CUDA (see the module docstring)."""
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    return device


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``device`` as a ``torch.device`` this machine has: ``"auto"`` picks CUDA, then MPS, then CPU."""
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise ValueError(f"device must be a string such as {', '.join(CHOICES)}, got {type(device).__name__}")
    name = device.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return _full_fp32(torch.device("cuda"))
        return torch.device("mps" if _mps_available() else "cpu")
    try:
        chosen = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}; choose from {', '.join(CHOICES)}") from None
    if chosen.type == "cpu":
        return chosen
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            why = "this PyTorch was built without CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise ValueError(f"device {device!r} is not available: {why}; use 'cpu', or 'auto', which falls "
                             "back to the CPU")
        if chosen.index is not None and chosen.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r} is not available: this machine has {torch.cuda.device_count()} "
                             f"CUDA device(s), numbered from 0")
        return _full_fp32(chosen)
    if chosen.type == "mps":
        if not _mps_available():
            raise ValueError(f"device {device!r} is not available: Apple MPS needs a Mac with Metal; use 'cpu' "
                             "or 'auto'")
        return chosen
    raise ValueError(f"unsupported device {device!r}; choose from {', '.join(CHOICES)}")


def follow(module: torch.nn.Module, *tensors: torch.Tensor):
    """``tensors`` moved to ``module``'s device (that of its first parameter or buffer); one tensor comes back
    alone. Models call it on their inputs, so CPU data works with a model on the GPU; outputs stay there."""
    ref = next(iter(module.parameters()), None)
    if ref is None:
        ref = next(iter(module.buffers()), None)
    moved = tensors if ref is None else tuple(t.to(ref.device) for t in tensors)
    return moved[0] if len(moved) == 1 else moved
