"""The main job's wall time per dataset: ``snnlab report --dataset D`` in a fresh process, on this machine.

    python benchmarks/report_time.py --dataset fashion-mnist   # adds its row to snnlab/results/report_time.json

The report attacks the shipped defence with its default settings (all 360 digits test images; for
Fashion-MNIST the first ``snnlab.cli.report.SAMPLE`` test images), so the row is what ``make report
DATASET=D`` costs, start-up and HTML included. The target: at most 600 s on 2 CPU cores (issue 20; digits'
own target lives in benchmarks/neuron_speed.py). Run it alone: beside another job, 2 cores slow down tenfold.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

import torch

from snnlab import results

TARGET_S = 600


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--out", default=results.path("report_time.json"))
    args = parser.parse_args()
    command = ["snnlab", "report", "--dataset", args.dataset, "--quiet"]
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", *command, "--out", os.path.join(folder, "report.html")],
                             capture_output=True, text=True)
        seconds = time.perf_counter() - start
    if run.returncode:
        sys.exit(f"{' '.join(command)} failed ({run.returncode}):\n{run.stderr[-2000:]}")
    said = re.search(r"\((\d+) \S+ test images; threshold", run.stdout)
    table = [line for line in run.stdout.splitlines() if line.strip()]
    row = {"command": " ".join(command), "seconds": round(seconds, 1), "target_s": TARGET_S,
           "within_target": seconds <= TARGET_S, "test_images": int(said.group(1)) if said else None,
           "threads": torch.get_num_threads(), "cpus": os.cpu_count(), "machine": platform.machine(),
           "torch": torch.__version__, "table": table}
    results.save_row(args.out, args.dataset, row, "the main job's wall time per dataset",
                     f"python benchmarks/report_time.py --dataset {args.dataset}")
    print(json.dumps({k: v for k, v in row.items() if k != "table"}))


if __name__ == "__main__":
    main()
