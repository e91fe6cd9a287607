"""The ``snnlab`` command: train, evaluate, report.

    snnlab report                      # the main job: load (or train) the digits defence,
                                       # attack it, print the table, write an HTML report
    snnlab train --out runs/digits     # train classifier, purifier, substitute; calibrate
    snnlab evaluate --json rows.json   # the metrics rows as JSON
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

from .attacks import ATTACKS, eps_grid
from .attacks.ensemble import PRESETS
from .checkpoints import save_json
from .data import DATASETS, load_dataset
from .evaluate import ADAPTIVE, REFERENCE, THREAT_MODELS, evaluate, evaluate_in_chunks, finish_chunks, format_table
from .pretrained import load_models, load_pretrained
from .purifiers import NAMES as PURIFIER_NAMES
from .report import report_figures, write_report
from .runs import claim, held_env, hold
from .train import train_all

EPILOG = """threat models:
  undefended  attack crafted on the classifier, evaluated on the classifier
  grey-box    crafted on the classifier, evaluated on the defence (the paper's
              setting: the attacker does not know the purifier or detector;
              this is NOT white-box robustness)
  transfer    crafted on a separately trained CNN, evaluated on the defence
  square      query-based Square attack on the whole defence (black-box)
  adaptive    white-box PGD on the whole defence: end to end through the
              surrogate gradients, BPDA (identity purifier, smooth switch),
              and detector-aware (keeps the score under the threshold);
              --adaptive apgd,autoattack adds torchattacks' APGD-CE and
              AutoAttack (APGD-CE, APGD-T, FAB-T, Square) on the whole
              defence as references
  ensemble    the per-image worst case over an attack ensemble, for the
              undefended classifier and for the defence: an image counts
              as robust only if every attack failed on it. --ensemble
              light (default: APGD-CE through the model's surrogate and a
              narrow one, orthogonal PGD against the detector; 25 steps)
              or full (every loss and surrogate family, BPDA, penalty,
              orthogonal and selective PGD, Square; 100 steps; slow)

examples:
  snnlab report                          main job on digits, pretrained models
  snnlab report --train --models runs/d  train from scratch into runs/d first
  snnlab evaluate --json rows.json --attacks pgd --eps 0.1,0.2
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one clear line and exit 2, not a usage dump
        self.exit(2, f"snnlab: error: {message} (see `snnlab --help`)\n")


def _floats(text: str):
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if any(not 0 <= v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"epsilons must lie in [0, 1] (pixels are in [0, 1]), got {text!r}")
    return values


def _names(choices):
    def parse(text: str):
        names = tuple(t.strip() for t in text.split(",") if t.strip())
        bad = [n for n in names if n not in choices]
        if bad or not names:
            raise argparse.ArgumentTypeError(f"unknown {bad or text!r}; choose from {', '.join(choices)}")
        return names
    return parse


def _purifier(text: str) -> str:
    if text not in PURIFIER_NAMES:
        raise argparse.ArgumentTypeError(f"unknown purifier {text!r}; choose from {', '.join(PURIFIER_NAMES)}")
    return text


