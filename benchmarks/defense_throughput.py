"""Inference throughput of the joint defence vs the bare classifier (images/s, no gradient).

    python benchmarks/defense_throughput.py      # writes snnlab/results/defense_throughput.json

Uses the shipped digits models on the 360 test images, batch ``--batch``,
median of ``--repeats`` full passes.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

import snnlab
from snnlab import results
from snnlab.runs.checkpoints import save_json


def images_per_second(fn, images, batch, repeats):
    def one_pass():
        for i in range(0, len(images), batch):
            fn(images[i:i + batch])

    with torch.no_grad():
        one_pass()
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            one_pass()
            runs.append(time.perf_counter() - start)
    return len(images) / statistics.median(runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=results.path("defense_throughput.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    defense = snnlab.load_pretrained("digits")
    images, _ = snnlab.load_dataset("digits", "test")
    clf = images_per_second(defense.classifier, images, args.batch, args.repeats)
    pur = images_per_second(defense.purifier, images, args.batch, args.repeats)
    joint = images_per_second(defense, images, args.batch, args.repeats)
    result = {
        "benchmark": "inference throughput (digits test, no grad)", "threads": args.threads, "batch": args.batch,
        "classifier_images_per_s": round(clf, 1), "purifier_images_per_s": round(pur, 1),
        "defense_images_per_s": round(joint, 1), "defense_cost_vs_classifier": round(clf / joint, 2),
        "torch": torch.__version__, "command": "python benchmarks/defense_throughput.py",
    }
    save_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
