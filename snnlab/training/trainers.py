"""Training: the classifier, the purifier on FGSM examples, PGD adversarial training
as the baseline, and detector calibration.

Every run is seeded (``torch.manual_seed`` plus a generator for shuffling and
epsilon draws; deterministic algorithms on), so the same seed gives the same
weights on the same machine. With ``checkpoint=PATH`` a run saves atomically
after every epoch and, started again, resumes where it stopped.

The purifier's training data follows the paper's efficiency argument: one
FGSM step per batch against the frozen, trained classifier, epsilon drawn
uniformly from ``eps_range`` per batch, and a share of clean images kept
unperturbed (so the purifier learns to leave clean images alone, which the
detector relies on).
"""
from __future__ import annotations

import contextlib
import math
import os
from dataclasses import asdict, dataclass, field

import torch
import torchattacks
from torch import nn
from torch.nn import functional as F

from .._version import __version__
from ..attacks.core import frozen
from ..attacks.threat_models import SubstituteCNN
from ..data.datasets import dataset_info, load_dataset
from ..devices import resolve_device
from ..models.classifier import ClassifierConfig, SpikingResNet
from ..models.detector import Detector
from ..purifiers.losses import PurifierLoss
from ..purifiers.snn import Purifier, PurifierConfig
from ..runs import checkpoints
from ..runs.checkpoints import load_checkpoint, record_run, recorded, save_checkpoint, save_json, sha256
from ..runs.folders import changes, claim, holds, reclaim, stamped
from ..runs.stopwatch import Stopwatch
from .engine import Loop, fit


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch, turn on deterministic algorithms, and return a seeded generator for data order."""
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    return torch.Generator().manual_seed(seed)


@dataclass
class ClassifierTraining:
    epochs: int = 40  # passes over the training split
    batch_size: int = 64
    lr: float = 2e-3  # AdamW, cosine-annealed to 0
    weight_decay: float = 1e-4
    seed: int = 0
    adversarial: str | None = None  # None, or 'pgd' for PGD adversarial training (the baseline)
    eps: float = 0.1  # PGD training radius (L-infinity)
    pgd_steps: int = 10  # PGD training steps (step size 2.5 * eps / steps, random start)
    noise_sigma: float = 0.0  # > 0: Gaussian-noise training (Cohen et al.), the randomized-smoothing baseline
    optimizer: str = "adamw"  # 'adamw', or 'sgd' (momentum, as the MLF DS-ResNet code trains on CIFAR-10)
    momentum: float = 0.9  # with 'sgd'
    schedule: str = "cosine"  # 'cosine' to 0 over every step, or 'step': lr x 0.1 every step_epochs epochs
    step_epochs: int = 40  # with schedule 'step'


@dataclass
class PurifierTraining:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.0
    seed: int = 0
    eps_range: tuple = (0.05, 0.3)  # FGSM epsilon drawn uniformly per batch
    clean_fraction: float = 0.5  # share of each batch kept clean (true noise 0)
    loss: PurifierLoss = field(default_factory=PurifierLoss)


def _batches(n: int, batch_size: int, generator: torch.Generator):
    order = torch.randperm(n, generator=generator)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def labelled_batches(images: torch.Tensor, labels: torch.Tensor, batch_size: int, generator: torch.Generator,
                     device):
    """One shuffled epoch of ``(x, y)`` batches on ``device``, the order drawn from ``generator``."""
    for idx in _batches(len(labels), batch_size, generator):
        yield images[idx].to(device), labels[idx].to(device)


def train_classifier(dataset: str = "digits", settings: ClassifierTraining | None = None,
                     checkpoint: str | None = None, device: str = "auto", progress: bool = True,
                     config: ClassifierConfig | None = None, data=None) -> SpikingResNet:
    """Train the MLF-SE spiking ResNet on ``dataset``'s train split and return it (in eval mode).

    ``settings.adversarial='pgd'`` trains on PGD examples instead (Madry et al.
    adversarial training, the multi-step baseline the paper argues against).
    ``settings.noise_sigma > 0`` trains on ``clamp(x + N(0, sigma^2), 0, 1)`` instead (Gaussian-noise
    augmentation, Cohen et al. 2019: the base classifier randomized smoothing needs), with the noise
    drawn from the seeded generator. ``data`` may pass ``(images, labels)`` directly instead of the
    train split.
    """
    settings = settings or ClassifierTraining()
    device = resolve_device(device)
    if settings.noise_sigma < 0 or (settings.noise_sigma > 0 and settings.adversarial is not None):
        raise ValueError(f"noise_sigma must be >= 0 and cannot be combined with adversarial training, "
                         f"got noise_sigma={settings.noise_sigma}, adversarial={settings.adversarial!r}")
    generator = seed_everything(settings.seed)
    images, labels = data if data is not None else load_dataset(dataset, "train")
    model = SpikingResNet(config or ClassifierConfig.for_dataset(dataset)).to(device)
    attack = None
    if settings.adversarial == "pgd":
        attack = torchattacks.PGD(model, eps=settings.eps, alpha=2.5 * settings.eps / settings.pgd_steps,
                                  steps=settings.pgd_steps, random_start=True)
    elif settings.adversarial is not None:
        raise ValueError(f"adversarial must be None or 'pgd', got {settings.adversarial!r}")
    tally = {"correct": 0, "total": 0}  # this epoch's running train accuracy, for the progress bar

    def batches(epoch):
        tally.update(correct=0, total=0)
        return labelled_batches(images, labels, settings.batch_size, generator, device)

    def loss(batch, epoch):
        x, y = batch
        if attack is not None:
            with frozen(model):  # the attack needs the input's gradient, not the weights'
                x = attack(x, y)  # torchattacks puts the model in eval mode for the attack, then back
            model.train()
        elif settings.noise_sigma:
            noise = torch.randn(x.shape, generator=generator).to(device)  # (N, C, H, W)
            x = (x + settings.noise_sigma * noise).clamp(0, 1)
        logits = model(x)
        tally["correct"] += (logits.argmax(1) == y).sum().item()
        tally["total"] += len(y)
        return F.cross_entropy(logits, y)

    label = " (PGD)" if attack else f" (noise sigma {settings.noise_sigma})" if settings.noise_sigma else ""
    fit(model, settings, Loop("classifier", batches, loss, math.ceil(len(labels) / settings.batch_size), label,
                              lambda last, epoch: {"loss": f"{last:.3f}",
                                                   "train_acc": f"{tally['correct'] / tally['total']:.3f}"}),
        generator=generator, checkpoint=checkpoint, progress=progress)
    return model.eval()


def fgsm_batch(classifier: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float,
               keep_clean: torch.Tensor) -> torch.Tensor:
    """FGSM examples at ``eps`` (torchattacks), with the rows where ``keep_clean`` ((N,) bool) is True left clean."""
    adv = torchattacks.FGSM(classifier, eps=eps)(x, y)
    return torch.where(keep_clean.to(x.device)[:, None, None, None], x, adv)


def fgsm_batches(classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor, settings,
                 generator: torch.Generator, device: str = "auto"):
    """One shuffled epoch of ``(x, y, x_adv)`` batches, the purifiers' training data.

    Per batch, eps is drawn uniformly from ``settings.eps_range``, and ``x_adv`` is FGSM at that eps against
    ``classifier``, with ``settings.clean_fraction`` of the rows left clean (:func:`fgsm_batch`).
    """
    lo, hi = settings.eps_range
    device = resolve_device(device)
    for x, y in labelled_batches(images, labels, settings.batch_size, generator, device):
        eps = lo + (hi - lo) * torch.rand((), generator=generator).item()
        keep_clean = torch.rand(len(x), generator=generator) < settings.clean_fraction  # (N,)
        yield x, y, fgsm_batch(classifier, x, y, eps, keep_clean)


def train_purifier(classifier: nn.Module, dataset: str = "digits", settings: PurifierTraining | None = None,
                   checkpoint: str | None = None, device: str = "auto", progress: bool = True,
                   config: PurifierConfig | None = None, data=None) -> Purifier:
    """Train NeSNN + RecSNN with the composite loss on FGSM examples against ``classifier`` (frozen).

    Returns the purifier in eval mode. The KL term needs the classifier's
    logits on the purified image, so gradients flow through the (frozen)
    classifier into the purifier.
    """
    settings = settings or PurifierTraining()
    device = resolve_device(device)
    generator = seed_everything(settings.seed)
    images, labels = data if data is not None else load_dataset(dataset, "train")
    classifier = classifier.to(device).eval()
    purifier = Purifier(config or PurifierConfig.for_dataset(dataset)).to(device)
    loss_fn = settings.loss

    def loss(batch, epoch):
        x, y, x_adv = batch
        sigma = (x_adv - x).abs()  # true noise map, 0 on clean rows
        x_hat, sigma_hat = purifier.estimate(x_adv)
        logits_hat = logits_clean = None
        if loss_fn.w_kl > 0:
            logits_hat = classifier(x_hat)
            with torch.no_grad():
                logits_clean = classifier(x)
        return loss_fn(x_hat, x, sigma_hat, sigma, logits_hat, logits_clean)

    with frozen(classifier):
        fit(purifier, settings,
            Loop("purifier", lambda epoch: fgsm_batches(classifier, images, labels, settings, generator, device),
                 loss, math.ceil(len(labels) / settings.batch_size), extra={"loss_weights": asdict(loss_fn)}),
            generator=generator, checkpoint=checkpoint, progress=progress)
    return purifier.eval()


@dataclass
class SubstituteTraining:
    """The transfer attacker's substitute CNN: Adam at a constant rate, cross-entropy."""
    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.0
    seed: int = 0
    optimizer: str = "adam"
    schedule: str = "constant"


