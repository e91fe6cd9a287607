"""A small DDPM for 8x8 images, built on the consistency purifier's denoiser: one diffusion model in snnlab.

DataElixir (Zhou et al., AAAI 2024) noises each training image to a step ``t*`` of a DDPM
(Ho et al., 2020) and denoises it back. A DDPM and a noise-conditioned denoiser are the same model
in two parametrisations (Karras et al., 2022): the DDPM state
``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) e`` on [-1, 1] images, divided by ``sqrt(abar_t)``, is
``x_0 + sigma_t e`` with ``sigma_t = sqrt((1 - abar_t) / abar_t)``. So snnlab's DDPM *is* a
:class:`snnlab.purifiers.consistency.ConsistencyPurifier` network, trained without the semantic
fine-tune on denoising over the noise levels the schedule visits, and sampled here with DDPM's
ancestral steps from its ``x_0`` estimate:

- :class:`Schedule`: the linear beta schedule of Ho et al. (1e-4 to 0.02 over 1000 steps),
  rescaled to ``T`` steps (default 100), as in the lesson-scale recipe of the design notes;
- :meth:`DDPM.noise` ``q(x_t | x_0)``; :meth:`DDPM.step` one ancestral step ``p(x_{t-1} | x_t)``;
  :meth:`DDPM.round_trip` noise to ``t*`` and denoise back, keeping the last states;
- :func:`train_ddpm` / :func:`train_ddpm_into` (seeded, resumable, as :mod:`snnlab.training.trainers`) and
  :func:`load_ddpm` (the shipped one, trained on the clean digits train split).

Written by hand: no library ships a DDPM small enough for 8x8 digits on a laptop.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace

import torch
from torch import nn

from ..data.datasets import check_images, load_dataset
from ..runs.checkpoints import tensors_sha256, verify_recorded
from . import load_checkpoint_file
from .consistency import ConsistencyConfig, ConsistencyPurifier, ConsistencyTraining, train_consistency


@dataclass(frozen=True)
class Schedule:
    """DDPM's linear beta schedule over ``steps`` steps (Ho et al.'s 1e-4..0.02 at 1000, rescaled)."""
    steps: int = 100

    @property
    def betas(self) -> torch.Tensor:  # (T,); betas[t - 1] is beta_t
        scale = 1000 / self.steps
        return torch.linspace(1e-4 * scale, 0.02 * scale, self.steps, dtype=torch.float64)

    @property
    def alpha_bars(self) -> torch.Tensor:  # (T,); abar_t = prod_{s <= t} (1 - beta_s)
        return torch.cumprod(1 - self.betas, 0)

    def sigma(self, t: int) -> float:
        """The noise std of step ``t`` seen as ``x_0 + sigma e``, on [0, 1] images (half that on [-1, 1])."""
        abar = float(self.alpha_bars[t - 1])
        return 0.5 * ((1 - abar) / abar) ** 0.5


def ddpm_config(dataset: str = "digits") -> ConsistencyConfig:
    """The denoiser of the DDPM: narrower than the purifier's, trained over every level up to step 40."""
    return replace(ConsistencyConfig.for_dataset(dataset), width=32, sigma_min=0.01, sigma_max=1.25)


