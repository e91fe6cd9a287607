"""How much the attacker's choice of surrogate gradient moves the robust figure (lesson 6's widget data).

    python benchmarks/surrogate_sweep.py     # writes snnlab/results/surrogate_sweep.json

APGD-CE (``--steps`` steps) at ``--eps`` on the first ``--limit`` digits test
images, once per attack-time surrogate (:func:`snnlab.attacks.surrogate_sweep.sweep_names`:
five shapes at five widths, straight-through, rate, HART-style, ASSG-style),
on the undefended classifier and on the joint defence. The forward pass is
the same in every run; only the gradient differs. About 4 minutes on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import time

import torch

import snnlab
from snnlab import results
from snnlab.attacks.surrogate_sweep import surrogate_sweep
from snnlab.runs.checkpoints import save_json


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eps", type=float, default=0.1)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--out", default=results.path("surrogate_sweep.json"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    start = time.perf_counter()
    defense = snnlab.load_pretrained("digits")
    x, y = snnlab.load_dataset("digits", "test", limit=args.limit)
    out = {"eps": args.eps, "n": len(y), "steps": args.steps, "attack": "APGD-CE",
           "classifier": surrogate_sweep(defense.classifier, x, y, args.eps, steps=args.steps),
           "defense": surrogate_sweep(defense, x, y, args.eps, steps=args.steps)}
    out["wall_s"] = round(time.perf_counter() - start, 1)
    out["command"] = f"python benchmarks/surrogate_sweep.py --eps {args.eps} --limit {args.limit} --steps {args.steps}"
    save_json(args.out, out)
    for name in out["classifier"]:
        c, d = out["classifier"][name], out["defense"][name]
        print(f"{name:<10} classifier {100 * c['accuracy']:5.1f}%  defence {100 * d['accuracy']:5.1f}% "
              f"(correct or flagged {100 * d['correct_or_flagged']:5.1f}%)")
    print(f"{out['wall_s']} s")


if __name__ == "__main__":
    main()
