"""What the commands share: the parser that fails in one line, the option types, the common options."""
from __future__ import annotations

import argparse
import os

from ..attacks import ATTACKS
from ..attacks.ensemble import PRESETS
from ..data.datasets import DATASETS
from ..devices import resolve_device
from ..evaluation.evaluate import ADAPTIVE, REFERENCE, THREAT_MODELS
from ..purifiers import NAMES as PURIFIER_NAMES


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one clear line and exit 2, not a usage dump
        self.exit(2, f"snnlab: error: {message} (see `snnlab --help`)\n")


def floats(text: str):
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if any(not 0 <= v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"epsilons must lie in [0, 1] (pixels are in [0, 1]), got {text!r}")
    return values


def names(choices):
    def parse(text: str):
        given = tuple(t.strip() for t in text.split(",") if t.strip())
        bad = [n for n in given if n not in choices]
        if bad or not given:
            raise argparse.ArgumentTypeError(f"unknown {bad or text!r}; choose from {', '.join(choices)}")
        return given
    return parse


def purifier(text: str) -> str:
    if text not in PURIFIER_NAMES:
        raise argparse.ArgumentTypeError(f"unknown purifier {text!r}; choose from {', '.join(PURIFIER_NAMES)}")
    return text


def device(text: str) -> str:
    try:
        return str(resolve_device(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def whole(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {'a positive number' if low == 1 else f'{low} or more'}, "
                                             f"got {value}")
        return value
    return parse


positive, count = whole(1), whole(0)


def bounded(high: float, what: str):
    """A number in (0, ``high``]; ``what`` names it in the message (``"a noise std"``). The parser's
    ``high`` attribute lets the bad-input table try 0 and a value above it."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not 0 < value <= high:
            raise argparse.ArgumentTypeError(f"{what} on [0, 1] images lies in (0, {high:g}], got {text!r}")
        return value
    parse.high = high
    return parse


def extend(p):
    """--extend: every job that writes a folder tied to its request."""
    p.add_argument("--extend", action="store_true",
                   help="take a folder that holds another request to this one: what the changed settings affect is "
                   "trained again from scratch, the rest is kept (without it, another request is refused)")


def _writable(path: str, flag: str, folder: bool) -> None:
    """Refuse, before any work, an output path under which nothing can be created: probe the nearest existing
    folder at or above it with a temporary file, removed at once (permissions alone say nothing to root)."""
    import tempfile

    above = os.path.abspath(path) if folder else os.path.dirname(os.path.abspath(path))
    while not os.path.exists(above):
        above = os.path.dirname(above)
    if not os.path.isdir(above):
        raise argparse.ArgumentTypeError(f"{above} is a file, so {path} cannot be created; choose another {flag}")
    try:
        with tempfile.TemporaryFile(dir=above):
            pass
    except OSError as err:
        raise argparse.ArgumentTypeError(f"cannot write under {above} ({err.strerror}); choose another "
                                         f"{flag}") from None


def out_folder(flag: str = "--out"):
    """An output folder: not an existing file, and somewhere it can be created."""
    def parse(text: str) -> str:
        if os.path.exists(text) and not os.path.isdir(text):
            raise argparse.ArgumentTypeError(f"{text} is a file, not a folder; choose another {flag}")
        _writable(text, flag, folder=True)
        return text
    parse.__name__ = "out_folder"
    return parse


def out_file(flag: str):
    """An output file: not an existing folder, and somewhere it can be created."""
    def parse(text: str) -> str:
        if os.path.isdir(text):
            raise argparse.ArgumentTypeError(f"{text} is a folder, not a file; choose another {flag}")
        _writable(text, flag, folder=False)
        return text
    parse.__name__ = "out_file"
    return parse


def in_folder(what: str, flag: str):
    """An input folder: not a file (``what`` says whose: "a snnlab model folder"). A missing one is refused
    by what reads it, with what it should hold."""
    def parse(text: str) -> str:
        if os.path.exists(text) and not os.path.isdir(text):
            raise argparse.ArgumentTypeError(f"{text} is a file, not a folder; give {what} to {flag}")
        return text
    parse.__name__ = "in_folder"
    return parse


def common(p):
    """--dataset, --device, --seed, --quiet: every command that loads data or models."""
    p.add_argument("--dataset", default="digits", choices=list(DATASETS),
                   help="dataset (default: digits, embedded, no download)")
    p.add_argument("--device", type=device, default="auto",
                   help="torch device: cpu, cuda, cuda:N, mps, or auto (CUDA, then MPS, then CPU) (default: auto)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def attack_options(p):
    """What ``evaluate`` and ``report`` attack, with which models."""
    p.add_argument("--models", default=None,
                   help="model folder from `snnlab train` (default: the shipped pretrained models)")
    p.add_argument("--limit", type=positive, default=None, help="use only the first N test images")
    p.add_argument("--attacks", type=names(ATTACKS[:3]), default=("fgsm", "pgd"),
                   help="gradient attacks, comma-separated (default: fgsm,pgd)")
    p.add_argument("--eps", type=floats, default=None,
                   help="L-infinity radii, comma-separated (default: dataset grid)")
    p.add_argument("--threat-models", type=names(THREAT_MODELS),
                   default=("undefended", "grey-box", "transfer", "square", "ensemble"),
                   help="comma-separated, from: " + ", ".join(THREAT_MODELS) +
                   " (default: all but adaptive, which takes minutes)")
    p.add_argument("--ensemble", choices=list(PRESETS), default="light",
                   help="attack-ensemble preset for the ensemble threat model (default: light, about 2.5 "
                   "minutes on the digits test split; full is for benchmarks)")
    p.add_argument("--adaptive", type=names((*ADAPTIVE, *REFERENCE)), default=tuple(ADAPTIVE),
                   help="adaptive attacks, comma-separated, from: " + ", ".join((*ADAPTIVE, *REFERENCE)) +
                   " (default: the three PGD variants; apgd and autoattack are reference points, "
                   "autoattack is slow)")
    p.add_argument("--adaptive-steps", type=positive, default=100, help="adaptive PGD steps (default 100)")
    p.add_argument("--adaptive-restarts", type=positive, default=1, help="adaptive PGD restarts (default 1)")
    p.add_argument("--square-queries", type=positive, default=200, help="Square attack queries (default 200)")
    p.add_argument("--square-eps", type=floats, default=None,
                   help="radii for Square (default: the second-largest of --eps; Square is slow)")
    p.add_argument("--json", type=out_file("--json"), default=None, help="write the metrics rows to this JSON file")
    p.add_argument("--purifier", type=purifier, default="snn",
                   help="purifier of the joint defence: " + ", ".join(PURIFIER_NAMES) + " (default snn, the "
                   "seed paper's); another is loaded from --models/purifiers or the shipped ones, and the "
                   "detector is recalibrated for it at 1%% false positives")
