"""AutoAttack as a reference point for the adaptive evaluation (issue: honest evaluation).

    python benchmarks/autoattack_reference.py    # writes snnlab/results/autoattack.json

On the first ``--limit`` digits test images, at each eps: torchattacks'
AutoAttack (standard version: APGD-CE, APGD-T, FAB-T, then Square with 5000
queries, each run only on the images the previous parts left correct) with its
gradient parts raised to ``--steps`` iterations, against

- the undefended classifier (sanity check: it should reach ~0% at large eps), and
- the whole joint defence, end to end through the surrogate gradients, beside
  snnlab's own end-to-end PGD and AutoAttack's first part alone (APGD-CE),
  with the same step count on the same images.

AutoAttack does not know about the detector: a flagged image it misclassifies
counts as a success for it, and as "correct or flagged" for the defence.
Each row records its own wall time.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

import snnlab
from snnlab import results
from snnlab.attacks import AttackSpec, run_attack
from snnlab.evaluation.evaluate import _row, accuracy, evaluate, predict_batched
from snnlab.runs.checkpoints import save_json


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eps", default="0.1,0.2")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--out", default=results.path("autoattack.json"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    eps = tuple(float(e) for e in args.eps.split(","))
    start = time.perf_counter()
    defense = snnlab.load_pretrained("digits")
    x, y = snnlab.load_dataset("digits", "test", limit=args.limit)
    rows = []
    for e in eps:
        spec = AttackSpec("autoattack", e, args.steps)
        t0 = time.perf_counter()
        adv = run_attack(spec, defense.classifier, x, y)
        row = _row("digits", "undefended", spec, len(y), "classifier",
                   accuracy(predict_batched(defense.classifier, adv), y))
        rows.append({**row, "wall_s": round(time.perf_counter() - t0, 1)})
        print(json.dumps(rows[-1]), flush=True)
    for name in ("pgd-end-to-end", "apgd", "autoattack"):
        t0 = time.perf_counter()
        ev = evaluate(defense, "digits", eps=eps, threat_models=("adaptive",), adaptive=(name,),
                      adaptive_steps=args.steps, data=(x, y))
        seconds = round(time.perf_counter() - t0, 1)
        if name == "pgd-end-to-end":
            rows = ev.rows[:2] + rows  # the clean rows, once
        for row in ev.rows[2:]:
            rows.append({**row, "wall_s": seconds})  # both eps together
            print(json.dumps(rows[-1]), flush=True)
    result = {"rows": rows, "wall_s": round(time.perf_counter() - start, 1),
              "command": f"python benchmarks/autoattack_reference.py --eps {args.eps} --limit {args.limit} "
                         f"--steps {args.steps}", "torch": torch.__version__}
    save_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