def train_substitute(images: torch.Tensor, labels: torch.Tensor, classes: int, epochs: int = 30,
                     seed: int = 0, batch_size: int = 64, device: str = "auto") -> SubstituteCNN:
    """Train the transfer attacker's substitute CNN (:class:`SubstituteTraining`), seeded; returns it in eval
    mode. Not checkpointed: it takes seconds."""
    settings = SubstituteTraining(epochs=epochs, batch_size=batch_size, seed=seed)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    device = resolve_device(device)
    model = SubstituteCNN(images.shape[1], classes).to(device)

    def batches(epoch):
        return labelled_batches(images, labels, batch_size, generator, device)

    fit(model, settings, Loop("substitute", batches, lambda batch, epoch: F.cross_entropy(model(batch[0]), batch[1]),
                              math.ceil(len(labels) / batch_size)), progress=False)
    return model.eval()


def calibrate_detector(purifier: nn.Module, dataset: str = "digits", fpr: float = 0.01, data=None):
    """A :class:`~snnlab.models.detector.Detector` calibrated on the calibration split at
    false-positive rate ``fpr``."""
    images, _ = data if data is not None else load_dataset(dataset, "calibration")
    return Detector(purifier).calibrate(images, fpr)


RECORD_ONLY = {"command", "train_seconds", "untimed_epochs", "torch_version"}  # what a record adds to its request


