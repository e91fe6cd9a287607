"""Saved benchmark results, shipped inside the package so that a lesson can read them anywhere.

On Colab, from a wheel, or from any working directory, ``load`` finds the same
files through ``importlib.resources``. Each JSON file is written by the
benchmark script its ``"command"`` field names (``benchmarks/*.py``), which
writes here by default::

    >>> from snnlab import results
    >>> results.load("ensemble.json")["command"]
    'python benchmarks/ensemble_evaluation.py ...'
"""
from __future__ import annotations

import json
import os
from importlib import resources


def path(name: str) -> str:
    """Where the benchmark that writes ``name`` saves it by default (this folder, in a source checkout)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), name)


def names() -> list:
    """The saved result files, sorted."""
    return sorted(f.name for f in resources.files(__name__).iterdir() if f.name.endswith(".json"))


def save_row(out: str, key: str, row: dict, benchmark: str, command: str) -> dict:
    """Add ``row`` as ``datasets[key]`` of the result file ``out`` (made with ``benchmark`` as its title when
    absent), set its ``command`` to the last one run, and save it atomically; returns what was saved."""
    # imported here, not at the top: reading a saved result (what a lesson does) needs no torch; saving one does
    from ..runs.checkpoints import save_json

    saved = {"benchmark": benchmark, "datasets": {}}
    if os.path.exists(out):
        with open(out) as f:
            saved = json.load(f)
    saved["datasets"][key] = row
    saved["command"] = command
    save_json(out, saved)
    return saved


def load(name: str):
    """The saved result ``name`` (e.g. 'ensemble.json'), parsed; a clear error if it was never saved."""
    ref = resources.files(__name__).joinpath(name)
    if not ref.is_file():
        raise FileNotFoundError(f"snnlab ships no saved result {name!r}; saved: {', '.join(names())}. "
                                "Run the benchmark that writes it (benchmarks/*.py) to make it.")
    return json.loads(ref.read_text(encoding="utf-8"))
