"""Loading a trained defence: the shipped digits checkpoints, or a folder written by ``snnlab train``.

A model folder holds ``classifier.pt``, ``purifier.pt``, ``substitute.pt``,
``detector.json`` and ``manifest.json`` (SHA-256 of each file, the seed and the
command that produced them). Every file is checked against the manifest
before it is loaded, and checkpoints are read with ``weights_only=True``.
"""
from __future__ import annotations

import json
import os

from .attacks import SubstituteCNN
from .devices import resolve_device
from .models.classifier import ClassifierConfig, SpikingResNet
from .models.defense import JointDefense
from .models.detector import Detector
from .purifiers.snn import Purifier, PurifierConfig
from .runs.checkpoints import CheckpointError, load_checkpoint, load_state, verify_manifest, verify_recorded
from .training.adversarial import adversarial_filename
from .training.trainers import train_all

PRETRAINED_DIR = os.path.join(os.path.dirname(__file__), "weights")


def pretrained_names() -> list:
    """Datasets with shipped checkpoints."""
    if not os.path.isdir(PRETRAINED_DIR):
        return []
    return sorted(d for d in os.listdir(PRETRAINED_DIR)
                  if os.path.isfile(os.path.join(PRETRAINED_DIR, d, "manifest.json")))


def _config(cls, payload, path):
    try:
        return cls(**payload["config"])
    except TypeError as err:
        raise CheckpointError(f"checkpoint {path} has a config this snnlab does not know ({err}); retrain it") from None


def read_manifest(folder: str) -> dict:
    path = os.path.join(folder, "manifest.json")
    if not os.path.exists(folder):
        raise CheckpointError(f"{folder} does not exist; give a folder written by `snnlab train`")
    if not os.path.isfile(path):
        raise CheckpointError(f"{folder} has no manifest.json; it is not a snnlab model folder "
                              f"(run `snnlab train --out {folder}`)")
    try:
        with open(path) as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path} is corrupt ({err}); retrain with `snnlab train --out {folder}`") from None


def load_classifier_file(path: str, device: str = "auto") -> SpikingResNet:
    """A spiking classifier from a checkpoint file written by
    :func:`snnlab.training.trainers.train_classifier` (eval mode)."""
    payload = load_checkpoint(path, "classifier")
    model = SpikingResNet(_config(ClassifierConfig, payload, path))
    load_state(model, payload["state_dict"], path)
    return model.to(resolve_device(device)).eval()


def load_adversarial_classifier(eps: float, dataset: str = "digits", steps: int = 10, device: str = "auto",
                                folder: str | None = None) -> SpikingResNet:
    """The PGD-trained classifier (:mod:`snnlab.training.adversarial`) in ``folder/adversarial`` (default: the
    shipped ones), checked against its manifest, in eval mode."""
    name = adversarial_filename(eps, steps)
    hint = f"train one with `snnlab train-adversarial {eps:g} --steps {steps}"
    hint += f" --out {folder}`" if folder else "`"
    path = verify_recorded(os.path.join(folder or os.path.join(PRETRAINED_DIR, dataset), "adversarial"), name, hint)
    return load_classifier_file(path, device)


def load_models(folder: str, device: str = "auto", with_substitute: bool = False, dataset: str | None = None):
    """Load the defence in ``folder`` (checked against its manifest); returns a JointDefense in eval mode.

    With ``with_substitute=True`` returns ``(defense, substitute)``. With ``dataset``, models trained on
    another dataset are refused before anything is loaded.
    """
    device = resolve_device(device)
    manifest = read_manifest(folder)
    if dataset is not None and manifest.get("dataset", dataset) != dataset:
        raise CheckpointError(f"the models in {folder} were trained on {manifest['dataset']}, not {dataset}; pass "
                              f"--dataset {manifest['dataset']}, or models trained on {dataset}")
    verify_manifest(folder, manifest)
    models = {"classifier": load_classifier_file(os.path.join(folder, "classifier.pt"), device)}
    path = os.path.join(folder, "purifier.pt")
    payload = load_checkpoint(path, "purifier")
    purifier = Purifier(_config(PurifierConfig, payload, path))
    load_state(purifier, payload["state_dict"], path)
    models["purifier"] = purifier.to(device).eval()
    det_path = os.path.join(folder, "detector.json")
    try:
        with open(det_path) as f:
            det = json.load(f)
        threshold = float(det["threshold"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{det_path} is missing or corrupt ({err}); retrain with `snnlab train`") from None
    detector = Detector(models["purifier"], threshold, det.get("fpr"))
    defense = JointDefense(models["classifier"], models["purifier"], detector).eval()
    if not with_substitute:
        return defense
    path = os.path.join(folder, "substitute.pt")
    payload = load_checkpoint(path, "substitute")
    substitute = SubstituteCNN(**payload["config"])
    load_state(substitute, payload["state_dict"], path)
    return defense, substitute.to(device).eval()


def pretrained_folder(name: str = "digits") -> str:
    """The folder of the shipped models for dataset ``name``; ValueError naming the shipped ones if none."""
    names = pretrained_names()
    if name not in names:
        raise ValueError(
            f"no pretrained checkpoints for {name!r} (shipped: {', '.join(names) or 'none'}); "
            f"train your own with `snnlab train --dataset {name} --out runs/{name}` and load it with load_models"
        )
    return os.path.join(PRETRAINED_DIR, name)


def load_pretrained(name: str = "digits", device: str = "auto", with_substitute: bool = False):
    """The shipped, pretrained defence for dataset ``name`` (a JointDefense; see :func:`load_models`).

    Example::

        >>> defense = load_pretrained("digits")
        >>> defense.detector.threshold, defense.classifier, defense.purifier
    """
    return load_models(pretrained_folder(name), device, with_substitute)


def load_or_train(dataset: str = "digits", retrain: bool = False, out: str | None = None,
                  with_substitute: bool = False, seed: int = 0, device: str = "auto"):
    """The lessons' entry point: the shipped models, or with ``retrain=True`` every model trained
    from scratch into ``out`` (default ``runs/DATASET``; about 5 minutes for digits on 2 CPU cores).

    Models already finished in ``out`` are reused (delete the folder to start over).
    """
    if not retrain:
        return load_pretrained(dataset, device, with_substitute)

    out = out or os.path.join("runs", dataset)
    train_all(dataset, out, seed, device)
    return load_models(out, device, with_substitute)