class DDPM(nn.Module):
    """A DDPM sampler around a denoiser ``D(x + sigma e, sigma) ~ x`` (images on [0, 1]).

    Example::

        >>> ddpm = load_ddpm("digits")
        >>> final, states = ddpm.round_trip(images, t_star=10, keep=5, generator=torch.Generator().manual_seed(0))
        >>> final.shape, states.shape     # (N, C, H, W), (N, 5, C, H, W)
    """

    def __init__(self, denoiser: ConsistencyPurifier, schedule: Schedule | None = None):
        super().__init__()
        self.denoiser, self.schedule = denoiser, schedule or Schedule()
        self.source = "in memory"  # the checkpoint it was loaded from (load_ddpm), for the records

    def _check_t(self, t: int) -> None:
        if not 1 <= t <= self.schedule.steps:
            raise ValueError(f"step t must lie in 1..{self.schedule.steps}, got {t}")

    def noise(self, images: torch.Tensor, t: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``x_t ~ q(x_t | x_0)`` on [-1, 1] for ``images`` on [0, 1]: ``(N, C, H, W)``."""
        self._check_t(t)
        abar = float(self.schedule.alpha_bars[t - 1])
        e = torch.randn(images.shape, generator=generator).to(images.device)
        return abar ** 0.5 * (2 * images - 1) + (1 - abar) ** 0.5 * e

    @torch.no_grad()
    def step(self, x_t: torch.Tensor, t: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """One ancestral step ``x_{t-1} ~ p(x_{t-1} | x_t)`` on [-1, 1], through the ``x_0`` estimate."""
        self._check_t(t)
        betas, abars = self.schedule.betas, self.schedule.alpha_bars
        beta, abar = float(betas[t - 1]), float(abars[t - 1])
        abar_prev = float(abars[t - 2]) if t > 1 else 1.0
        x0 = 2 * self.denoiser.denoise((x_t / abar ** 0.5 + 1) / 2, self.schedule.sigma(t)) - 1  # (N, C, H, W)
        mean = (abar_prev ** 0.5 * beta * x0 + (1 - beta) ** 0.5 * (1 - abar_prev) * x_t) / (1 - abar)
        if t == 1:
            return mean
        variance = beta * (1 - abar_prev) / (1 - abar)  # Ho et al.'s posterior variance (beta tilde)
        return mean + variance ** 0.5 * torch.randn(x_t.shape, generator=generator).to(x_t.device)

    @torch.no_grad()
    def round_trip(self, images: torch.Tensor, t_star: int, keep: int = 1,
                   generator: torch.Generator | None = None):
        """Noise ``images`` (on [0, 1]) to step ``t_star`` and denoise back to step 0.

        Returns ``(final, states)``: the result ``(N, C, H, W)`` and the last ``keep`` states of the
        reverse chain, ``x_{keep-1} .. x_0``, ``(N, keep, C, H, W)``; all on [0, 1], clamped.
        """
        check_images(images)
        if not 1 <= keep <= t_star:
            raise ValueError(f"keep must lie in 1..t_star ({t_star}), got {keep}")
        x = self.noise(images.to(next(self.parameters()).device), t_star, generator)
        states = []
        for t in range(t_star, 0, -1):
            x = self.step(x, t, generator)
            if t <= keep:
                states.append(((x + 1) / 2).clamp(0, 1).to(images.device))
        return states[-1], torch.stack(states, 1)


def train_ddpm(images: torch.Tensor, dataset: str = "digits", seed: int = 0, epochs: int | None = None,
               checkpoint: str | None = None, device: str = "auto", progress: bool = True) -> DDPM:
    """Train the DDPM's denoiser on ``images`` (``(N, C, H, W)`` on [0, 1]; the data decides what it
    restores: train it on poisoned data and it learns the trigger too). The consistency purifier's
    trainer without a classifier: x-prediction over sigma in [0.01, 1.25], seeded and resumable."""
    settings = ConsistencyTraining(seed=seed, semantic_epochs=0)
    if epochs is not None:
        settings.epochs = epochs
    denoiser = train_consistency(None, dataset, settings, checkpoint, device, progress, ddpm_config(dataset),
                                 data=(images, None))
    return DDPM(denoiser).eval()


def train_ddpm_into(out: str, dataset: str = "digits", seed: int = 0, epochs: int | None = None,
                    device: str = "auto", progress: bool = True, command: str | None = None,
                    poisoned: str | None = None, extend: bool = False) -> dict:
    """Train the DDPM into ``OUT/diffusion/ddpm.pt``, recorded in that folder's manifest.json; returns the
    manifest. On ``dataset``'s clean train split, or with ``poisoned`` (a ``snnlab poison`` folder) on that
    poisoned split: the adaptive case where the attacker's data reached the diffusion model too."""
    # imported here, not at the top: snnlab.training trains the purifiers, so it sits above them
    from ..training.trainers import train_recorded

    if poisoned:
        # imported here, not at the top: snnlab.poisoning uses the DDPM, so it sits above it
        from ..poisoning.backdoor import load_split

        images, data = load_split(os.path.join(poisoned, "split.pt")).images, f"poisoned split {poisoned}"
    else:
        images, data = load_dataset(dataset, "train")[0], "clean train split"
    return train_recorded(
        os.path.join(out, "diffusion"), "ddpm.pt", {"dataset": dataset, "seed": seed, "epochs": epochs, "data": data,
                                                   "inputs": {"train": tensors_sha256(images)}},
        lambda path: train_ddpm(images, dataset, seed, epochs, path, device, progress),
        command or f"python -m snnlab.purifiers.diffusion --out {out}", extend)


def load_ddpm(dataset: str = "digits", device: str = "auto", folder: str | None = None) -> DDPM:
    """The DDPM in ``folder/diffusion/ddpm.pt`` (trained on whatever data its manifest records), or by default
    the shipped one, trained on ``dataset``'s clean train split; checked against its manifest."""
    # imported here, not at the top: snnlab.pretrained loads the purifiers, so it sits above them
    from ..pretrained import PRETRAINED_DIR

    where = os.path.join(folder or os.path.join(PRETRAINED_DIR, dataset), "diffusion")
    path = verify_recorded(where, "ddpm.pt",
                           f"train one with `python -m snnlab.purifiers.diffusion --out {folder or 'runs/digits'}` "
                           "(digits only)")
    ddpm = DDPM(load_checkpoint_file("consistency", path, device)).eval()
    ddpm.source = os.path.abspath(path)
    return ddpm


if __name__ == "__main__":
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(description="Train the DDPM into OUT/diffusion/ddpm.pt, on the clean train split "
                                     "or (--poisoned FOLDER) on a split written by `snnlab poison`.")
    parser.add_argument("--out", default="runs/digits")
    parser.add_argument("--poisoned", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--extend", action="store_true", help="train it again if the folder holds another request")
    args = parser.parse_args()
    command = "python -m snnlab.purifiers.diffusion " + " ".join(sys.argv[1:])
    manifest = train_ddpm_into(args.out, seed=args.seed, epochs=args.epochs, command=command, poisoned=args.poisoned,
                               extend=args.extend)
    print(json.dumps(manifest["runs"]["ddpm"]))
