"""``snnlab purify-dataset``: DataElixir on a poisoned training split (from ``snnlab poison``): find the
target label, repair its poisoned images with a DDPM, retrain, and print the before/after table."""
from __future__ import annotations

import argparse

from ..poisoning.dataelixir import ElixirSettings, format_purification, purify_into
from ..purifiers.diffusion import load_ddpm
from .options import common, count, in_folder, out_folder, positive


def register(sub):
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
                       "--ddpm FOLDER uses FOLDER/diffusion/ddpm.pt instead (e.g. one trained on poisoned data)\n"
                       "example:\n  snnlab poison --out runs/badnets && snnlab purify-dataset --poisoned runs/badnets")
    common(d)
    d.add_argument("--poisoned", type=in_folder("a `snnlab poison` folder", "--poisoned"), required=True,
                   help="folder written by `snnlab poison`")
    d.add_argument("--out", type=out_folder(), default=None, help="output folder (default: POISONED-purified)")
    d.add_argument("--t-star", type=positive, default=10, help="DDPM step to noise to, of 100 (default 10)")
    d.add_argument("--rounds", type=positive, default=3, help="rounds of noising and denoising (default 3)")
    d.add_argument("--keep", type=positive, default=5, help="last states kept per round (default 5)")
    d.add_argument("--rule", choices=["any", "majority"], default="any",
                   help="which samples of a target label are relabelled: those with any intermediary changing label "
                   "(the paper's rule, default) or with the majority changing (stricter)")
    d.add_argument("--ddpm", type=in_folder("a folder with diffusion/ddpm.pt", "--ddpm"), default=None,
                   help="folder with diffusion/ddpm.pt (default: the shipped DDPM)")
    d.add_argument("--epochs", type=count, default=None,
                   help="epochs of the benign model and of the retrained classifier (default 40); 0 skips the "
                   "retraining (the benign model then trains 40)")
    d.set_defaults(run=run)
    return d


def run(args, command: str, argv: list) -> int:
    out = args.out or args.poisoned.rstrip("/") + "-purified"
    settings = ElixirSettings(args.t_star, args.rounds, args.keep, args.rule, seed=args.seed,
                              benign_epochs=args.epochs or None)
    ddpm = load_ddpm(args.dataset, args.device, folder=args.ddpm)
    report = purify_into(args.poisoned, out, settings, ddpm, args.dataset, args.epochs, args.device, not args.quiet,
                         command)
    print(format_purification(report))
    print(f"written to {out}")
    return 0
