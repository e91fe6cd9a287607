"""``snnlab train``: the whole defence (classifier, SNN purifier, transfer substitute, calibrated detector)
into one folder, in memory, or streamed from disk on one process or many (``--stream``, ``--nproc``)."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict

import torch
from torch.utils.data import Subset

from .._version import __version__
from ..data.loaders import image_dataset
from ..runs.folders import held_env, hold, holds_inherited
from ..training.distributed import LAUNCHER_ENV, calibrate, die_with_parent, fit, fit_purifier, setup
from ..training.recipes import recipe
from ..training.trainers import _finish, claim_defence, train_all, write_defence
from .options import common, count, extend, in_folder, out_folder, positive

HELP = "train classifier, purifier and substitute; calibrate the detector"
MOVED = {"--purifier": "`snnlab train-purifier NAME`", "--noise-sigma": "`snnlab train-noise SIGMA`",
         "--models": "`snnlab train-purifier NAME --models DIR`"}


def register(sub):
    t = sub.add_parser("train", help=HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Train every model of the defence into --out (resumes an interrupted run; "
                       "finished models are kept: delete the folder to retrain). In memory by default; --stream "
                       "reads the dataset through a DataLoader instead, and --nproc N trains on N processes.",
                       epilog="examples:\n  snnlab train --out runs/digits                     the digits defence, "
                       "in memory\n  snnlab train --dataset fashion-mnist --classifier-epochs 15 --purifier-epochs "
                       "10 --out runs/fm\n  snnlab train --stream --fake-data --dataset cifar10 --limit 64 --epochs 1 "
                       "--out runs/smoke\n  snnlab train --stream --nproc 2 --dataset cifar10 --out runs/c10"
                       "      DDP, 2 processes\none purifier of the family: snnlab train-purifier; a noise-trained "
                       "classifier: snnlab train-noise")
    common(t)
    t.add_argument("--out", type=out_folder(), default=None, help="output folder (default: runs/DATASET)")
    t.add_argument("--classifier-epochs", type=positive, default=None,
                   help="classifier epochs (default: --epochs, else 40; with --stream, the recipe's)")
    t.add_argument("--purifier-epochs", type=positive, default=None,
                   help="purifier epochs (default: --epochs, else 30; with --stream, the recipe's)")
    t.add_argument("--epochs", type=positive, default=None,
                   help="epochs of both models unless --classifier-epochs or --purifier-epochs say otherwise")
    extend(t)
    t.add_argument("--fpr", type=float, default=0.01, help="detector false-positive rate on calibration (default 0.01)")
    t.add_argument("--stream", action="store_true",
                   help="stream the dataset through a DataLoader with augmentation (for datasets too large to hold "
                   "in memory) and train the classifier, then the purifier on FGSM examples, with the dataset's "
                   "recipe (snnlab.training.recipes: the MLF DS-ResNet code's CIFAR-10 settings), then calibrate the "
                   "detector, into OUT (no substitute model: the transfer attack needs the in-memory path); "
                   "cifar10, cifar100, svhn and tiny-imagenet (the datasets with a recipe); implied by --nproc > 1, "
                   "by torchrun, and by --fake-data")
    t.add_argument("--nproc", type=positive, default=1,
                   help="train on N processes with DistributedDataParallel, launched through torchrun (gloo on "
                   "CPUs, NCCL on GPUs; one GPU per process), streamed; the same as "
                   "`torchrun --nproc-per-node N -m snnlab train --stream ...`")
    streamed = t.add_argument_group("streamed training (--stream, --nproc, torchrun)")
    streamed.add_argument("--batch-size", type=positive, default=None, help="the global batch (default 64)")
    streamed.add_argument("--workers", type=count, default=2, help="DataLoader worker processes (default 2)")
    streamed.add_argument("--limit", type=positive, default=None, help="the first N training images only")
    streamed.add_argument("--fake-data", action="store_true",
                          help="torchvision's FakeData shaped like --dataset, no files (smoke tests)")
    streamed.add_argument("--root", type=in_folder("the dataset folder", "--root"), default=None,
                          help="the dataset folder (default ~/.snnlab/data)")
    streamed.add_argument("--pgd-eps", type=float, default=None,
                          help="PGD adversarial training at this L-inf radius (Madry et al., 10 steps; the "
                          "multi-step baseline the seed paper argues against); default: plain training")
    for flag in MOVED:  # the jobs these flags once chose are commands of their own now
        t.add_argument(flag, default=None, help=argparse.SUPPRESS)
    t.set_defaults(run=run)
    return t


def run(args, command: str, argv: list) -> int:
    for flag, instead in MOVED.items():
        if getattr(args, flag[2:].replace("-", "_")) is not None:
            raise ValueError(f"`snnlab train {flag}` is now {instead}")
    if args.stream or args.nproc > 1 or args.fake_data or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return train_streamed(args, argv, command)
    if args.pgd_eps is not None or args.limit or args.root or args.batch_size:
        raise ValueError("--pgd-eps, --limit, --root and --batch-size are options of streamed training: add --stream")
    out = args.out or os.path.join("runs", args.dataset)
    manifest = train_defence(args, out, command)
    print(json.dumps({k: manifest[k] for k in ("dataset", "seed", "train_seconds")}))
    print(f"models written to {out}")
    return 0


def train_defence(args, out: str, command: str) -> dict:
    """The in-memory defence into ``out`` (also ``snnlab report --train``)."""
    epochs = getattr(args, "epochs", None)
    classifier_epochs = getattr(args, "classifier_epochs", None) or epochs
    purifier_epochs = getattr(args, "purifier_epochs", None) or epochs
    return train_all(args.dataset, out, args.seed, args.device, classifier_epochs, purifier_epochs,
                     getattr(args, "fpr", 0.01), not args.quiet, command=command, extend=getattr(args, "extend", False))


def train_streamed(args, argv, command) -> int:
    """The classifier, then the purifier on FGSM examples, on a streamed dataset, on one process or, under
    torchrun, many; then (rank 0) the detector's threshold and the manifest, as the in-memory path."""
    out = args.out or os.path.join("runs", args.dataset)
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:  # relaunch this command under torchrun
        rest = [a for i, a in enumerate(argv) if a != "--nproc" and (i == 0 or argv[i - 1] != "--nproc")
                and not a.startswith("--nproc=")]
        launch = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(args.nproc),
                  "--standalone", "-m", "snnlab", *rest, "--stream"]
        with hold(out, command):  # for the whole run; the processes torchrun starts work inside it
            env = dict(held_env(), **{LAUNCHER_ENV: str(os.getpid())})
            linux = sys.platform.startswith("linux")  # (preexec_fn does not exist on Windows)
            return subprocess.run(launch, env=env, preexec_fn=die_with_parent if linux else None).returncode
    if holds_inherited(out):  # a worker of the launcher above: it holds the lock, so die with it
        die_with_parent()
    if int(os.environ.get("RANK", "0")) == 0:  # one lock per run: rank 0 holds it (unless the launcher does)
        with hold(out, command):
            return _train_streamed_in(args, out, command)
    return _train_streamed_in(args, out, command)


