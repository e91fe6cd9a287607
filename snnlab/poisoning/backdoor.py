"""Backdoor poisoning of a training split: BadNets and Blended triggers, all-to-one and all-to-all.

A different threat model from the rest of snnlab: the attacker edits a share of the *training*
data (adds a trigger, changes the label) and leaves the test inputs alone until deployment, when
any input carrying the trigger should be classified as the attacker's target.

- BadNets (Gu et al., 2017): a small square patch of white pixels in the bottom-right corner.
- Blended (Chen et al., 2017): a fixed random pattern mixed into the whole image,
  ``(1 - ratio) x + ratio * pattern``; ``strokes_only`` mixes it only where the digit is drawn
  (pixels above 0.25), the adaptive case a diffusion purifier struggles with.
- Targets: all-to-one (every poisoned image relabelled ``target``, chosen among the other
  classes) or all-to-all (label ``y`` becomes ``(y + 1) % classes``).

Metrics: clean accuracy on the untouched test split, and the attack success rate (ASR): the share
of triggered test images, of classes other than the target, classified as the target.

Written by hand (a few lines each): the backdoor libraries (BackdoorBench and the like) are
built around full-size datasets and their own training loops.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..attacks.core import predict_batched
from ..data.datasets import check_images, dataset_info, load_dataset
from ..pretrained import PRETRAINED_DIR, load_classifier_file
from ..runs.checkpoints import CheckpointError, save_checkpoint, save_json, tensors_sha256, verify_recorded
from ..runs.folders import claim, holds
from ..training.trainers import ClassifierTraining, _finish, train_classifier

KINDS = ("badnets", "blended")


@dataclass(frozen=True)
class Trigger:
    """A backdoor trigger. ``kind``: 'badnets' (a ``size`` x ``size`` white corner patch) or 'blended'
    (a random pattern from ``pattern_seed`` mixed in at ``ratio``; with ``strokes_only`` only on the strokes)."""
    kind: str = "badnets"
    size: int = 2  # BadNets patch side (pixels)
    ratio: float = 0.2  # Blended mixing ratio
    pattern_seed: int = 0
    strokes_only: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown trigger {self.kind!r}; choose from {', '.join(KINDS)}")
        if self.size < 1:
            raise ValueError(f"trigger size must be at least 1 pixel, got {self.size}")
        if not 0 < self.ratio <= 1:
            raise ValueError(f"blend ratio must lie in (0, 1], got {self.ratio}")

    def apply(self, images: torch.Tensor) -> torch.Tensor:
        """``images`` ``(N, C, H, W)`` in [0, 1] with the trigger; a new tensor."""
        check_images(images)
        _, channels, height, width = images.shape
        if self.kind == "badnets":
            if self.size > min(height, width):
                raise ValueError(f"a {self.size}x{self.size} trigger does not fit {height}x{width} images; "
                                 f"choose size <= {min(height, width)}")
            out = images.clone()
            out[:, :, height - self.size:, width - self.size:] = 1.0
            return out
        pattern = torch.rand((1, channels, height, width), generator=torch.Generator().manual_seed(self.pattern_seed))
        pattern = pattern.to(images.device, images.dtype)
        mixed = (1 - self.ratio) * images + self.ratio * pattern
        if self.strokes_only:
            return torch.where(images > 0.25, mixed, images)
        return mixed


def target_labels(labels: torch.Tensor, target, classes: int = 10) -> torch.Tensor:
    """The label a poisoned image of class ``labels`` gets: ``target`` (all-to-one, an int class) or
    ``(y + 1) % classes`` (``target='all-to-all'``)."""
    if target == "all-to-all":
        return (labels + 1) % classes
    if isinstance(target, bool) or not isinstance(target, int) or not 0 <= target < classes:
        raise ValueError(f"unknown target {target!r}: give a class in 0..{classes - 1} (all-to-one) or 'all-to-all'")
    return torch.full_like(labels, target)


@dataclass
class PoisonedSplit:
    images: torch.Tensor  # (N, C, H, W), poisoned rows carry the trigger
    labels: torch.Tensor  # (N,) the labels the model is trained on
    true_labels: torch.Tensor  # (N,) the labels before poisoning
    poisoned: torch.Tensor  # (N,) bool, which rows the attacker changed
    trigger: Trigger
    target: object  # an int class, or 'all-to-all'
    rate: float


def poison(images: torch.Tensor, labels: torch.Tensor, trigger: Trigger, rate: float = 0.1, target=0,
           classes: int = 10, seed: int = 0) -> PoisonedSplit:
    """Poison a ``rate`` share of the split: trigger added, label changed to the target.

    All-to-one chooses the poisoned rows among images *not* of the target class (a target-class image
    with the trigger teaches nothing); all-to-all among all images.
    """
    check_images(images)
    if not 0 < rate < 1:
        raise ValueError(f"poison rate must lie in (0, 1), got {rate}")
    new_labels = target_labels(labels, target, classes)
    eligible = torch.nonzero(new_labels != labels).flatten()  # (M,)
    count = round(rate * len(labels))
    if count < 1 or count > len(eligible):
        raise ValueError(f"a poison rate of {rate} means {count} of {len(labels)} images, but {len(eligible)} "
                         f"can be poisoned for target {target!r}")
    chosen = eligible[torch.randperm(len(eligible), generator=torch.Generator().manual_seed(seed))[:count]]
    poisoned = torch.zeros(len(labels), dtype=torch.bool)
    poisoned[chosen] = True
    out_images = torch.where(poisoned[:, None, None, None], trigger.apply(images), images)
    out_labels = torch.where(poisoned, new_labels, labels)
    return PoisonedSplit(out_images, out_labels, labels.clone(), poisoned, trigger, target, rate)


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """``model``'s classes for ``images`` (batches moved to the model's device): ``(N,)`` on the CPU."""
    device = next(model.parameters(), torch.empty(0)).device  # a parameterless model runs on the CPU
    model.eval()
    return predict_batched(lambda x: model(x.to(device)).cpu(), images, batch_size).argmax(1)


def attack_success_rate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, trigger: Trigger,
                        target=0, classes: int = 10, then=None) -> float:
    """Share of triggered test images, of classes whose label the attack changes, classified as their target.
    ``then``, when given, maps the triggered images before the model sees them (e.g. a DDPM round trip)."""
    goal = target_labels(labels, target, classes)
    keep = goal != labels  # (N,)
    triggered = trigger.apply(images[keep])
    return (predict(model, triggered if then is None else then(triggered)) == goal[keep]).float().mean().item()


def clean_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    return (predict(model, images) == labels).float().mean().item()


def train_on(images: torch.Tensor, labels: torch.Tensor, dataset: str = "digits", seed: int = 0,
             epochs: int | None = None, checkpoint: str | None = None, device: str = "auto", progress: bool = True):
    """The MLF spiking classifier trained (as :func:`snnlab.training.trainers.train_classifier`, same recipe) on
    ``(images, labels)``: a poisoned split, a purified one, or part of one."""
    settings = ClassifierTraining(seed=seed)
    if epochs is not None:
        settings.epochs = epochs
    return train_classifier(dataset, settings, checkpoint, device, progress, data=(images, labels))


def save_split(path: str, split: PoisonedSplit) -> None:
    """Write ``split`` atomically (tensors and plain values only, so it loads with ``weights_only=True``)."""
    from dataclasses import asdict

    save_checkpoint(path, {"kind": "poisoned-split", "images": split.images, "labels": split.labels,
                           "true_labels": split.true_labels, "poisoned": split.poisoned,
                           "trigger": asdict(split.trigger), "target": split.target, "rate": split.rate})


def load_split(path: str) -> PoisonedSplit:
    """A split written by :func:`save_split` (``snnlab poison``); a CheckpointError naming the fix otherwise."""
    import os

    if not os.path.isfile(path):
        raise CheckpointError(f"{path} does not exist; make a poisoned split with `snnlab poison --out FOLDER`")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
        assert data["kind"] == "poisoned-split"
        return PoisonedSplit(data["images"], data["labels"], data["true_labels"], data["poisoned"],
                             Trigger(**data["trigger"]), data["target"], data["rate"])
    except Exception as err:  # unreadable, wrong kind or missing fields all mean the same to a user
        raise CheckpointError(f"{path} is not a poisoned split written by `snnlab poison` "
                              f"({type(err).__name__}); make it again") from None


def measure(model: nn.Module, trigger: Trigger, target=0, dataset: str = "digits") -> dict:
    """Clean accuracy and attack success rate of ``model`` on ``dataset``'s test split."""
    images, labels = load_dataset(dataset, "test")
    return {"clean_accuracy": clean_accuracy(model, images, labels),
            "attack_success_rate": attack_success_rate(model, images, labels, trigger, target,
                                                       dataset_info(dataset).classes)}


