"""The purifier family: one interface, one module per method.

Every purifier is an ``nn.Module`` from images in [0, 1] ``(N, C, H, W)`` to purified images of
the same shape, with snnlab's input checks, so :class:`snnlab.models.defense.JointDefense`, the detector
and every attack take any of them unchanged.

- ``snn``: the seed paper's SNN purifier, NeSNN + RecSNN (:mod:`.snn`; also ``snnlab.purifiers.snn``).
- ``consistency``: a one-step, consistency-parametrised denoiser of Gaussian-noised images, after
  Consistency Purification (Li et al., NeurIPS 2024) (:mod:`.consistency`). Random.
- ``masking``: IMPure-style information masking, each random pixel group rebuilt from the others
  (Liu et al., 2023) (:mod:`.masking`). Random.
- ``surgery``: PSSR-inspired pixel surgery and regeneration: the most salient pixels removed and
  inpainted (after Fu et al., arXiv 2402.00304; our interpretation) (:mod:`.surgery`). Needs the
  classifier for its saliency.

Each module says where it departs from its paper.

    >>> from snnlab import purifiers
    >>> purifier = purifiers.load("consistency")          # the shipped digits checkpoint
    >>> purified = purifier(images)                        # (N, C, H, W) -> (N, C, H, W)
    >>> purifiers.train("consistency", classifier, checkpoint="runs/consistency.pt")
"""
from __future__ import annotations

import os

from torch import nn

from ..data.datasets import load_dataset
from ..devices import resolve_device
from ..models.defense import JointDefense
from ..models.detector import Detector
from ..runs.checkpoints import load_checkpoint, load_state, verify_recorded, weights_sha256
from .consistency import ConsistencyConfig, ConsistencyPurifier, ConsistencyTraining, train_consistency
from .masking import MaskingConfig, MaskingPurifier, MaskingTraining, train_masking
from .snn import Purifier, PurifierConfig
from .surgery import SurgeryConfig, SurgeryPurifier, SurgeryTraining, train_surgery

NAMES = ("snn", "consistency", "masking", "surgery")
_FAMILY = {  # name -> (model class, config class, training function, settings class)
    "consistency": (ConsistencyPurifier, ConsistencyConfig, train_consistency, ConsistencyTraining),
    "masking": (MaskingPurifier, MaskingConfig, train_masking, MaskingTraining),
    "surgery": (SurgeryPurifier, SurgeryConfig, train_surgery, SurgeryTraining),
}


def check_name(name: str) -> str:
    """``name`` if it is a purifier, else a ValueError listing the choices."""
    if name not in NAMES:
        raise ValueError(f"unknown purifier {name!r}; choose from {', '.join(NAMES)}")
    return name


def is_random(purifier: nn.Module) -> bool:
    """True when two calls on the same images may differ: attack it with EOT."""
    return bool(getattr(purifier, "random", False))


def build(name: str, dataset: str = "digits", classifier: nn.Module | None = None) -> nn.Module:
    """An untrained purifier ``name`` sized for ``dataset`` (``classifier``: the surgery purifier's saliency)."""
    check_name(name)
    if name == "snn":
        return Purifier(PurifierConfig.for_dataset(dataset))
    model_cls, config_cls, _, _ = _FAMILY[name]
    model = model_cls(config_cls.for_dataset(dataset))
    return model.attach(classifier) if hasattr(model, "attach") else model


def train(name: str, classifier: nn.Module | None, dataset: str = "digits", checkpoint: str | None = None,
          device: str = "auto", progress: bool = True, seed: int = 0, epochs: int | None = None, data=None):
    """Train purifier ``name`` (against the frozen ``classifier`` where its method uses one); eval mode."""
    check_name(name)
    if name == "snn":
        # imported here, not at the top: snnlab.training trains the purifiers, so it sits above them
        from ..training.trainers import PurifierTraining, train_purifier

        settings = PurifierTraining(seed=seed)
        if epochs is not None:
            settings.epochs = epochs
        return train_purifier(classifier, dataset, settings, checkpoint, device, progress, data=data)
    _, _, train_fn, settings_cls = _FAMILY[name]
    settings = settings_cls(seed=seed)
    if epochs is not None:
        settings.semantic_epochs = min(getattr(settings, "semantic_epochs", 0), epochs)
        settings.epochs = epochs
    return train_fn(classifier, dataset, settings, checkpoint, device, progress, data=data)