def _train_streamed_in(args, out, command) -> int:
    name = ("fake-" + args.dataset) if args.fake_data else args.dataset
    if args.fake_data and name not in ("fake-cifar10", "fake-tiny-imagenet"):
        raise ValueError("--fake-data has the shapes of cifar10 and tiny-imagenet; choose one of them")
    dataset = image_dataset(name, "train", args.root)
    if args.limit:
        dataset = Subset(dataset, range(min(args.limit, len(dataset))))
    plan = recipe(args.dataset)  # the MLF DS-ResNet code's CIFAR-10 settings; see snnlab.training.recipes
    classifier_settings, purifier_settings = plan.classifier, plan.purifier
    classifier_settings.seed = purifier_settings.seed = args.seed
    if args.pgd_eps is not None:
        if not 0 < args.pgd_eps <= 1:
            raise ValueError(f"--pgd-eps must lie in (0, 1] (pixels are in [0, 1]), got {args.pgd_eps}")
        classifier_settings.adversarial, classifier_settings.eps = "pgd", args.pgd_eps
    classifier_settings.epochs = args.classifier_epochs or args.epochs or classifier_settings.epochs
    purifier_settings.epochs = args.purifier_epochs or args.epochs or purifier_settings.epochs
    for settings in (classifier_settings, purifier_settings):
        settings.batch_size = args.batch_size or settings.batch_size
    paths = {name: os.path.join(out, name) for name in ("classifier.pt", "purifier.pt", "detector.json")}
    proc = setup(args.device)
    if proc.rank == 0:  # the folder is tied to this request: another is refused before anything trains
        unseeded = {f"{kind}_training": {k: v for k, v in asdict(settings).items() if k != "seed"}
                    for kind, settings in (("classifier", classifier_settings), ("purifier", purifier_settings))}
        claim_defence(out, {"job": "defence, streamed", "dataset": args.dataset, "data": name,
                            "train_images": len(dataset), "seed": args.seed, "fpr": args.fpr, "recipe": args.dataset,
                            **unseeded}, args.extend)
    if torch.distributed.is_initialized():
        torch.distributed.barrier()  # no process reads a checkpoint before rank 0 has claimed (or cleared) the folder
    timings, start = {}, time.perf_counter()
    classifier, losses = fit(dataset, plan.network, classifier_settings, paths["classifier.pt"], args.device,
                             not args.quiet, args.workers, plan.clip)
    timings["classifier_s"], start = time.perf_counter() - start, time.perf_counter()
    purifier, purifier_losses = fit_purifier(dataset, classifier, plan.purifier_network, purifier_settings,
                                             paths["purifier.pt"], args.device, not args.quiet, args.workers, plan.clip)
    timings["purifier_s"] = time.perf_counter() - start
    if proc.rank == 0:
        calibration = image_dataset(name, "calibration", args.root)
        detector = calibrate(purifier, calibration, args.fpr, workers=args.workers)
        for path in (paths["classifier.pt"], paths["purifier.pt"]):
            _finish(path)  # the optimizer state goes; a finished run is not retrained
        write_defence(out, detector, args.fpr, len(calibration), ["classifier.pt", "purifier.pt"], {
            "dataset": args.dataset, "data": name, "train_images": len(dataset), "seed": args.seed,
            "command": command, "processes": proc.world, "device": str(proc.device), "recipe": args.dataset,
            "classifier_training": asdict(classifier_settings),
            "purifier_training": {k: v for k, v in asdict(purifier_settings).items() if k != "loss"},
            "snnlab_version": __version__, "torch_version": torch.__version__,
            "train_seconds": {k: round(v, 1) for k, v in timings.items()}})
        print(json.dumps({"dataset": name, "processes": proc.world, "device": str(proc.device), "images": len(dataset),
                          "classifier_steps": len(losses), "purifier_steps": len(purifier_losses),
                          "threshold": detector.threshold, "command": command}))
        print(f"models written to {out}")
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return 0
