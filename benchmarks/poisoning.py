"""Backdoor poisoning and DataElixir's dataset purification: the before/after table.

    python benchmarks/poisoning.py      # writes snnlab/results/poisoning.json (about 15 min, 2 cores)

For each scenario: poison the digits train split, train the MLF spiking classifier on it
(40 epochs), run DataElixir (``--rounds`` rounds to ``t*``, ``--keep`` states each; both rules'
identification rates reported, the paper's 'any' rule, with its benign model, purifying), retrain
on the purified split, and measure
clean accuracy and attack success rate (ASR) on the test split before and after. Scenarios:

- BadNets 2x2 corner patch, 10%, all-to-one target 0 (the lesson's case), at t* in ``--t-stars``;
- Blended (random pattern, ratio 0.2), and Blended on the strokes only;
- BadNets at 2%, 5% and 20% poison; BadNets all-to-all;
- BadNets with a DDPM trained on the *poisoned* split instead of the clean one.

Also, per t*, the backdoored model on round-tripped *test* images (one round, no relabelling): the
share of triggered images still sent to the target, and the clean accuracy left: the trade-off
the t* slider of lesson 8 shows. Times per step are recorded.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict

import torch

import snnlab
from snnlab import poisoning, results
from snnlab.poisoning import dataelixir
from snnlab.poisoning.backdoor import Trigger
from snnlab.purifiers import diffusion
from snnlab.runs.checkpoints import save_json

SCENARIOS = {  # name -> (trigger, rate, target, ddpm trained on the poisoned split?)
    "badnets": (Trigger("badnets", 2), 0.1, 0, False),
    "blended": (Trigger("blended", ratio=0.2), 0.1, 0, False),
    "blended on strokes": (Trigger("blended", ratio=0.2, strokes_only=True), 0.1, 0, False),
    "badnets 2% poison": (Trigger("badnets", 2), 0.02, 0, False),
    "badnets 5% poison": (Trigger("badnets", 2), 0.05, 0, False),
    "badnets 20% poison": (Trigger("badnets", 2), 0.2, 0, False),
    "badnets all-to-all": (Trigger("badnets", 2), 0.1, "all-to-all", False),
    "badnets, DDPM trained on poisoned data": (Trigger("badnets", 2), 0.1, 0, True),
}


def round_trip_curve(model, ddpm, trigger, target, t_stars, seed=0):
    """The backdoored model on test images after one DDPM round trip to each t*."""
    images, labels = snnlab.load_dataset("digits", "test")
    rows = []
    for t in t_stars:
        generator = torch.Generator().manual_seed(seed)  # one stream: the clean images first, then the triggered

        def trip(x, t=t, generator=generator):
            return ddpm.round_trip(x, t, 1, generator)[0]
        rows.append({"t_star": t, "clean_accuracy": poisoning.clean_accuracy(model, trip(images), labels),
                     "attack_success_rate": poisoning.attack_success_rate(model, images, labels, trigger, target,
                                                                          then=trip)})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--t-stars", default="5,10,20")
    parser.add_argument("--curve-t-stars", default="2,5,10,15,20,30")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=None, help="classifier epochs (default 40)")
    parser.add_argument("--scenarios", default=";".join(SCENARIOS), help="';'-separated, from: " + "; ".join(SCENARIOS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=results.path("poisoning.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start_all = time.perf_counter()
    clean_ddpm = diffusion.load_ddpm()
    t_stars = [int(t) for t in args.t_stars.split(",")]
    rows, curve = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.scenarios.split(";"):
            if name not in SCENARIOS:
                parser.error(f"unknown scenario {name!r}; choose from {'; '.join(SCENARIOS)}")
            trigger, rate, target, poisoned_ddpm = SCENARIOS[name]
            folder = os.path.join(tmp, f"scenario-{list(SCENARIOS).index(name)}")
            report = poisoning.poison_into(folder, trigger, rate, target, epochs=args.epochs, progress=False)
            ddpm, ddpm_s = clean_ddpm, None
            if poisoned_ddpm:
                t1 = time.perf_counter()
                diffusion.train_ddpm_into(folder, poisoned=folder, progress=False)
                ddpm = diffusion.load_ddpm(folder=folder)
                ddpm_s = round(time.perf_counter() - t1, 1)
            if name == "badnets":
                model = snnlab.pretrained.load_classifier_file(os.path.join(folder, "classifier.pt"))
                curve = round_trip_curve(model, clean_ddpm, trigger, target,
                                         [int(t) for t in args.curve_t_stars.split(",")])
            for t_star in (t_stars if name == "badnets" else [10]):
                settings = dataelixir.ElixirSettings(t_star, args.rounds, min(args.keep, t_star))
                t1 = time.perf_counter()
                purified = dataelixir.purify_into(folder, os.path.join(folder, f"purified-{t_star}"), settings, ddpm,
                                                  epochs=args.epochs, progress=False)
                row = {"scenario": name, "trigger": asdict(trigger), "rate": rate, "target": target,
                       "ddpm": "poisoned split" if poisoned_ddpm else "clean train split", "t_star": t_star,
                       "rounds": args.rounds, "keep": settings.keep, "before": report["backdoored"],
                       "after": purified["after"], "rule": settings.rule, "detection": purified["detection"],
                       "any": purified["any"], "majority": purified["majority"],
                       "seconds": {"backdoored_training": report["train_seconds"], "ddpm_training": ddpm_s,
                                   "purification": purified["purify_seconds"], **purified["seconds"],
                                   "retraining": purified["retrain_seconds"],
                                   "pipeline": round(report["train_seconds"] + time.perf_counter() - t1, 1)}}
                rows.append(row)
                print(json.dumps({"scenario": name, "t_star": t_star, "before": row["before"], "after": row["after"],
                                  "targets": row["detection"]["targets"],
                                  "identification": {r: row[r]["identification"] for r in ("any", "majority")},
                                  "seconds": row["seconds"]}), file=sys.stderr, flush=True)
    result = {"benchmark": "backdoor poisoning and DataElixir dataset purification", "rows": rows,
              "round_trip_curve": curve, "wall_s": round(time.perf_counter() - start_all, 1), "threads": args.threads,
              "torch": torch.__version__,
              "command": "python benchmarks/poisoning.py" + "".join(
                  f" --{k.replace('_', '-')} {v}" for k, v in vars(args).items()
                  if k not in ("out", "threads", "scenarios") and v is not None)}
    save_json(args.out, result)
    print(f"written to {args.out} ({result['wall_s']} s)")


if __name__ == "__main__":
    main()