def _device(text: str) -> str:
    from .devices import resolve_device

    try:
        return str(resolve_device(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _sigma(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value <= 4:
        raise argparse.ArgumentTypeError(f"a noise std on [0, 1] images lies in (0, 4], got {text!r}")
    return value


def _target(text: str):
    if text == "all-to-all":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--target must be a class number or all-to-all, got {text!r}") from None


def format_purification(report: dict) -> str:
    """The before/after table of ``snnlab purify-dataset``."""
    lines = [f"target label(s) detected: {report['detection']['targets']}"]
    for rule in ("any", "majority"):
        r = report[rule]
        ident = r.get("identification") or {}
        chosen = " (used)" if report["settings"]["rule"] == rule else ""
        lines.append(f"rule {rule:>8}{chosen}: transitioned {r['transitioned']:.1%}, suspicious "
                     f"{r['suspicious']:.1%}, relabelled {r['identified']:.1%}"
                     + (f"; poisoned identified (TPR) {ident['tpr']:.1%}, "
                        f"clean misidentified (FPR) {ident['fpr']:.1%}"
                        if ident.get("tpr") is not None else ""))
    lines.append(f"{'':>16} {'clean accuracy':>15} {'attack success':>15}")
    for when in ("before", "after"):
        if when in report:
            lines.append(f"{when:>16} {report[when]['clean_accuracy']:15.1%} "
                         f"{report[when]['attack_success_rate']:15.1%}")
    return "\n".join(lines)


def _whole(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {'a positive number' if low == 1 else f'{low} or more'}, "
                                             f"got {value}")
        return value
    return parse


_positive, _count = _whole(1), _whole(0)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="snnlab", description="Adversarial robustness of spiking neural networks: "
                     "SNN purification + L-infinity detection, trained, attacked and measured.",
                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(p):
        p.add_argument("--dataset", default="digits", choices=list(DATASETS),
                       help="dataset (default: digits, embedded, no download)")
        p.add_argument("--device", type=_device, default="auto",
                       help="torch device: cpu, cuda, cuda:N, mps, or auto (CUDA, then MPS, then CPU) (default: auto)")
        p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
        p.add_argument("--quiet", action="store_true", help="no progress bars")

    t = sub.add_parser("train", help="train classifier, purifier and substitute; calibrate the detector",
                       description="Train every model of the defence into --out (resumes an interrupted run; "
                       "finished models are kept: delete the folder to retrain).")
    common(t)
    t.add_argument("--out", default=None, help="output folder (default: runs/DATASET)")
    t.add_argument("--classifier-epochs", type=_positive, default=None,
                   help="classifier epochs (default 40; with --stream, the recipe's)")
    t.add_argument("--purifier-epochs", type=_positive, default=None,
                   help="purifier epochs (default 30; with --stream, the recipe's)")
    t.add_argument("--fpr", type=float, default=0.01, help="detector false-positive rate on calibration (default 0.01)")
    t.add_argument("--purifier", type=_purifier, default="snn",
                   help="which purifier: snn (default: the whole defence, classifier included), or one of the "
                   "family (" + ", ".join(n for n in PURIFIER_NAMES if n != "snn") + "), trained against the "
                   "classifier in --models (default: the shipped one) into OUT/purifiers/NAME.pt")
    t.add_argument("--models", default=None, help="with --purifier: the classifier's model folder (default: shipped)")
    t.add_argument("--noise-sigma", type=_sigma, default=None,
                   help="train only a classifier on Gaussian-noised images of this std (Cohen et al.; the base "
                   "classifier randomized smoothing certifies best) into OUT/smoothing/noise-sigmaS.pt")
    t.add_argument("--epochs", type=_positive, default=None,
                   help="with --purifier, --noise-sigma or --stream: training epochs (default: its own; with "
                   "--stream, of both models unless --classifier-epochs or --purifier-epochs say otherwise)")
    t.add_argument("--stream", action="store_true",
                   help="stream the dataset through a DataLoader with augmentation (for datasets too large to hold "
                   "in memory) and train the classifier, then the purifier on FGSM examples, with the dataset's "
                   "recipe (snnlab.recipes: the MLF DS-ResNet code's CIFAR-10 settings), then calibrate the "
                   "detector, into OUT (no substitute model: the transfer attack needs the in-memory path); "
                   "cifar10, cifar100, svhn and tiny-imagenet (the datasets with a recipe); implied by --nproc > 1, "
                   "by torchrun, and by --fake-data")
    t.add_argument("--nproc", type=_positive, default=1,
                   help="with --stream: train on N processes with DistributedDataParallel, launched "
                   "through torchrun (gloo on CPUs, NCCL on GPUs; one GPU per process); the same as "
                   "`torchrun --nproc-per-node N -m snnlab train ...`")
    t.add_argument("--batch-size", type=_positive, default=None, help="with --stream: the global batch (default 64)")
    t.add_argument("--workers", type=_count, default=2, help="with --stream: DataLoader worker processes (default 2)")
    t.add_argument("--limit", type=_positive, default=None, help="with --stream: the first N training images only")
    t.add_argument("--fake-data", action="store_true",
                   help="with --stream: torchvision's FakeData shaped like --dataset, no files (smoke tests)")
    t.add_argument("--root", default=None, help="with --stream: the dataset folder (default ~/.snnlab/data)")
    t.add_argument("--pgd-eps", type=float, default=None,
                   help="with --stream: PGD adversarial training at this L-inf radius (Madry et al., 10 steps; the "
                   "multi-step baseline the seed paper argues against); default: plain training")

    def models_arg(p):
        p.add_argument("--models", default=None,
                       help="model folder from `snnlab train` (default: the shipped pretrained models)")
        p.add_argument("--limit", type=_positive, default=None, help="use only the first N test images")
        p.add_argument("--attacks", type=_names(ATTACKS[:3]), default=("fgsm", "pgd"),
                       help="gradient attacks, comma-separated (default: fgsm,pgd)")
        p.add_argument("--eps", type=_floats, default=None,
                       help="L-infinity radii, comma-separated (default: dataset grid)")
        p.add_argument("--threat-models", type=_names(THREAT_MODELS),
                       default=("undefended", "grey-box", "transfer", "square", "ensemble"),
                       help="comma-separated, from: " + ", ".join(THREAT_MODELS) +
                       " (default: all but adaptive, which takes minutes)")
        p.add_argument("--ensemble", choices=list(PRESETS), default="light",
                       help="attack-ensemble preset for the ensemble threat model (default: light, about 2.5 "
                       "minutes on the digits test split; full is for benchmarks)")
        p.add_argument("--adaptive", type=_names((*ADAPTIVE, *REFERENCE)), default=tuple(ADAPTIVE),
                       help="adaptive attacks, comma-separated, from: " + ", ".join((*ADAPTIVE, *REFERENCE)) +
                       " (default: the three PGD variants; apgd and autoattack are reference points, "
                       "autoattack is slow)")
        p.add_argument("--adaptive-steps", type=_positive, default=100, help="adaptive PGD steps (default 100)")
        p.add_argument("--adaptive-restarts", type=_positive, default=1, help="adaptive PGD restarts (default 1)")
        p.add_argument("--square-queries", type=_positive, default=200, help="Square attack queries (default 200)")
        p.add_argument("--square-eps", type=_floats, default=None,
                       help="radii for Square (default: the second-largest of --eps; Square is slow)")
        p.add_argument("--json", default=None, help="write the metrics rows to this JSON file")
        p.add_argument("--purifier", type=_purifier, default="snn",
                       help="purifier of the joint defence: " + ", ".join(PURIFIER_NAMES) + " (default snn, the "
                       "seed paper's); another is loaded from --models/purifiers or the shipped ones, and the "
                       "detector is recalibrated for it at 1%% false positives")

    e = sub.add_parser("evaluate", help="attack the defence and print/write the metrics rows")
    common(e)
    models_arg(e)
    e.add_argument("--chunk", type=_positive, default=None,
                   help="attack the test images N at a time (default: all at once); with --json every finished "
                   "chunk is saved in JSON.partial, and the same command started again resumes from the last one")

    r = sub.add_parser("report", help="the main job: evaluate and write an HTML report with figures")
    common(r)
    models_arg(r)
    r.add_argument("--train", action="store_true", help="train the models into --models first (default: pretrained)")
    r.add_argument("--out", default=None, help="HTML report path (default: reports/DATASET.html)")

    p = sub.add_parser("poison", help="poison the training split with a backdoor and train a spiking classifier on it",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="A training-time attack: the attacker adds a trigger to a share (--rate) of the "
                       "training images and changes their label to the target. A classifier trained on them "
                       "learns the task *and* the rule 'trigger means target'. Writes OUT/split.pt (the "
                       "poisoned split, with which rows were poisoned), OUT/classifier.pt (resumable) and "
                       "OUT/report.json: clean accuracy on the test split, and the attack success rate (ASR): "
                       "the share of triggered test images of other classes classified as the target.",
                       epilog="examples:\n  snnlab poison --out runs/badnets                  2x2 white corner patch, "
                       "10%, target 0\n  snnlab poison --trigger blended --strokes-only --out runs/strokes\n"
                       "  snnlab poison --target all-to-all --rate 0.05 --out runs/a2a\n"
                       "then: snnlab purify-dataset --poisoned runs/badnets --out runs/badnets-purified")
    common(p)
    p.add_argument("--out", default=None, help="output folder (default: runs/poisoned)")
    p.add_argument("--trigger", choices=["badnets", "blended"], default="badnets",
                   help="badnets: a white square in the bottom-right corner; blended: a fixed random pattern mixed "
                   "into the image (default: badnets)")
    p.add_argument("--size", type=_positive, default=2, help="badnets patch side in pixels (default 2)")
    p.add_argument("--ratio", type=float, default=0.2, help="blended mixing ratio in (0, 1] (default 0.2)")
    p.add_argument("--strokes-only", action="store_true", help="blended: mix the pattern only into the strokes")
    p.add_argument("--rate", type=float, default=0.1, help="share of training images poisoned, in (0, 1) (default 0.1)")
    p.add_argument("--target", type=_target, default=0,
                   help="a class (all-to-one) or all-to-all (y -> y + 1) (default 0)")
    p.add_argument("--epochs", type=_positive, default=None, help="classifier epochs (default 40)")

    d = sub.add_parser("purify-dataset", help="DataElixir: find and repair the poisoned training images with a DDPM",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="DataElixir (Zhou et al., AAAI 2024): every training image is noised to DDPM step "
                       "--t-star and denoised back, --rounds times, keeping the last --keep states; the "
                       "backdoored classifier labels them. A poisoned image loses its trigger on the way and "
                       "changes label; the label whose samples change most (KL divergence, median/MAD anomaly "
                       "index > 2) is the attacker's target. Its changed samples are relabelled and their image "
                       "replaced by an intermediary, and a new classifier is trained on the result. Writes "
                       "OUT/split.pt, OUT/classifier.pt and OUT/report.json (the before/after table).",
                       epilog="the DDPM decides the result: the shipped one was trained on the clean split; "
                       "--ddpm FOLDER uses FOLDER/diffusion/ddpm.pt instead (e.g. one trained on poisoned data)")
    common(d)
    d.add_argument("--poisoned", required=True, help="folder written by `snnlab poison`")
    d.add_argument("--out", default=None, help="output folder (default: POISONED-purified)")
    d.add_argument("--t-star", type=_positive, default=10, help="DDPM step to noise to, of 100 (default 10)")
    d.add_argument("--rounds", type=_positive, default=3, help="rounds of noising and denoising (default 3)")
    d.add_argument("--keep", type=_positive, default=5, help="last states kept per round (default 5)")
    d.add_argument("--rule", choices=["any", "majority"], default="any",
                   help="which samples of a target label are relabelled: those with any intermediary changing label "
                   "(the paper's rule, default) or with the majority changing (stricter)")
    d.add_argument("--ddpm", default=None, help="folder with diffusion/ddpm.pt (default: the shipped DDPM)")
    d.add_argument("--epochs", type=_count, default=None,
                   help="epochs of the benign model and of the retrained classifier (default 40); 0 skips the "
                   "retraining (the benign model then trains 40)")

    c = sub.add_parser("capstone", help="grade a capstone submission: re-measure every claim of its table",
                       description="Grade a 'break or defend' submission: a .py file defining build_defense() "
                       "(images in [0, 1] -> logits) and CLAIMS (rows with threat_model, eps, accuracy and, for "
                       "a defence, correct_or_flagged). Every row is re-measured on the digits test split: "
                       "white-box rows with the full attack ensemble, grey-box and transfer rows with PGD-20; "
                       "then the sanity checks run. Exit status 0 when every criterion passes. See the book's "
                       "capstone page.")
    c.add_argument("submission", help="the submission .py file")
    c.add_argument("--limit", type=_positive, default=100, help="first N test images (default 100; fewer is "
                   "quicker and widens the margin a claim may exceed the measurement by)")
    c.add_argument("--ensemble", choices=["full", "light"], default="full",
                   help="white-box attacks (default: full, minutes; light is a quick first look, far kinder)")
    c.add_argument("--steps", type=_positive, default=100, help="steps per ensemble attack (default 100)")
    return parser


def _load(args):
    if args.models:  # a folder from `snnlab train --stream` has no substitute: only the transfer attack needs it
        wanted = "transfer" in getattr(args, "threat_models", ("transfer",))
        defense, substitute = (load_models(args.models, args.device, with_substitute=True) if wanted
                               else (load_models(args.models, args.device), None))
    else:
        defense, substitute = load_pretrained(args.dataset, args.device, with_substitute=True)
    if getattr(args, "purifier", "snn") != "snn":
        from . import purifiers

        purifier = purifiers.load(args.purifier, args.dataset, args.device, folder=args.models)
        defense = purifiers.defense_with(defense, purifier, args.dataset)
    return defense, substitute


def _evaluate(args):
    if args.eps is None:
        args.eps = eps_grid(args.dataset)
    start = time.perf_counter()
    defense, substitute = _load(args)
    square_eps = args.square_eps or sorted(args.eps)[-2:-1] or sorted(args.eps)[-1:]
    options = dict(attacks=args.attacks, eps=args.eps, threat_models=args.threat_models, substitute=substitute,
                   square_eps=square_eps, square_queries=args.square_queries, adaptive=args.adaptive,
                   adaptive_steps=args.adaptive_steps, adaptive_restarts=args.adaptive_restarts,
                   ensemble=args.ensemble, seed=args.seed)
    if args.command == "evaluate" and (args.json or args.chunk):  # in chunks; with --json, resumable
        request = {k: v for k, v in options.items() if k != "substitute"}
        request.update(models=args.models or "pretrained", purifier=args.purifier, limit=args.limit)
        rows = evaluate_in_chunks(defense, args.dataset, args.chunk, args.json, request, limit=args.limit,
                                  progress=not args.quiet, **options)
        print(format_table(rows))
        print(f"(threshold {defense.threshold:.4f}; {time.perf_counter() - start:.1f} s)")
        if args.json:
            save_json(args.json, rows)
            finish_chunks(args.json)
            print(f"rows written to {args.json}")
        return defense, None
    ev = evaluate(defense, args.dataset, limit=args.limit, progress=not args.quiet, **options)
    print(format_table(ev.rows))
    print(f"(threshold {defense.threshold:.4f}; {time.perf_counter() - start:.1f} s)")
    if args.json:
        save_json(args.json, ev.rows)
        print(f"rows written to {args.json}")
    return defense, ev


def _train_streamed(args, argv, command) -> int:
    """``snnlab train --stream``: the classifier, then the purifier on FGSM examples, on a streamed dataset, on one
    process or, under torchrun, many; then (rank 0) the detector's threshold and the manifest, as `snnlab train`."""
    import subprocess

    out = args.out or os.path.join("runs", args.dataset)
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:  # relaunch this command under torchrun
        rest = [a for i, a in enumerate(argv) if a != "--nproc" and (i == 0 or argv[i - 1] != "--nproc")
                and not a.startswith("--nproc=")]
        launch = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(args.nproc),
                  "--standalone", "-m", "snnlab", *rest, "--stream"]
        with hold(out, command):  # for the whole run; the processes torchrun starts work inside it
            return subprocess.run(launch, env=held_env()).returncode
    if int(os.environ.get("RANK", "0")) == 0:  # one lock per run: rank 0 holds it (unless the launcher does)
        with hold(out, command):
            return _train_streamed_in(args, out, command)
    return _train_streamed_in(args, out, command)


def _train_streamed_in(args, out, command) -> int:
    from dataclasses import asdict

    from torch.utils.data import Subset

    from ._version import __version__
    from .checkpoints import sha256
    from .distributed import calibrate, fit, fit_purifier, setup
    from .loaders import image_dataset
    from .recipes import recipe
    from .train import _finish

    if args.purifier != "snn" or args.noise_sigma is not None:
        raise ValueError("--stream trains the seed paper's defence (classifier, SNN purifier, detector); --purifier "
                         "and --noise-sigma use the in-memory path")
    name = ("fake-" + args.dataset) if args.fake_data else args.dataset
    if args.fake_data and name not in ("fake-cifar10", "fake-tiny-imagenet"):
        raise ValueError("--fake-data has the shapes of cifar10 and tiny-imagenet; choose one of them")
    dataset = image_dataset(name, "train", args.root)
    if args.limit:
        dataset = Subset(dataset, range(min(args.limit, len(dataset))))
    plan = recipe(args.dataset)  # the MLF DS-ResNet code's CIFAR-10 settings; see snnlab.recipes
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
        claim(out, {"job": "defence, streamed", "dataset": args.dataset, "data": name, "train_images": len(dataset),
                    "seed": args.seed, "fpr": args.fpr, "recipe": args.dataset,
                    "classifier_training": {k: v for k, v in asdict(classifier_settings).items() if k != "seed"},
                    "purifier_training": {k: v for k, v in asdict(purifier_settings).items() if k != "seed"}})
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
        save_json(paths["detector.json"], {"threshold": detector.threshold, "fpr": args.fpr,
                                           "calibration_split": "calibration", "n_calibration": len(calibration),
                                           "score": "linf"})
        for path in (paths["classifier.pt"], paths["purifier.pt"]):
            _finish(path)  # the optimizer state goes; a finished run is not retrained
        save_json(os.path.join(out, "manifest.json"), {
            "dataset": args.dataset, "data": name, "train_images": len(dataset), "seed": args.seed,
            "command": command, "processes": proc.world, "device": str(proc.device), "recipe": args.dataset,
            "classifier_training": asdict(classifier_settings),
            "purifier_training": {k: v for k, v in asdict(purifier_settings).items() if k != "loss"},
            "snnlab_version": __version__, "torch_version": torch.__version__,
            "train_seconds": {k: round(v, 1) for k, v in timings.items()},
            "sha256": {file: sha256(path) for file, path in paths.items()}})
        print(json.dumps({"dataset": name, "processes": proc.world, "device": str(proc.device), "images": len(dataset),
                          "classifier_steps": len(losses), "purifier_steps": len(purifier_losses),
                          "threshold": detector.threshold, "command": command}))
        print(f"models written to {out}")
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(max(1, min(torch.get_num_threads(), os.cpu_count() or 1)))
    command = "snnlab " + " ".join(argv if argv is not None else sys.argv[1:])
    try:
        if args.command == "train" and args.noise_sigma is not None:
            from .smoothing import noise_filename, train_noise_classifier_into

            if args.purifier != "snn":
                raise ValueError("--noise-sigma trains a classifier, --purifier a purifier: give one of them")
            out = args.out or os.path.join("runs", args.dataset)
            manifest = train_noise_classifier_into(args.noise_sigma, out, args.dataset, args.seed, args.device,
                                                   not args.quiet, args.epochs, command=command)
            name = noise_filename(args.noise_sigma)
            print(json.dumps(manifest["runs"][name[:-3]]))
            print(f"classifier written to {os.path.join(out, 'smoothing', name)}")
            return 0
        if args.command == "train" and (args.stream or args.nproc > 1 or args.fake_data
                                        or int(os.environ.get("WORLD_SIZE", "1")) > 1):
            return _train_streamed(args, argv if argv is not None else sys.argv[1:], command)
        if args.command == "train" and args.purifier != "snn":
            from . import purifiers

            classifier = (load_models(args.models, args.device) if args.models
                          else load_pretrained(args.dataset, args.device)).classifier
            out = args.out or os.path.join("runs", args.dataset)
            manifest = purifiers.train_into(args.purifier, classifier, out, args.dataset, args.seed, args.device,
                                            not args.quiet, args.epochs, command=command)
            print(json.dumps(manifest["runs"][args.purifier]))
            print(f"purifier written to {os.path.join(out, 'purifiers', args.purifier + '.pt')}")
            return 0
        if args.command == "train" or (args.command == "report" and args.train):
            out = args.out if args.command == "train" else args.models
            out = out or os.path.join("runs", args.dataset)
            manifest = train_all(args.dataset, out, args.seed, args.device,
                                 getattr(args, "classifier_epochs", None), getattr(args, "purifier_epochs", None),
                                 getattr(args, "fpr", 0.01), not args.quiet, command=command)
            print(json.dumps({k: manifest[k] for k in ("dataset", "seed", "train_seconds")}))
            print(f"models written to {out}")
            if args.command == "train":
                return 0
            args.models = out
        if args.command == "poison":
            from .poisoning import Trigger, poison_into

            target = args.target
            out = args.out or os.path.join("runs", "poisoned")
            trigger = Trigger(args.trigger, args.size, args.ratio, strokes_only=args.strokes_only)
            report = poison_into(out, trigger, args.rate, target, args.dataset, args.seed, args.epochs, args.device,
                                 not args.quiet, command)
            print(f"{report['poisoned_rows']} training images poisoned; backdoored classifier: clean accuracy "
                  f"{report['backdoored']['clean_accuracy']:.1%}, attack success rate "
                  f"{report['backdoored']['attack_success_rate']:.1%}")
            print(f"written to {out}")
            return 0
        if args.command == "purify-dataset":
            from .dataelixir import ElixirSettings, purify_into
            from .diffusion import load_ddpm

            out = args.out or args.poisoned.rstrip("/") + "-purified"
            settings = ElixirSettings(args.t_star, args.rounds, args.keep, args.rule, seed=args.seed,
                                      benign_epochs=args.epochs or None)
            ddpm = load_ddpm(args.dataset, args.device, folder=args.ddpm)
            report = purify_into(args.poisoned, out, settings, ddpm, args.dataset, args.epochs, args.device,
                                 not args.quiet, command)
            print(format_purification(report))
            print(f"written to {out}")
            return 0
        if args.command == "capstone":
            from .capstone import grade, load_submission

            model, claims = load_submission(args.submission)
            result = grade(model, claims, limit=args.limit, ensemble=args.ensemble, steps=args.steps)
            print(result.report())
            return 0 if result.passed else 1
        if args.command == "evaluate":
            _evaluate(args)
        elif args.command == "report":
            defense, ev = _evaluate(args)
            images, labels = load_dataset(args.dataset, "test", limit=args.limit)
            out = args.out or os.path.join("reports", f"{args.dataset}.html")
            write_report(out, ev.rows, report_figures(defense, ev, images, labels),
                         title=f"snnlab report: {args.dataset}",
                         notes=f"models: {args.models or 'pretrained'}; seed {args.seed}")
            print(f"report written to {out}")
    except ValueError as err:  # bad input, missing data, corrupt checkpoints: one clear line
        print(f"snnlab: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
