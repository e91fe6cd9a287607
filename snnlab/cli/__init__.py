"""The ``snnlab`` command: one module per subcommand (huggingface/accelerate's pattern). Each module
registers its own parser (``register(subparsers)``) and its job (``run(args, command, argv)``); ``main``
parses and dispatches, and turns a ValueError (bad input, missing data, a corrupt checkpoint) into one line.

    snnlab report                      # the main job: load (or train) the digits defence,
                                       # attack it, print the table, write an HTML report
    snnlab train --out runs/digits     # train classifier, purifier, substitute; calibrate
    snnlab evaluate --json rows.json   # the metrics rows as JSON
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

from . import capstone, evaluate, poison, purify_dataset, report, train, train_adversarial, train_noise, train_purifier
from .options import Parser

COMMANDS = (train, train_purifier, train_noise, train_adversarial, evaluate, report, poison, purify_dataset, capstone)

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
  snnlab train --out runs/digits         the whole defence, in memory (--stream, --nproc N: streamed, DDP)
  snnlab train-purifier consistency      one purifier of the family
  snnlab train-noise 0.25                a classifier trained on Gaussian noise
  snnlab train-adversarial 0.1           a classifier trained on PGD examples (Madry et al.)
each command has its own --help with examples
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``snnlab`` parser: one subcommand per module of :data:`COMMANDS`, each registered by the module."""
    parser = Parser(prog="snnlab", description="Adversarial robustness of spiking neural networks: "
                    "SNN purification + L-infinity detection, trained, attacked and measured.",
                    epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv=None) -> int:
    """Run ``snnlab ARGV`` (default: the process's arguments); returns the exit status (2: bad input, in one
    line on stderr)."""
    argv = list(argv) if argv is not None else sys.argv[1:]
    args = build_parser().parse_args(argv)
    torch.set_num_threads(max(1, min(torch.get_num_threads(), os.cpu_count() or 1)))
    try:
        return args.run(args, "snnlab " + " ".join(argv), argv)
    except ValueError as err:  # bad input, missing data, corrupt checkpoints: one clear line
        print(f"snnlab: error: {err}", file=sys.stderr)
        return 2
