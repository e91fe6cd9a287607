"""``snnlab train-purifier NAME``: one purifier of the family, trained against a classifier, into
``OUT/purifiers/NAME.pt`` with its manifest entry."""
from __future__ import annotations

import argparse
import json
import os

from .. import purifiers
from ..pretrained import load_models, load_pretrained
from ..purifiers import NAMES
from .options import common, extend, in_folder, out_folder, positive, purifier

FAMILY = [n for n in NAMES if n != "snn"]


def register(sub):
    p = sub.add_parser("train-purifier", help="train one purifier of the family against a classifier",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Train one purifier of the family (" + ", ".join(FAMILY) + ") against the "
                       "classifier in --models (default: the shipped one) into OUT/purifiers/NAME.pt, recorded in "
                       "OUT/purifiers/manifest.json; resumes an interrupted run with the same settings. The seed "
                       "paper's SNN purifier trains with the whole defence: `snnlab train`.",
                       epilog="examples:\n  snnlab train-purifier consistency                      against the "
                       "shipped digits classifier, into runs/digits\n  snnlab train-purifier masking --models "
                       "runs/d --out runs/d\nthen: snnlab evaluate --models runs/d --purifier masking")
    p.add_argument("name", type=purifier, help="the purifier: " + ", ".join(FAMILY))
    common(p)
    p.add_argument("--models", type=in_folder("a snnlab model folder", "--models"), default=None,
                   help="the classifier's model folder (default: the shipped models)")
    p.add_argument("--out", type=out_folder(), default=None, help="output folder (default: runs/DATASET)")
    extend(p)
    p.add_argument("--epochs", type=positive, default=None, help="training epochs (default: the purifier's own)")
    p.set_defaults(run=run)
    return p


def run(args, command: str, argv: list) -> int:
    if args.name == "snn":
        raise ValueError("the SNN purifier trains with the whole defence: `snnlab train`")
    classifier = (load_models(args.models, args.device, dataset=args.dataset) if args.models
                  else load_pretrained(args.dataset, args.device)).classifier
    out = args.out or os.path.join("runs", args.dataset)
    manifest = purifiers.train_into(args.name, classifier, out, args.dataset, args.seed, args.device,
                                    not args.quiet, args.epochs, command=command, extend=args.extend)
    print(json.dumps(manifest["runs"][args.name]))
    print(f"purifier written to {os.path.join(out, 'purifiers', args.name + '.pt')}")
    return 0
