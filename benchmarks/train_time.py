"""Wall time of training the digits defence from scratch (what `snnlab train` does), on this machine.

    python benchmarks/train_time.py              # writes snnlab/results/train_time.json

Trains into a temporary folder with the default settings and seed 0, and
records per-model wall time (the same figures `snnlab train` stores in
manifest.json's ``train_seconds``).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch

from snnlab import results
from snnlab.runs.checkpoints import save_json
from snnlab.training.trainers import train_all


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=results.path("train_time.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        manifest = train_all("digits", folder, seed=0, progress=True)
        total = time.perf_counter() - start
    result = {"benchmark": "train digits defence from scratch", "threads": args.threads,
              "total_s": round(total, 1), **manifest["train_seconds"], "target_s": 300,
              "torch": torch.__version__, "command": "python benchmarks/train_time.py"}
    save_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
