"""Colab works from a bare install: one repository address everywhere, and a wheel runs a lesson elsewhere.

Colab installs snnlab with pip (from git) and runs a lesson far from the repository: nothing a
lesson reads may come from the working tree. The wheel test does the same on this machine.
"""
import glob
import json
import os
import re
import subprocess
import sys
import sysconfig

import nbformat
import pytest
import tomllib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
    REPOSITORY = tomllib.load(f)["project"]["urls"]["Repository"]
OWNER_NAME = REPOSITORY.removeprefix("https://github.com/")
LESSONS = sorted(glob.glob(os.path.join(ROOT, "lessons", "[0-9][0-9]_*.py")))
# Every way a page can point at the repository: GitHub, Binder, Colab.
ADDRESS = re.compile(r"(?:github\.com|mybinder\.org/v2/gh|colab\.research\.google\.com/github)/([\w.-]+/[\w.-]+)")


def _texts():
    paths = [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "book", "_config.yml")]
    paths += glob.glob(os.path.join(ROOT, "book", "*.md")) + glob.glob(os.path.join(ROOT, "book", "teachers", "*.md"))
    paths += LESSONS
    return {os.path.relpath(p, ROOT): open(p, encoding="utf-8").read() for p in paths}


def test_the_repository_address_is_one():
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", REPOSITORY)
    found = 0
    for path, text in _texts().items():
        for match in ADDRESS.finditer(text):
            found += 1
            assert match.group(1).removesuffix(".git") == OWNER_NAME, \
                f"{path} points at {match.group(1)}; the repository is {OWNER_NAME} (pyproject.toml [project.urls])"
    assert found >= 2 * len(LESSONS)


@pytest.mark.parametrize("script", LESSONS, ids=os.path.basename)
def test_each_lesson_badge_and_install_cell(script):
    text = open(script, encoding="utf-8").read()
    notebook = os.path.basename(script)[:-3] + ".ipynb"
    assert f"https://colab.research.google.com/github/{OWNER_NAME}/blob/main/lessons/{notebook}" in text
    assert f'"git+{REPOSITORY}"' in text


def test_the_wheel_runs_a_lesson_in_a_fresh_environment(tmp_path, monkeypatch):
    """Build the wheel, install it (no dependencies) into a new venv whose only other packages are this
    environment's third-party ones, and execute lesson 4 (checkpoints and saved results) from an empty folder."""
    from nbclient import NotebookClient

    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), ROOT], check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("snnlab-*.whl"))
    fresh = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True)
    python = str(fresh / "bin" / "python")
    subprocess.run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, capture_output=True)
    fresh_site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                check=True, capture_output=True, text=True).stdout.strip()
    # Third-party packages from this environment, through a plain path: its .pth files (the editable
    # snnlab among them) are not processed there, so snnlab can only come from the wheel.
    with open(os.path.join(fresh_site, "dependencies.pth"), "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    kernels = tmp_path / "jupyter" / "kernels" / "fresh"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fresh", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.delenv("PYTHONPATH", raising=False)

    work = tmp_path / "elsewhere"
    work.mkdir()
    nb = nbformat.read(os.path.join(ROOT, "lessons", "04_unet_purification.ipynb"), as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(
        "import snnlab\n"
        f"assert snnlab.__file__.startswith({str(fresh)!r}), snnlab.__file__\n"
        "print('snnlab from', snnlab.__file__)"))
    NotebookClient(nb, kernel_name="fresh", timeout=300, resources={"metadata": {"path": str(work)}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert str(fresh) in nb.cells[0].outputs[0]["text"]
    assert list(work.iterdir()) == [], "the lesson wrote into the folder it ran from"