def shipped_dir(dataset: str = "digits") -> str:
    """Where the family's shipped checkpoints for ``dataset`` live (with their own manifest.json)."""
    # imported here, not at the top: snnlab.pretrained loads the purifiers, so it sits above them
    from ..pretrained import PRETRAINED_DIR

    return os.path.join(PRETRAINED_DIR, dataset, "purifiers")


def load_checkpoint_file(name: str, path: str, device: str = "auto", classifier: nn.Module | None = None) -> nn.Module:
    """Purifier ``name`` from a checkpoint file written by :func:`train` (``weights_only=True``);
    ``classifier`` is attached where the method needs one (surgery)."""
    # imported here, not at the top: snnlab.pretrained loads the purifiers, so it sits above them
    from ..pretrained import _config

    check_name(name)
    if name == "snn":
        model_cls, config_cls, kind = Purifier, PurifierConfig, "purifier"
    else:
        model_cls, config_cls, _, _ = _FAMILY[name]
        kind = f"purifier-{name}"
    payload = load_checkpoint(path, kind)
    model = model_cls(_config(config_cls, payload, path))
    load_state(model, payload["state_dict"], path)
    if hasattr(model, "attach"):
        model.attach(classifier)
    return model.to(resolve_device(device)).eval()


def load(name: str, dataset: str = "digits", device: str = "auto", folder: str | None = None) -> nn.Module:
    """Purifier ``name``, checked against its manifest: from ``folder`` (a ``snnlab train`` output) or,
    by default, the shipped checkpoints for ``dataset``."""
    # imported here, not at the top: snnlab.pretrained loads the purifiers, so it sits above them
    from ..pretrained import load_models, load_pretrained

    check_name(name)
    if name == "snn":
        return (load_models(folder, device) if folder else load_pretrained(dataset, device)).purifier
    where = os.path.join(folder, "purifiers") if folder else shipped_dir(dataset)
    hint = f"train one with `snnlab train-purifier {name}" + (f" --out {folder}`" if folder else "`")
    path = verify_recorded(where, f"{name}.pt", hint)
    classifier = None
    if name == "surgery":  # its saliency needs the classifier it was trained against
        classifier = (load_models(folder, device) if folder else load_pretrained(dataset, device)).classifier
    return load_checkpoint_file(name, path, device, classifier)


class PurifiedClassifier(nn.Module):
    """Purify every input, then classify: ``classifier(purifier(images))``, no detector.

    How Consistency Purification, IMPure and PSSR are meant to be used (the joint defence instead
    purifies only what its detector flags). Random when its purifier is.
    """

    def __init__(self, purifier: nn.Module, classifier: nn.Module):
        super().__init__()
        self.purifier, self.classifier = purifier, classifier

    @property
    def random(self) -> bool:
        return is_random(self.purifier)

    def forward(self, images):
        return self.classifier(self.purifier(images))


def defense_with(defense, purifier: nn.Module, dataset: str = "digits", fpr: float = 0.01):
    """``defense`` (a JointDefense) with ``purifier`` in place of its own, the detector recalibrated on the
    calibration split at false-positive rate ``fpr`` (a random purifier's scores are random too)."""
    calibration, _ = load_dataset(dataset, "calibration")
    detector = Detector(purifier).calibrate(calibration, fpr)
    return JointDefense(defense.classifier, purifier, detector).eval()


def train_into(name: str, classifier: nn.Module, out: str, dataset: str = "digits", seed: int = 0,
               device: str = "auto", progress: bool = True, epochs: int | None = None,
               command: str | None = None, extend: bool = False) -> dict:
    """Train purifier ``name`` into ``OUT/purifiers/NAME.pt`` (resumable) and record it in that folder's
    manifest.json (SHA-256, seed, epochs, command, training seconds); returns the manifest. See
    :func:`snnlab.training.trainers.train_recorded` for what happens when the file already exists."""
    # imported here, not at the top: snnlab.training trains the purifiers, so it sits above them
    from ..training.trainers import train_recorded

    check_name(name)
    if name == "snn":
        raise ValueError("the snn purifier trains with the whole defence: run `snnlab train` without --purifier")
    return train_recorded(
        os.path.join(out, "purifiers"), f"{name}.pt",
        {"dataset": dataset, "seed": seed, "epochs": epochs, "inputs": {"classifier": weights_sha256(classifier)}},
        lambda path: train(name, classifier, dataset, path, device, progress, seed, epochs),
        command or f"snnlab train-purifier {name} --seed {seed} --out {out}", extend)
