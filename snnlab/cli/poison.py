"""``snnlab poison``: a training-time attack. Poison a share of the training split with a backdoor trigger
and train a spiking classifier on it; report its clean accuracy and attack success rate."""
from __future__ import annotations

import argparse
import os

from ..poisoning.backdoor import Trigger, poison_into
from .options import common, out_folder, positive


def target(text: str):
    if text == "all-to-all":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--target must be a class number or all-to-all, got {text!r}") from None


def register(sub):
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
    p.add_argument("--out", type=out_folder(), default=None, help="output folder (default: runs/poisoned)")
    p.add_argument("--trigger", choices=["badnets", "blended"], default="badnets",
                   help="badnets: a white square in the bottom-right corner; blended: a fixed random pattern mixed "
                   "into the image (default: badnets)")
    p.add_argument("--size", type=positive, default=2, help="badnets patch side in pixels (default 2)")
    p.add_argument("--ratio", type=float, default=0.2, help="blended mixing ratio in (0, 1] (default 0.2)")
    p.add_argument("--strokes-only", action="store_true", help="blended: mix the pattern only into the strokes")
    p.add_argument("--rate", type=float, default=0.1, help="share of training images poisoned, in (0, 1) (default 0.1)")
    p.add_argument("--target", type=target, default=0,
                   help="a class (all-to-one) or all-to-all (y -> y + 1) (default 0)")
    p.add_argument("--epochs", type=positive, default=None, help="classifier epochs (default 40)")
    p.set_defaults(run=run)
    return p


def run(args, command: str, argv: list) -> int:
    out = args.out or os.path.join("runs", "poisoned")
    trigger = Trigger(args.trigger, args.size, args.ratio, strokes_only=args.strokes_only)
    report = poison_into(out, trigger, args.rate, args.target, args.dataset, args.seed, args.epochs, args.device,
                         not args.quiet, command)
    print(f"{report['poisoned_rows']} training images poisoned; backdoored classifier: clean accuracy "
          f"{report['backdoored']['clean_accuracy']:.1%}, attack success rate "
          f"{report['backdoored']['attack_success_rate']:.1%}")
    print(f"written to {out}")
    return 0