@holds("out")
def poison_into(out: str, trigger: Trigger, rate: float = 0.1, target=0, dataset: str = "digits", seed: int = 0,
                epochs: int | None = None, device: str = "auto", progress: bool = True,
                command: str | None = None) -> dict:
    """``snnlab poison``: poison ``dataset``'s train split into ``OUT/split.pt``, train the spiking classifier on it
    into ``OUT/classifier.pt`` (resumable), measure it into ``OUT/report.json``; returns the report."""
    import os
    import time
    from dataclasses import asdict

    images, labels = load_dataset(dataset, "train")
    split = poison(images, labels, trigger, rate, target, dataset_info(dataset).classes, seed)
    claim(out, {"dataset": dataset, "trigger": asdict(trigger), "rate": rate, "target": target, "seed": seed,
                "epochs": epochs, "inputs": {"train": tensors_sha256(images, labels)}}, "settings.json")
    save_split(os.path.join(out, "split.pt"), split)
    start = time.perf_counter()
    model = train_on(split.images, split.labels, dataset, seed, epochs, os.path.join(out, "classifier.pt"), device,
                     progress)
    _finish(os.path.join(out, "classifier.pt"))
    report = {"command": command or f"snnlab poison --out {out}", "dataset": dataset, "seed": seed,
              "trigger": asdict(trigger), "target": target, "rate": rate, "poisoned_rows": int(split.poisoned.sum()),
              "train_seconds": round(time.perf_counter() - start, 1),
              "backdoored": measure(model, trigger, target, dataset)}
    save_json(os.path.join(out, "report.json"), report)
    return report


