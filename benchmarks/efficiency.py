"""The paper's efficiency claim, measured: FGSM-trained purification vs PGD-10 adversarial training.

    python benchmarks/efficiency.py          # writes snnlab/results/efficiency.json (~11 min on 2 cores)

One run, same data (digits train split), same classifier architecture, seed 0:

- route A (the paper): a normally trained classifier + the purifier trained on
  FGSM examples (generation included) + the calibrated detector;
- route B (the baseline): PGD-10 adversarial training of the classifier
  (Madry et al.), eps ``--at-eps``, step 2.5*eps/10, random start.

Timing: each method's first epoch is timed ``--repeats`` times, each in a
fresh process (which also gives its peak resident memory; a first epoch
includes warm-up, so it is slower than later ones), and the median is quoted.
Then every full training runs once and is timed: route A's classifier and
purifier, and route B. The route totals are those measured full runs.

Robustness (digits test split, first ``--limit`` images, each eps):
grey-box PGD-20 (attacker knows the classifier only), and the white-box
figure: the per-image worst case over the ``full`` attack ensemble
(:mod:`snnlab.attacks.ensemble`, ``--steps`` steps per attack) on the whole
defence for route A and on the adversarially trained classifier for route B.
Both routes face the same attacks; the detector-evasion attacks apply to
route A only, since route B has no detector.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import time

import torch

import snnlab
from snnlab import results
from snnlab.attacks import AttackSpec, run_attack
from snnlab.attacks.ensemble import Ensemble, full
from snnlab.evaluation.evaluate import defend_batched, predict_batched
from snnlab.models.defense import JointDefense
from snnlab.runs.checkpoints import save_json
from snnlab.training.trainers import (
    ClassifierTraining,
    PurifierTraining,
    calibrate_detector,
    train_classifier,
    train_purifier,
)


def _one_epoch(method: str, at_eps: float, queue):
    torch.set_num_threads(2)
    classifier = snnlab.load_pretrained("digits").classifier
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    if method == "classifier":
        train_classifier("digits", ClassifierTraining(epochs=1), progress=False)
    elif method == "purifier (FGSM)":
        train_purifier(classifier, "digits", PurifierTraining(epochs=1), progress=False)
    else:
        train_classifier("digits", ClassifierTraining(epochs=1, adversarial="pgd", eps=at_eps, pgd_steps=10),
                         progress=False)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((seconds, peak / 1024, base / 1024))  # Linux reports KiB


def epoch_timing(method, at_eps, repeats):
    ctx = mp.get_context("spawn")
    runs = []
    for _ in range(repeats):
        queue = ctx.Queue()
        proc = ctx.Process(target=_one_epoch, args=(method, at_eps, queue))
        proc.start()
        runs.append(queue.get())
        proc.join()
    return {"epoch_s_median": round(statistics.median(r[0] for r in runs), 2),
            "epoch_s_runs": [round(r[0], 2) for r in runs],
            "peak_rss_mb": round(max(r[1] for r in runs), 1),
            "rss_before_training_mb": round(min(r[2] for r in runs), 1)}


def accuracy_rows(model, classifier, x, y, eps_list, steps, is_defense):
    """Grey-box PGD-20 and the full ensemble's per-image worst case, per eps."""
    rows = {}
    for eps in eps_list:
        grey = run_attack(AttackSpec("pgd", eps, 20), classifier, x, y)
        worst = Ensemble(model, eps, "full" if steps == 100 else full(steps), name="full").run(x, y)
        row = {"white_box_accuracy": worst.accuracy, "ensemble_seconds": worst.seconds}
        if is_defense:
            g_logits, g_flags, _, _ = defend_batched(model, grey)
            row.update(grey_box_accuracy=(g_logits.argmax(1) == y).float().mean().item(),
                       grey_box_correct_or_flagged=((g_logits.argmax(1) == y) | g_flags).float().mean().item(),
                       white_box_correct_or_flagged=worst.robust_or_flagged)
        else:
            row["grey_box_accuracy"] = (predict_batched(classifier, grey).argmax(1) == y).float().mean().item()
        rows[str(eps)] = row
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--at-eps", type=float, default=0.2)
    parser.add_argument("--at-epochs", type=int, default=10)
    parser.add_argument("--eps", default="0.1,0.2")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--steps", type=int, default=100, help="steps per attack in the full ensemble")
    parser.add_argument("--out", default=results.path("efficiency.json"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    eps_list = [float(e) for e in args.eps.split(",")]
    started = time.perf_counter()

    timing = {m: epoch_timing(m, args.at_eps, args.repeats)
              for m in ("classifier", "purifier (FGSM)", "PGD-10 adversarial training")}
    print(json.dumps(timing, indent=2), flush=True)

    cls_epochs, pur_epochs = ClassifierTraining().epochs, PurifierTraining().epochs
    start = time.perf_counter()
    classifier = train_classifier("digits", ClassifierTraining(), progress=True)
    classifier_s = time.perf_counter() - start
    start = time.perf_counter()
    purifier = train_purifier(classifier, "digits", PurifierTraining(), progress=True)
    defense = JointDefense(classifier, purifier, calibrate_detector(purifier, "digits")).eval()
    purifier_s = time.perf_counter() - start

    start = time.perf_counter()
    at_model = train_classifier("digits", ClassifierTraining(epochs=args.at_epochs, adversarial="pgd",
                                                             eps=args.at_eps, pgd_steps=10), progress=True)
    at_s = time.perf_counter() - start

    x, y = snnlab.load_dataset("digits", "test")
    clean = {"purification route (defence)": (defend_batched(defense, x)[0].argmax(1) == y).float().mean().item(),
             "PGD-10 adversarial training": (predict_batched(at_model, x).argmax(1) == y).float().mean().item()}
    x, y = x[:args.limit], y[:args.limit]
    route_a_s = classifier_s + purifier_s
    result = {
        "benchmark": "purification (FGSM) vs PGD-10 adversarial training, digits, 2 CPU threads",
        "epoch_timing": timing,
        "route_a": {"what": f"classifier {cls_epochs} epochs + purifier {pur_epochs} epochs on FGSM",
                    "classifier_s": round(classifier_s, 1), "purifier_s": round(purifier_s, 1),
                    "total_s": round(route_a_s, 1),
                    "clean_accuracy": clean["purification route (defence)"],
                    "robust": accuracy_rows(defense, classifier, x, y, eps_list, args.steps, True)},
        "route_b": {"what": f"PGD-10 adversarial training, eps {args.at_eps}, {args.at_epochs} epochs",
                    "total_s": round(at_s, 1), "clean_accuracy": clean["PGD-10 adversarial training"],
                    "robust": accuracy_rows(at_model, at_model, x, y, eps_list, args.steps, False)},
        "time_ratio_b_over_a": round(at_s / route_a_s, 2),
        "first_epoch_time_ratio_pgd_at_over_purifier": round(
            timing["PGD-10 adversarial training"]["epoch_s_median"] / timing["purifier (FGSM)"]["epoch_s_median"], 2),
        "robust_eval": f"first {args.limit} test images; grey-box PGD-20; white box: per-image worst case over "
                       f"the full attack ensemble ({args.steps} steps) on the whole defence (route A) / on the "
                       "classifier (route B)",
        "benchmark_wall_s": round(time.perf_counter() - started, 1),
        "command": f"python benchmarks/efficiency.py --repeats {args.repeats} --at-eps {args.at_eps} "
                   f"--at-epochs {args.at_epochs} --eps {args.eps} --limit {args.limit} "
                   f"--steps {args.steps}", "torch": torch.__version__,
    }
    save_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
