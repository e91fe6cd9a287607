"""Two builds of the course from one source: student notebooks and instructor notebooks.

    python book/build_course.py                  # -> build/course/{student,instructor}/NN_*.ipynb
    python book/build_course.py --execute        # ... and execute both builds (what `make course` does)
    python book/build_course.py --out DIR 01 06  # other folder, some lessons only

- **instructor/**: every cell, as committed in ``lessons/`` (executed, with outputs).
- **student/**: cells tagged ``solution`` (the code and the markdown that explains it) are
  replaced by a one-line note, and all
  outputs are cleared, so students run each cell themselves. The coding
  exercises' scaffolds (``...`` and ``raise NotImplementedError``) stay; their
  checker (``snnlab.course.exercises``) answers "not written yet" until they are done.

With ``--execute``, an instructor cell may raise nothing, and a student cell may
raise ``NotImplementedError`` (a scaffold called directly) and nothing else.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import time

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, os.pardir)
LESSONS = os.path.join(ROOT, "lessons")
STUDENT_NOTE = ("*Solution removed in the student notebook: write your own above. The instructor notebook "
                "and the published book have it.*")

CELL_TIMEOUT = 300  # seconds one cell may run (the slowest lesson cell takes ~20 s on 2 cores); pyproject's nbval
# option --nbval-cell-timeout is the same (tests/test_widgets.py checks it)
RETRIES = 1  # a notebook whose cell stalls past CELL_TIMEOUT is run once more, from a fresh kernel


def lessons(selected=()) -> list:
    paths = sorted(glob.glob(os.path.join(LESSONS, "[0-9][0-9]_*.ipynb")))
    return [p for p in paths if not selected or os.path.basename(p)[:2] in selected]


def student_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with solution cells replaced by a note and every output cleared."""
    nb = nbformat.from_dict(nb)
    cells = []
    for cell in nb.cells:
        if "solution" in cell.metadata.get("tags", []):
            if cell.cell_type == "code":  # its explanation (a markdown cell tagged solution) goes too
                cells.append(nbformat.v4.new_markdown_cell(STUDENT_NOTE))
            continue
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    nb.cells = cells
    return nb


def build(out: str, selected=()) -> dict:
    """Write both builds under ``out``; returns ``{"student": [paths], "instructor": [paths]}``."""
    written = {"student": [], "instructor": []}
    for kind in written:
        os.makedirs(os.path.join(out, kind), exist_ok=True)
    for path in lessons(selected):
        nb = nbformat.read(path, as_version=4)
        name = os.path.basename(path)
        for kind, version in (("instructor", nb), ("student", student_version(nb))):
            target = os.path.join(out, kind, name)
            nbformat.write(version, target)
            written[kind].append(target)
    return written


def kernel_env() -> dict:
    """The kernel's environment: this process's, with ``SNNLAB_HEADLESS=1``, so that ``snnlab.course.widgets.interact``
    draws its figure once instead of making widgets that would wait on a front end (cf. jupyter/nbclient#312)."""
    return {**os.environ, "SNNLAB_HEADLESS": "1"}


def execute(path: str, allowed=(), timeout: int = CELL_TIMEOUT, retries: int = RETRIES) -> list:
    """Execute ``path`` in place (kernel started in its folder, headless); returns the errors' names.

    A cell that runs past ``timeout`` seconds stops the run (nbclient's CellTimeoutError); the notebook is then
    executed again from a fresh kernel, up to ``retries`` times, and a RuntimeError naming the cell is raised
    if it stalls every time. Raises RuntimeError naming the cell if an error other than ``allowed`` occurs.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError

    for attempt in range(retries + 1):
        nb = nbformat.read(path, as_version=4)
        nb.metadata.pop("widgets", None)  # an earlier live run's widget state: headless, no cell shows a widget
        started = []  # the index of each cell as it starts: the last one is the cell that stalled
        client = NotebookClient(nb, timeout=timeout, allow_errors=True,
                                resources={"metadata": {"path": os.path.dirname(path) or "."}},
                                on_cell_start=lambda cell, cell_index: started.append(cell_index))
        try:
            client.execute(env=kernel_env())
            break
        except CellTimeoutError as error:
            message = (f"{os.path.basename(path)}, cell {started[-1] if started else '?'}: no reply within "
                       f"{timeout} s (attempt {attempt + 1} of {retries + 1})")
            if attempt == retries:
                raise RuntimeError(message) from error
            print(message + "; running the notebook again from a fresh kernel", file=sys.stderr, flush=True)
    nbformat.write(nb, path)
    names = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                if output["ename"] not in allowed:
                    raise RuntimeError(f"{os.path.basename(path)}, cell {index}: {output['ename']}: {output['evalue']}")
                names.append(output["ename"])
    return names


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("lessons", nargs="*", help="lesson numbers (01, 02, ...); all by default")
    parser.add_argument("--out", default=os.path.join(ROOT, "build", "course"), help="output folder")
    parser.add_argument("--execute", action="store_true", help="execute both builds after writing them")
    args = parser.parse_args(argv)
    written = build(args.out, args.lessons)
    for kind in ("instructor", "student"):
        for path in written[kind]:
            line = f"{kind:>10}: {os.path.relpath(path)}"
            if args.execute:
                start = time.perf_counter()
                errors = execute(path, allowed=("NotImplementedError",) if kind == "student" else ())
                line += f"  executed in {time.perf_counter() - start:.1f} s"
                line += f", {len(errors)} NotImplementedError (scaffolds)" if errors else ""
            print(line)


if __name__ == "__main__":
    sys.exit(main())
