"""The full attack ensemble on the shipped digits models: the per-image worst case (issue: attacks that know SNNs).

    python benchmarks/ensemble_evaluation.py     # writes snnlab/results/ensemble.json

On the first ``--limit`` test images and each eps, for the undefended
classifier and for the joint defence:

1. grey-box PGD-20 (crafted on the classifier; the seed paper's setting), for comparison;
2. the ``full`` ensemble in cascade (:mod:`snnlab.attacks.ensemble`): APGD-CE/DLR/T, APGD-CE through
   eleven surrogates, BPDA, the detector penalty, orthogonal and selective PGD, Square. The robust
   figure is its per-image worst case;
3. confirmation rounds on the images that survived: the strongest attacks again with twice the
   steps, 2 restarts and a new seed, until a round breaks nothing (at most ``--rounds``). The
   robust figure ("worst_case") is the per-image worst case over the ensemble and every round;
   "converged" says whether the last round broke nothing.

Target: under 20 minutes on 2 CPU cores with the defaults.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

import snnlab
from snnlab import results
from snnlab.attacks import AttackSpec, run_attack
from snnlab.attacks.apgd import APGD
from snnlab.attacks.ensemble import Ensemble, Member, full
from snnlab.attacks.orthogonal import OrthogonalPGD
from snnlab.checkpoints import save_json
from snnlab.evaluate import defend_batched


def confirmation(steps: int) -> list:
    """The attacks that broke most in the first runs, with ``steps`` steps and 2 restarts."""
    return [
        Member(f"apgd-ce x2 [{s or 'model'}]", lambda t, e, seed, s=s: APGD(t, eps=e, steps=steps, restarts=2,
                                                                           surrogate=s, seed=seed))
        for s in (None, "rect-0.5", "atan-0.5", "atan-0.25")
    ] + [
        Member(f"orthogonal-pgd x2 [{s or 'model'}]",
               lambda t, e, seed, s=s: OrthogonalPGD(t, eps=e, steps=steps, restarts=2, surrogate=s, seed=seed),
               goal="evade", defense_only=True)
        for s in (None, "rect-0.5", "atan-0.5")
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eps", default="0.1,0.2")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--square-queries", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5, help="at most this many confirmation rounds")
    parser.add_argument("--out", default=results.path("ensemble.json"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    start = time.perf_counter()
    defense = snnlab.load_pretrained("digits")
    x, y = snnlab.load_dataset("digits", "test", limit=args.limit)
    found = []
    for eps in (float(e) for e in args.eps.split(",")):
        grey = run_attack(AttackSpec("pgd", eps, 20), defense.classifier, x, y)
        logits, flags, _, _ = defend_batched(defense, grey)
        with torch.no_grad():
            undefended = (defense.classifier(grey).argmax(1) == y).float().mean().item()
        grey_correct = logits.argmax(1) == y
        for name, target in (("classifier", defense.classifier), ("defense", defense)):
            result = Ensemble(target, eps, full(args.steps, args.square_queries), progress=True, name="full").run(x, y)
            print(result.table(), flush=True)
            first = (result.accuracy, result.robust_or_flagged)
            rounds, converged = [], False
            for k in range(1, args.rounds + 1):
                survivors = (result.correct_or_flagged if result.correct_or_flagged is not None
                             else result.correct).nonzero()[:, 0]
                if len(survivors) == 0:
                    converged = True
                    break
                again = Ensemble(target, eps, confirmation(2 * args.steps), seed=k,
                                 name=f"confirmation round {k}").run(x[survivors], y[survivors])
                print(again.table(), flush=True)
                newly = result.absorb(again, survivors)
                rounds.append({"round": k, "seed": k, "ran_on": len(survivors), "newly_broken": newly,
                               "steps": 2 * args.steps, "restarts": 2, "parts": again.parts,
                               "seconds": again.seconds})
                if newly == 0:
                    converged = True
                    break
            row = {"eps": eps, "evaluated_on": name, "n": len(y), "preset": "full", "steps": args.steps,
                   "ensemble": {"accuracy": first[0], "correct_or_flagged": first[1], "parts": result.parts,
                                "seconds": result.seconds},
                   "confirmation_rounds": rounds, "converged": converged,
                   "worst_case": {"accuracy": result.accuracy, "correct_or_flagged": result.robust_or_flagged,
                                  "flagged": None if result.flagged is None else result.flagged.float().mean().item()}}
            if name == "classifier":
                row["pgd20_accuracy"] = undefended
            else:
                row["grey_box_pgd20"] = {"accuracy": grey_correct.float().mean().item(),
                                         "correct_or_flagged": (grey_correct | flags).float().mean().item()}
            found.append(row)
    out = {"rows": found, "wall_s": round(time.perf_counter() - start, 1), "torch": torch.__version__,
           "threads": torch.get_num_threads(),
           "command": f"python benchmarks/ensemble_evaluation.py --eps {args.eps} --limit {args.limit} "
                      f"--steps {args.steps} --square-queries {args.square_queries} --rounds {args.rounds}"}
    save_json(args.out, out)
    print(json.dumps({k: v for k, v in out.items() if k != "rows"}, indent=2))
    for r in found:
        w = r["worst_case"]
        print(f"eps {r['eps']}: {r['evaluated_on']}: worst-case accuracy {100 * w['accuracy']:.1f}%"
              + (f", correct or flagged {100 * w['correct_or_flagged']:.1f}%"
                 if w["correct_or_flagged"] is not None else "")
              + f" ({len(r['confirmation_rounds'])} confirmation round(s), converged: {r['converged']})")


if __name__ == "__main__":
    main()
