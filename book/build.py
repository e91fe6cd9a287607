"""Build the book offline: copy the executed lessons in, write the results page, run Jupyter Book 1.x.

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
    jb = os.path.join(os.path.dirname(sys.executable), "jupyter-book")
    subprocess.run([jb, "build", HERE, "--quiet"], check=True)
    return os.path.join(HERE, "_build", "html", "index.html")


if __name__ == "__main__":
    print(build())
