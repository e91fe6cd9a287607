"""Clean accuracy of a shipped defence on its whole test split: the classifier, the joint defence, the
detector's false-positive rate on clean test images, and the transfer substitute.

    python benchmarks/clean_accuracy.py --dataset fashion-mnist   # adds its row to snnlab/results/clean_accuracy.json

The figures the README and issue 20's closing note quote for the shipped models. The detector was
calibrated at ``detector.json``'s ``fpr`` on the held-out calibration split, so the test split's rate is
a fresh measurement of it. Run it alone: beside another job, 2 cores slow down tenfold.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from snnlab import load_dataset, load_pretrained, results
from snnlab.attacks.core import defend_batched, predict_batched


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--out", default=results.path("clean_accuracy.json"))
    args = parser.parse_args()
    start = time.perf_counter()
    torch.manual_seed(0)
    defense, substitute = load_pretrained(args.dataset, with_substitute=True)
    x, y = load_dataset(args.dataset, "test")  # (N, C, H, W), (N,)
    logits, flags, _, _ = defend_batched(defense, x)
    row = {"test_images": len(y),
           "classifier": (predict_batched(defense.classifier, x).argmax(1) == y).float().mean().item(),
           "defense": (logits.argmax(1) == y).float().mean().item(),
           "flagged": flags.float().mean().item(),
           "substitute": (predict_batched(substitute, x).argmax(1) == y).float().mean().item(),
           "threshold": defense.detector.threshold, "seconds": round(time.perf_counter() - start, 1),
           "threads": torch.get_num_threads(), "torch": torch.__version__}
    results.save_row(args.out, args.dataset, row, "clean accuracy of the shipped defences on the whole test split",
                     f"python benchmarks/clean_accuracy.py --dataset {args.dataset}")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