def load_backdoored(dataset: str = "digits", retrain: bool = False, out: str = "runs/poisoned", device: str = "auto"):
    """Lesson 8's backdoored classifier (BadNets 2x2 corner, 10% poison, all-to-one target 0) and its poisoned
    split, as ``(model, split)``: the shipped model (checked against its manifest; the split rebuilt from the
    settings in its report.json, which is deterministic), or with ``retrain=True`` both made afresh with
    :func:`poison_into` into ``out`` (about a minute on 2 cores)."""
    import json
    import os

    if retrain:  # claim refuses a folder holding another run; a finished one resumes at once
        poison_into(out, Trigger("badnets", 2), 0.1, 0, dataset, device=device)
        return (load_classifier_file(os.path.join(out, "classifier.pt"), device),
                load_split(os.path.join(out, "split.pt")))
    folder = os.path.join(PRETRAINED_DIR, dataset, "poisoning")
    path = verify_recorded(folder, "classifier.pt",
                           "train one with `snnlab poison --out runs/poisoned` and use retrain=True")
    with open(os.path.join(folder, "report.json")) as f:
        report = json.load(f)
    images, labels = load_dataset(dataset, "train")
    split = poison(images, labels, Trigger(**report["trigger"]), report["rate"], report["target"],
                   dataset_info(dataset).classes, report["seed"])
    return load_classifier_file(path, device), split
