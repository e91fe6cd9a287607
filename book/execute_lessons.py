"""Execute every lesson in place and slim its stored outputs for committing.

    python book/execute_lessons.py [01 02 ...]     # all lessons by default

For each ``lessons/NN_*.py`` (the source of truth): write its cells into the
paired ``.ipynb`` (``jupytext --update --to ipynb``: never the other way, so a
newer notebook cannot overwrite the script), execute it with the course build's
executor (``build_course.execute``: nbclient, headless widgets, at most
``CELL_TIMEOUT`` seconds a cell, a stalled run retried once from a fresh
kernel; the lessons set 2 CPU threads as a student would have), print the wall time, and
replace the stored copy of plotly.js (3.5 MB, embedded by the setup cell when
run live) with a comment. The book loads plotly.js from its own static files,
and Jupyter re-embeds it when the notebook is run, so nothing is lost; the
notebooks shrink from about 5 MB to a few hundred kB each.

The outputs stored here are those of this machine's processor. A cell marked
``# NBVAL_CHECK_OUTPUT`` must print only what both AVX-512 and AVX2-only x86
machines print: PyTorch's CPU kernels (its own, and oneDNN's convolutions) add
in another order with AVX-512 than with AVX2, and a live attack can then end
one image apart. ``make lessons-avx2`` checks the lessons as an AVX2-only
machine runs them; GPUs and ARM processors are not checked.
"""
from __future__ import annotations

import glob
import os
import subprocess
import sys
import time

import nbformat

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from build_course import execute  # noqa: E402  (the same executor as `make course`)

HERE = os.path.dirname(os.path.abspath(__file__))
LESSONS = os.path.join(HERE, os.pardir, "lessons")
PLACEHOLDER = ("<!-- plotly.js was embedded here when run; the book page loads it, "
               "and re-running this cell reloads it -->")


def slim(path: str) -> int:
    """Replace embedded plotly.js bundles in ``path``'s outputs; returns how many were replaced."""
    nb = nbformat.read(path, as_version=4)
    replaced = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            html = output.get("data", {}).get("text/html", "")
            if "plotly.js v" in html and len(html) > 100_000:
                output["data"]["text/html"] = PLACEHOLDER
                replaced += 1
    nbformat.write(nb, path)
    return replaced


def main(selected):
    bin_dir = os.path.dirname(sys.executable)
    for script in sorted(glob.glob(os.path.join(LESSONS, "[0-9][0-9]_*.py"))):
        name = os.path.basename(script)
        if selected and name[:2] not in selected:
            continue
        notebook = script[:-3] + ".ipynb"
        subprocess.run([os.path.join(bin_dir, "jupytext"), "--update", "--to", "ipynb", "--quiet", script], check=True)
        start = time.perf_counter()
        execute(notebook)
        seconds = time.perf_counter() - start
        n = slim(notebook)
        print(f"{name[:-3]}: executed in {seconds:.1f} s; {n} plotly.js bundle(s) slimmed; "
              f"{os.path.getsize(notebook) / 1e6:.2f} MB")


if __name__ == "__main__":
    main(sys.argv[1:])