@holds("where")
def train_recorded(where: str, filename: str, request: dict, train, command: str, extend: bool = False) -> dict:
    """Train one separately recorded model into ``where/filename`` (``train(path)`` does the training,
    resumably) and record it in ``where/manifest.json`` with ``request`` (dataset, seed, epochs, data...),
    stamped with the code version and, for a request naming a ``dataset``, its train split by SHA-256
    (``inputs.train``; a caller adds what else the model is trained from, such as ``inputs.classifier``), the
    command, the training seconds (summed over every session, from the checkpoint) and the versions;
    returns the manifest.

    The purifier family, the noise-trained classifiers, the adversarially trained ones and the DDPM go through
    here. A run is tied to its request: ``request`` is written beside a run before it starts, so an
    interrupted run resumes only with the same request; a finished, recorded run with the same request is
    returned as recorded (its training time kept); a file holding another request is a ValueError naming
    what differs, never resumed or returned in its place, unless ``extend``: then it is trained again from
    scratch for the new request."""
    import json

    os.makedirs(where, exist_ok=True)
    path, stem = os.path.join(where, filename), os.path.splitext(filename)[0]
    pending = os.path.join(where, f".{stem}.request.json")
    request = stamped(request)
    if "dataset" in request and "train" not in request.get("inputs", {}):
        request["inputs"] = {**request.get("inputs", {}),
                             "train": checkpoints.tensors_sha256(*load_dataset(request["dataset"], "train"))}
    manifest = recorded(where, filename) if os.path.exists(path) else None
    held = None
    if os.path.exists(pending):  # an unfinished run (a first one, or one trained again): its request rules
        with open(pending) as f:
            held = json.load(f)
    elif manifest is not None:
        held = manifest["runs"].get(stem, {})
    if held is not None:
        changed = changes(held, request, RECORD_ONLY)
        if changed and not extend:
            raise ValueError(f"{path} holds a run with other settings ({'; '.join(changed)}); choose another "
                             f"--out, add --extend (extend=True in Python) to train it again for these settings, "
                             f"or delete {path} to start over")
        if changed:  # extend: this file is trained again, from scratch, and is no longer recorded meanwhile
            checkpoints.unrecord_run(where, filename)
            if os.path.exists(path):
                os.remove(path)
        elif manifest is not None and not os.path.exists(pending) and "optimizer" not in load_checkpoint(path):
            return manifest  # finished and recorded: keep its record and training time
    save_json(pending, request)
    train(path)
    _finish(path)
    state = load_checkpoint(path)  # the training time travels in the checkpoint, across sessions (engine.fit)
    untimed = state.get("untimed_epochs", 0 if "seconds" in state else state.get("epochs", 0))
    manifest = record_run(where, filename, {"command": command, **request,
                                            "train_seconds": state.get("seconds", 0.0),
                                            **({"untimed_epochs": untimed} if untimed else {}),
                                            "torch_version": torch.__version__})
    os.remove(pending)
    return manifest


