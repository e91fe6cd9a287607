"""``snnlab train-adversarial EPS``: the PGD adversarially trained classifier (Madry et al.), the baseline of
the seed paper's efficiency comparison, into ``OUT/adversarial/pgdK-epsE.pt``."""
from __future__ import annotations

import argparse
import json
import os

from ..training.adversarial import adversarial_filename, train_adversarial_into
from .options import bounded, common, extend, out_folder, positive


def register(sub):
    p = sub.add_parser("train-adversarial", help="train a classifier on PGD examples (adversarial training baseline)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="PGD adversarial training (Madry et al.) of the spiking classifier at L-inf radius "
                       "EPS: every batch is replaced by its PGD-K examples (step 2.5 EPS / K, random start) against "
                       "the model being trained. Into OUT/adversarial/pgdK-epsE.pt, recorded in "
                       "OUT/adversarial/manifest.json; resumes an interrupted run with the same settings. About "
                       "K + 1 times the cost of plain training.",
                       epilog="examples:\n  snnlab train-adversarial 0.1                   PGD-10 at eps 0.1, into "
                       "runs/digits/adversarial\n  snnlab train-adversarial 0.1 --steps 3 --dataset fashion-mnist "
                       "--epochs 5 --out runs/fm")
    p.add_argument("eps", type=bounded(1, "an L-inf radius"), help="the L-inf training radius, in (0, 1]")
    common(p)
    p.add_argument("--steps", type=positive, default=10, help="PGD steps per batch (default 10)")
    p.add_argument("--out", type=out_folder(), default=None, help="output folder (default: runs/DATASET)")
    extend(p)
    p.add_argument("--epochs", type=positive, default=None, help="training epochs (default 40)")
    p.set_defaults(run=run)
    return p


def run(args, command: str, argv: list) -> int:
    out = args.out or os.path.join("runs", args.dataset)
    manifest = train_adversarial_into(args.eps, out, args.dataset, args.seed, args.steps, args.device,
                                      not args.quiet, args.epochs, command=command, extend=args.extend)
    name = adversarial_filename(args.eps, args.steps)
    print(json.dumps(manifest["runs"][name[:-3]]))
    print(f"classifier written to {os.path.join(out, 'adversarial', name)}")
    return 0
