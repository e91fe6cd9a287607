"""Build the book offline: copy the executed lessons in, write the results and instructor-notes pages,
run Jupyter Book 1.x.

    python book/build.py          # -> book/_build/html/index.html
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def build() -> str:
    target = os.path.join(HERE, "lessons")
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target)
    for nb in sorted(glob.glob(os.path.join(HERE, os.pardir, "lessons", "*.ipynb"))):
        shutil.copy(nb, target)
    import plotly

    static = os.path.join(HERE, "_static")
    os.makedirs(static, exist_ok=True)
    shutil.copy(os.path.join(os.path.dirname(plotly.__file__), "package_data", "plotly.min.js"), static)
    subprocess.run([sys.executable, os.path.join(HERE, "make_results.py")], check=True)
    subprocess.run([sys.executable, os.path.join(HERE, "make_teachers.py")], check=True)
    jb = os.path.join(os.path.dirname(sys.executable), "jupyter-book")
    subprocess.run([jb, "build", HERE, "--quiet"], check=True)
    html_dir = os.path.join(HERE, "_build", "html")
    for page in glob.glob(os.path.join(html_dir, "**", "*.html"), recursive=True):
        drop_duplicate_thebe_config(page)
    return os.path.join(html_dir, "index.html")


def drop_duplicate_thebe_config(page: str) -> None:
    """Jupyter Book 1.0.4 with Sphinx 7 writes sphinx-thebe's `const THEBE_JS_URL = ...` script twice in each
    notebook page, and the second copy throws "Identifier 'THEBE_JS_URL' has already been declared".
    Keep the first copy."""
    with open(page, encoding="utf-8") as f:
        lines = f.read().split("\n")
    seen, kept = False, []
    for line in lines:
        if line.strip().startswith("<script>const THEBE_JS_URL"):
            if seen:
                continue
            seen = True
        kept.append(line)
    if len(kept) != len(lines):
        with open(page, "w", encoding="utf-8") as f:
            f.write("\n".join(kept))


if __name__ == "__main__":
    print(build())
