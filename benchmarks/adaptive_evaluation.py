"""Every threat model on the shipped digits defence, adaptive attacks included (issue: honest evaluation).

    python benchmarks/adaptive_evaluation.py     # writes snnlab/results/adaptive_evaluation.json

Runs ``snnlab.evaluation.evaluate.evaluate`` on the first ``--limit`` test images:
undefended, grey-box and transfer PGD-20, then the adaptive white-box attacks
(end to end, BPDA, detector-aware) with ``--steps`` steps and ``--restarts``
restarts, plus a sanity check that more steps never help the defence (end to
end with ``--steps`` vs twice as many on the first 50 images at the largest
eps). About 5 minutes on 2 CPU cores with the defaults (260 s in the committed run).
"""
from __future__ import annotations

import argparse
import json
import time

import torch

import snnlab
from snnlab import results
from snnlab.attacks import AdaptivePGD
from snnlab.evaluation.evaluate import defend_batched, evaluate
from snnlab.runs.checkpoints import save_json


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eps", default="0.1,0.2")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--restarts", type=int, default=1)
    parser.add_argument("--out", default=results.path("adaptive_evaluation.json"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    eps = tuple(float(e) for e in args.eps.split(","))
    start = time.perf_counter()
    defense, substitute = snnlab.load_pretrained("digits", with_substitute=True)
    ev = evaluate(defense, "digits", attacks=("pgd",), eps=eps,
                  threat_models=("undefended", "grey-box", "transfer", "adaptive"), substitute=substitute,
                  adaptive_steps=args.steps, adaptive_restarts=args.restarts, limit=args.limit)
    x, y = snnlab.load_dataset("digits", "test", limit=50)
    sanity = {}
    for steps in (args.steps, 2 * args.steps):
        adv = AdaptivePGD(defense, eps=max(eps), steps=steps)(x, y)
        sanity[steps] = (defend_batched(defense, adv)[0].argmax(1) == y).float().mean().item()
    result = {"rows": ev.rows, "more_steps_check": {"eps": max(eps), "n": 50, "accuracy_by_steps": sanity},
              "wall_s": round(time.perf_counter() - start, 1),
              "command": f"python benchmarks/adaptive_evaluation.py --eps {args.eps} --steps {args.steps} "
                         f"--restarts {args.restarts} --limit {args.limit}", "torch": torch.__version__}
    save_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
