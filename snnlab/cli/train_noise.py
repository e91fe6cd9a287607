"""``snnlab train-noise SIGMA``: a classifier trained on Gaussian-noised images, into
``OUT/smoothing/noise-sigmaS.pt`` (the base classifier randomized smoothing certifies best)."""
from __future__ import annotations

import argparse
import json
import os

from ..evaluation.smoothing import noise_filename, train_noise_classifier_into
from .options import bounded, common, extend, out_folder, positive


def register(sub):
    p = sub.add_parser("train-noise", help="train a classifier on Gaussian-noised images (smoothing baseline)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Train the spiking classifier on images with Gaussian noise of std SIGMA added "
                       "(Cohen et al.) into OUT/smoothing/noise-sigmaS.pt, recorded in OUT/smoothing/manifest.json; "
                       "resumes an interrupted run with the same settings.",
                       epilog="examples:\n  snnlab train-noise 0.25                 into runs/digits/smoothing/"
                       "noise-sigma0.25.pt\n  snnlab train-noise 0.5 --epochs 10 --out runs/noise")
    p.add_argument("sigma", type=bounded(4, "a noise std"), help="the noise std on [0, 1] images, in (0, 4]")
    common(p)
    p.add_argument("--out", type=out_folder(), default=None, help="output folder (default: runs/DATASET)")
    extend(p)
    p.add_argument("--epochs", type=positive, default=None, help="training epochs (default 40)")
    p.set_defaults(run=run)
    return p


def run(args, command: str, argv: list) -> int:
    out = args.out or os.path.join("runs", args.dataset)
    manifest = train_noise_classifier_into(args.sigma, out, args.dataset, args.seed, args.device, not args.quiet,
                                           args.epochs, command=command, extend=args.extend)
    name = noise_filename(args.sigma)
    print(json.dumps(manifest["runs"][name[:-3]]))
    print(f"classifier written to {os.path.join(out, 'smoothing', name)}")
    return 0
