"""``snnlab capstone SUBMISSION``: grade a "break or defend" submission by re-measuring every claim."""
from __future__ import annotations

import argparse

from ..course.capstone import grade, load_submission
from .options import positive


def register(sub):
    c = sub.add_parser("capstone", help="grade a capstone submission: re-measure every claim of its table",
                       description="Grade a 'break or defend' submission: a .py file defining build_defense() "
                       "(images in [0, 1] -> logits) and CLAIMS (rows with threat_model, eps, accuracy and, for "
                       "a defence, correct_or_flagged). Every row is re-measured on the digits test split: "
                       "white-box rows with the full attack ensemble, grey-box and transfer rows with PGD-20; "
                       "then the sanity checks run. Exit status 0 when every criterion passes. See the book's "
                       "capstone page.",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n  snnlab capstone book/capstone/example_submission.py\n"
                       "  snnlab capstone mine.py --ensemble light --limit 50     a quick first look")
    c.add_argument("submission", help="the submission .py file")
    c.add_argument("--limit", type=positive, default=100, help="first N test images (default 100; fewer is "
                   "quicker and widens the margin a claim may exceed the measurement by)")
    c.add_argument("--ensemble", choices=["full", "light"], default="full",
                   help="white-box attacks (default: full, minutes; light is a quick first look, far kinder)")
    c.add_argument("--steps", type=positive, default=100, help="steps per ensemble attack (default 100)")
    c.set_defaults(run=run)
    return c


def run(args, command: str, argv: list) -> int:
    model, claims = load_submission(args.submission)
    result = grade(model, claims, limit=args.limit, ensemble=args.ensemble, steps=args.steps)
    print(result.report())
    return 0 if result.passed else 1