def _finish(path: str) -> None:
    """Strip optimizer/RNG state from a finished checkpoint (keeps shipped files small)."""
    state = load_checkpoint(path)
    keep = {k: state[k] for k in ("kind", "config", "state_dict", "epochs", "training", "snnlab_version",
                                  "loss_weights", "seconds", "untimed_epochs") if k in state}
    save_checkpoint(path, keep)


def write_defence(out: str, detector, fpr: float, n_calibration: int, files: list, manifest: dict) -> dict:
    """The one writer of a defence folder's records, in memory or streamed: ``detector.json`` (the threshold
    and how it was calibrated), then ``manifest.json`` (``manifest`` plus the SHA-256 of ``files`` and the
    detector file), written last, so a folder with a manifest is complete. Returns the manifest."""
    save_json(os.path.join(out, "detector.json"), {"threshold": detector.threshold, "fpr": fpr,
                                                   "calibration_split": "calibration",
                                                   "n_calibration": n_calibration, "score": "linf"})
    manifest = dict(manifest, sha256={name: sha256(os.path.join(out, name)) for name in [*files, "detector.json"]})
    save_json(os.path.join(out, "manifest.json"), manifest)
    return manifest


DEPENDS = {"classifier.pt": ("classifier_training",),  # what each file of a defence folder is trained from,
           "purifier.pt": ("classifier_training", "purifier_training"),  # beyond the dataset, seed, inputs
           "substitute.pt": ()}  # and code version, which every file depends on; the detector is always recalibrated


def claim_defence(out: str, request: dict, extend: bool = False) -> list:
    """Tie the defence folder ``out`` to ``request`` (:func:`snnlab.runs.claim`). With ``extend``, take it to a
    changed request instead (:func:`snnlab.runs.reclaim`): the manifest goes (the folder reads as unfinished
    until the run finishes), and so does every file trained from a changed setting (:data:`DEPENDS`), to be
    trained again from scratch (a schedule spans the whole run, so a longer run is not a shorter one
    continued), all before the new request is recorded. Returns the files deleted."""
    if not extend:
        claim(out, request, extend="--extend (extend=True in Python)")
        return []
    stale = []

    def clear(changed):
        stale.extend(name for name, settings in DEPENDS.items()
                     if any(not key.startswith(("classifier_training.", "purifier_training.", "fpr"))
                            or key.startswith(tuple(f"{s}." for s in settings)) for key in changed))
        for name in (["manifest.json", *stale] if changed else []):
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(out, name))

    reclaim(out, request, clear=clear)
    return stale


