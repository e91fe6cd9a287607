"""``snnlab report``: the main job. Load (or train) the defence, attack it, print the table and write an
HTML report with the accuracy-vs-eps figure."""
from __future__ import annotations

import argparse
import json
import os
import time

from ..data.datasets import load_dataset
from ..evaluation.evaluate import evaluate, format_table
from ..report import report_figures, write_report
from ..runs.checkpoints import save_json
from .evaluate import load, options
from .options import attack_options, common, extend, out_file
from .train import train_defence

# The test images the main job attacks where the whole test split would take too long on 2 CPU cores: it must
# finish in at most 10 minutes there (benchmarks/report_time.py measures it, snnlab/results/report_time.json).
# --limit overrides it; the digits report attacks all 360.
SAMPLE = {"fashion-mnist": 100}


def register(sub):
    r = sub.add_parser("report", help="the main job: evaluate and write an HTML report with figures",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="The main job: load the shipped defence (or train it with --train), attack it "
                       "under each threat model, print the table and write an HTML report with the accuracy-vs-eps "
                       "figure.",
                       epilog="examples:\n  snnlab report                          main job on digits, pretrained "
                       "models\n  snnlab report --train --models runs/d  train from scratch into runs/d first")
    common(r)
    attack_options(r)
    r.add_argument("--train", action="store_true", help="train the models into --models first (default: pretrained)")
    extend(r)
    r.add_argument("--out", type=out_file("--out"), default=None,
                   help="HTML report path (default: reports/DATASET.html)")
    r.set_defaults(run=run)
    return r


def run(args, command: str, argv: list) -> int:
    if args.train:
        args.models = args.models or os.path.join("runs", args.dataset)
        manifest = train_defence(args, args.models, command)
        print(json.dumps({k: manifest[k] for k in ("dataset", "seed", "train_seconds")}))
        print(f"models written to {args.models}")
    start = time.perf_counter()
    if args.limit is None:
        args.limit = SAMPLE.get(args.dataset)
    defense, substitute = load(args)
    ev = evaluate(defense, args.dataset, limit=args.limit, progress=not args.quiet, **options(args, substitute))
    print(format_table(ev.rows))
    print(f"({ev.rows[0]['n']} {args.dataset} test images; threshold {defense.threshold:.4f}; "
          f"{time.perf_counter() - start:.1f} s)")
    if args.json:
        save_json(args.json, ev.rows)
        print(f"rows written to {args.json}")
    images, labels = load_dataset(args.dataset, "test", limit=args.limit)
    out = args.out or os.path.join("reports", f"{args.dataset}.html")
    write_report(out, ev.rows, report_figures(defense, ev, images, labels), title=f"snnlab report: {args.dataset}",
                 notes=f"models: {args.models or 'pretrained'}; the first {len(labels)} test images; seed {args.seed}")
    print(f"report written to {out}")
    return 0
