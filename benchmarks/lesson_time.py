"""Wall time of every lesson, instructor and student build, executed as CI does (2 CPU threads).

    python benchmarks/lesson_time.py             # writes snnlab/results/lesson_time.json

Writes both builds with book/build_course.py into a temporary folder and executes each notebook
(nbclient, a fresh kernel per notebook, shipped checkpoints), timing each. The target is at most
45 s per lesson on 2 cores; the README's lesson table comes from this file.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import torch

from snnlab import results
from snnlab.runs.checkpoints import save_json

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "book"))
import build_course  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=results.path("lesson_time.json"))
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "2")  # the kernels inherit it; the lessons also set 2 threads
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        written = build_course.build(folder)
        for instructor, student in zip(written["instructor"], written["student"]):
            row = {"lesson": os.path.basename(instructor)[:-6]}
            for kind, path in (("instructor", instructor), ("student", student)):
                start = time.perf_counter()
                build_course.execute(path, allowed=("NotImplementedError",) if kind == "student" else ())
                row[f"{kind}_s"] = round(time.perf_counter() - start, 1)
            rows.append(row)
            print(row, flush=True)
    result = {"benchmark": "lesson execution time, both builds", "rows": rows, "target_s": 45,
              "total_instructor_s": round(sum(r["instructor_s"] for r in rows), 1),
              "total_student_s": round(sum(r["student_s"] for r in rows), 1),
              "cpu_count": os.cpu_count(), "torch": torch.__version__, "command": "python benchmarks/lesson_time.py"}
    save_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
