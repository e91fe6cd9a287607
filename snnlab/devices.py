"""Choosing the torch device: ``"auto"`` (CUDA, then Apple MPS, then CPU) or a named one, checked.

    >>> resolve_device("auto")      # device(type='cuda', index=0) on a GPU machine, else mps, else cpu
    >>> resolve_device("cuda")      # ValueError on a machine without CUDA, naming the fix

A named device that this machine cannot provide gets one clear ValueError (the CLI prints it as one
line), not a traceback from deep inside torch.
"""
from __future__ import annotations

import torch

CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``device`` as a ``torch.device`` this machine has: ``"auto"`` picks CUDA, then MPS, then CPU."""
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise ValueError(f"device must be a string such as {', '.join(CHOICES)}, got {type(device).__name__}")
    name = device.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
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
        return chosen
    if chosen.type == "mps":
        if not _mps_available():
            raise ValueError(f"device {device!r} is not available: Apple MPS needs a Mac with Metal; use 'cpu' "
                             "or 'auto'")
        return chosen
    raise ValueError(f"unsupported device {device!r}; choose from {', '.join(CHOICES)}")