@holds("out")
def train_all(dataset: str = "digits", out: str = "runs/digits", seed: int = 0, device: str = "auto",
              classifier_epochs: int | None = None, purifier_epochs: int | None = None,
              fpr: float = 0.01, progress: bool = True, command: str | None = None, extend: bool = False) -> dict:
    """Train every model of the defence into ``out`` and write a SHA-256 manifest.

    Writes ``classifier.pt``, ``purifier.pt``, ``substitute.pt`` (the transfer
    attacker's CNN), ``detector.json`` and ``manifest.json``. Each model trains
    only if its finished checkpoint is missing, and an interrupted run resumes
    from its last epoch. Returns the manifest.
    """

    device = resolve_device(device)
    os.makedirs(out, exist_ok=True)
    timings = {}
    cls_settings = ClassifierTraining(seed=seed)
    pur_settings = PurifierTraining(seed=seed)
    if classifier_epochs is not None:
        cls_settings.epochs = classifier_epochs
    if purifier_epochs is not None:
        pur_settings.epochs = purifier_epochs

    claim_defence(out, {"job": "defence", "dataset": dataset, "seed": seed, "fpr": fpr,  # the settings' seed
                        "classifier_training": {k: v for k, v in asdict(cls_settings).items() if k != "seed"},
                        "purifier_training": {k: v for k, v in asdict(pur_settings).items() if k != "seed"},
                        "inputs": {"train": checkpoints.tensors_sha256(*load_dataset(dataset, "train"))}}, extend)
    paths = {name: os.path.join(out, name) for name in ("classifier.pt", "purifier.pt", "substitute.pt")}
    classifier = train_classifier(dataset, cls_settings, paths["classifier.pt"], device, progress)
    _finish(paths["classifier.pt"])
    purifier = train_purifier(classifier, dataset, pur_settings, paths["purifier.pt"], device, progress)
    _finish(paths["purifier.pt"])
    untimed = {}
    for name in ("classifier", "purifier"):  # summed over every session the run spanned (engine.fit)
        state = load_checkpoint(paths[f"{name}.pt"])
        timings[f"{name}_s"] = state.get("seconds", 0.0)
        if state.get("untimed_epochs", 0 if "seconds" in state else state.get("epochs", 0)):
            untimed[name] = state.get("untimed_epochs", state.get("epochs", 0))

    if not os.path.exists(paths["substitute.pt"]):
        images, labels = load_dataset(dataset, "train")
        with Stopwatch() as clock:
            substitute = train_substitute(images, labels, dataset_info(dataset).classes, seed=seed + 1, device=device)
        save_checkpoint(paths["substitute.pt"], {"kind": "substitute", "config": asdict(substitute.config),
                                                 "state_dict": substitute.state_dict(), "snnlab_version": __version__,
                                                 "seconds": round(clock.elapsed(), 1)})
    timings["substitute_s"] = load_checkpoint(paths["substitute.pt"]).get("seconds", 0.0)  # kept with the file

    detector = calibrate_detector(purifier.to(device), dataset, fpr)
    return write_defence(out, detector, fpr, len(load_dataset(dataset, "calibration")[1]),
                         ["classifier.pt", "purifier.pt", "substitute.pt"], {
                             "dataset": dataset, "seed": seed,
                             "command": command or f"snnlab train --dataset {dataset} --seed {seed} --out {out}",
                             "snnlab_version": __version__, "torch_version": torch.__version__,
                             "train_seconds": {k: round(v, 1) for k, v in timings.items()},
                             **({"untimed_epochs": untimed} if untimed else {}),  # before checkpoints kept time
                         })
