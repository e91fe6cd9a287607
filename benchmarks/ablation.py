"""Ablation of the purifier's composite loss: retrain the purifier with each term switched off.

    python benchmarks/ablation.py            # writes snnlab/results/ablation.json (~7 min on 2 cores)

Every variant trains from the same shipped classifier with the same seed and
``--epochs`` (shorter than the shipped purifier's 30, to keep the run short),
then is measured on the digits test split: clean accuracy of the joint
defence, the detector threshold at 1% calibration false positives, and
under grey-box PGD-20 at each eps: accuracy when every image is purified,
joint-defence accuracy, and AUROC.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

import snnlab
from snnlab import results
from snnlab.attacks import AttackSpec, run_attack
from snnlab.evaluation.evaluate import defend_batched, predict_batched
from snnlab.models.defense import JointDefense
from snnlab.models.detector import auroc
from snnlab.purifiers.losses import PurifierLoss
from snnlab.runs.checkpoints import save_json
from snnlab.training.trainers import PurifierTraining, calibrate_detector, train_purifier

VARIANTS = {
    "full": {},
    "no KL": {"w_kl": 0.0},
    "no asymmetric": {"w_asym": 0.0},
    "no TV": {"w_tv": 0.0},
    "Charbonnier only": {"w_kl": 0.0, "w_asym": 0.0, "w_tv": 0.0},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--eps", default="0.1,0.2")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=results.path("ablation.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    eps_list = [float(e) for e in args.eps.split(",")]
    classifier = snnlab.load_pretrained("digits").classifier
    x, y = snnlab.load_dataset("digits", "test")
    adversarial = {e: run_attack(AttackSpec("pgd", e, 20), classifier, x, y) for e in eps_list}
    found = []
    for name, weights in VARIANTS.items():
        start = time.perf_counter()
        loss = PurifierLoss(**{**PurifierLoss().__dict__, **weights})
        purifier = train_purifier(classifier, "digits", PurifierTraining(epochs=args.epochs, loss=loss), progress=True)
        seconds = time.perf_counter() - start
        defense = JointDefense(classifier, purifier, calibrate_detector(purifier, "digits")).eval()
        logits, flags, clean_scores, _ = defend_batched(defense, x)
        row = {"variant": name, "weights": {k: getattr(loss, k) for k in ("w_kl", "w_asym", "w_tv")},
               "epochs": args.epochs, "train_s": round(seconds, 1), "threshold": defense.threshold,
               "clean_defense_accuracy": (logits.argmax(1) == y).float().mean().item(),
               "false_positive_rate": flags.float().mean().item(), "by_eps": {}}
        for e, adv in adversarial.items():
            logits, flags, scores, purified = defend_batched(defense, adv)
            row["by_eps"][str(e)] = {
                "purified_accuracy": (predict_batched(classifier, purified).argmax(1) == y).float().mean().item(),
                "defense_accuracy": (logits.argmax(1) == y).float().mean().item(),
                "flagged": flags.float().mean().item(), "auroc": auroc(clean_scores, scores)}
        found.append(row)
        print(json.dumps(row))
    out = {"benchmark": "purifier loss ablation (digits, grey-box PGD-20)", "rows": found,
           "command": f"python benchmarks/ablation.py --epochs {args.epochs} --eps {args.eps}",
           "torch": torch.__version__}
    save_json(args.out, out)


if __name__ == "__main__":
    main()
