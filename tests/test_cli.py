import json
import os
import subprocess
import sys

import pytest

from snnlab.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "snnlab.cli", *args], capture_output=True, text=True)


def test_evaluate_writes_json(tmp_path, capsys):
    out = tmp_path / "rows.json"
    code = main(["evaluate", "--limit", "24", "--attacks", "fgsm", "--eps", "0.1",
                 "--threat-models", "undefended,grey-box", "--json", str(out), "--quiet"])
    assert code == 0
    rows = json.loads(out.read_text())
    assert {r["threat_model"] for r in rows} == {"clean", "undefended", "grey-box"}
    assert "grey-box" in capsys.readouterr().out


def test_report_writes_offline_html(tmp_path):
    out = tmp_path / "r.html"
    code = main(["report", "--limit", "24", "--attacks", "pgd", "--eps", "0.2", "--threat-models", "grey-box",
                 "--out", str(out), "--quiet"])
    assert code == 0
    import re

    html = out.read_text()
    assert "plotly.js v" in html  # embedded, not fetched
    assert not re.search(r'<script[^>]+src="https?://', html)  # no script from the network
    assert html.count("Plotly.newPlot") >= 3


@pytest.mark.parametrize("args,match", [
    (["evaluate", "--eps", "2"], "epsilons must lie in [0, 1]"),
    (["evaluate", "--attacks", "magic"], "unknown"),
    (["evaluate", "--dataset", "imagenet"], "invalid choice"),
    (["evaluate", "--limit", "0"], "positive"),
    (["evaluate", "--ensemble", "heavy"], "invalid choice"),
    (["evaluate", "--threat-models", "white-box"], "unknown"),
    (["fly"], "invalid choice"),
])
def test_bad_arguments_give_one_line_and_exit_2(args, match):
    result = run_cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0]


def test_library_errors_become_one_line(tmp_path):
    result = run_cli("evaluate", "--models", str(tmp_path), "--quiet")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"snnlab: error: {tmp_path} has no manifest.json; it is not a snnlab model folder "
        f"(run `snnlab train --out {tmp_path}`)"]


def test_help_teaches():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "grey-box" in result.stdout and "NOT white-box" in result.stdout
    assert "per-image worst case" in result.stdout


def test_evaluate_ensemble_rows_in_the_json(tmp_path):
    out = tmp_path / "rows.json"
    code = main(["evaluate", "--limit", "16", "--attacks", "pgd", "--eps", "0.2", "--threat-models",
                 "grey-box,ensemble", "--ensemble", "light", "--json", str(out), "--quiet"])
    assert code == 0
    rows = {(r["threat_model"], r["evaluated_on"]): r for r in json.loads(out.read_text())}
    worst = rows[("ensemble", "defense")]
    assert worst["attack"] == "ensemble (light)" and [p["label"] for p in worst["parts"]][0] == "apgd-ce [model]"
    assert worst["correct_or_flagged"] <= rows[("grey-box", "defense")]["correct_or_flagged"]
    assert ("ensemble", "classifier") in rows


def test_device_choice_is_checked_in_one_line(capsys):
    import torch

    from snnlab.cli import build_parser
    from snnlab.devices import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    auto = resolve_device("auto")
    assert auto.type == ("cuda" if torch.cuda.is_available() else auto.type) and auto.type in ("cuda", "mps", "cpu")
    assert build_parser().parse_args(["evaluate", "--device", "auto"]).device == str(auto)
    for bad, words in [("tpu", "unknown device"), ("cuda:99", "not available")] + (
            [] if torch.cuda.is_available() else [("cuda", "not available")]):
        with pytest.raises(ValueError, match=words):
            resolve_device(bad)
        with pytest.raises(SystemExit):
            build_parser().parse_args(["evaluate", "--device", bad])
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1, err


def test_every_command_has_help_with_examples():
    from snnlab.cli import COMMANDS, build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert sorted(sub.choices) == sorted(c.register.__module__.rsplit(".", 1)[1].replace("_", "-") for c in COMMANDS)
    for name, command in sub.choices.items():
        assert "example" in command.format_help(), name


@pytest.mark.parametrize("flag, value, instead", [("--purifier", "masking", "snnlab train-purifier NAME"),
                                                  ("--noise-sigma", "0.25", "snnlab train-noise SIGMA")])
def test_the_jobs_train_once_chose_by_flag_are_commands_now(flag, value, instead, tmp_path, capsys):
    assert main(["train", flag, value, "--out", str(tmp_path / "x"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"snnlab: error: `snnlab train {flag}` is now `{instead}`"] and not (tmp_path / "x").exists()


def test_streamed_options_without_stream_are_refused(tmp_path, capsys):
    assert main(["train", "--pgd-eps", "0.1", "--out", str(tmp_path / "x"), "--quiet"]) == 2
    assert "add --stream" in capsys.readouterr().err


def cli_examples():
    """Every `snnlab ...` line in the code blocks of the README and the book's pages, and in the --help examples."""
    import glob
    import os
    import re
    import shlex

    root = os.path.join(os.path.dirname(__file__), os.pardir)
    found = []
    for path in [os.path.join(root, "README.md"), *glob.glob(os.path.join(root, "book", "**", "*.md"), recursive=True)]:
        fence = None  # the language of the code block we are in, or None outside one
        for line in open(path, encoding="utf-8").read().splitlines():
            if line.lstrip().startswith("```"):
                fence = None if fence is not None else (line.strip()[3:] or "text")
                continue
            line = line.split("  #")[0].split(" && ")[0].strip()
            if fence in ("bash", "console", "sh", "text") and re.match(r"(snnlab|torchrun .* -m snnlab) ", line):
                words = shlex.split(line)
                found.append((os.path.relpath(path, root), words[words.index("snnlab") + 1:]))
    return found


@pytest.mark.parametrize("where, argv", cli_examples(), ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_every_documented_command_line_parses(where, argv, capsys):
    from snnlab.cli import build_parser

    if "--help" in argv:
        return
    args = build_parser().parse_args(argv)  # an unknown option or a bad value exits 2 with one line
    assert callable(args.run), where


A_FILE, A_FOLDER = os.path.abspath(__file__), os.path.dirname(os.path.abspath(__file__))
PATHS = {  # what each path type must refuse: a missing or wrong-kind path, a place nothing can be written
    "out_folder": [A_FILE, os.path.join(A_FILE, "sub"), "/sys/snnlab-unwritable"],
    "out_file": [A_FOLDER, os.path.join(A_FILE, "rows.json"), "/sys/snnlab-unwritable.json"],
    "in_folder": [A_FILE],  # (a missing one is refused when it is read: `train --models F` may create it)
}


def typed_options():
    """(command, option or positional, value) for every option that checks its value, with a value it must
    refuse: a word where a number or a choice goes, and for numbers one just outside their range."""
    from snnlab.cli import build_parser
    from snnlab.cli import options as o

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    cases = []
    for command, parser in sub.choices.items():
        positionals = [a for a in parser._actions if not a.option_strings and a.dest != "help"]
        for action in parser._actions:
            if action.type is None and action.choices is None:
                continue
            flag = action.option_strings[0] if action.option_strings else None
            kind = getattr(action.type, "__name__", "")
            bad = PATHS.get(kind) or ["nope!"] + {o.positive: ["0"], o.count: ["-1"], o.floats: ["1.5"]}.get(
                action.type, [])
            if hasattr(action.type, "high"):  # options.bounded: (0, high]
                bad += ["0", str(action.type.high * 1.5)]
            for value in bad:
                argv = [command]
                for p in positionals:  # the other positionals get a valid value
                    argv.append(value if p is action else {"name": "masking", "sigma": "0.25", "eps": "0.1",
                                                            "submission": "x.py"}[p.dest])
                if flag:
                    argv += [flag, value]
                cases.append((command, flag or action.dest, argv))
    return cases


@pytest.mark.parametrize("command, option, argv", typed_options(), ids=lambda v: " ".join(v) if isinstance(v, list)
                         else v)
def test_every_checked_option_of_every_command_refuses_a_bad_value_in_one_line(command, option, argv, capsys):
    from snnlab.cli import build_parser

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1 and err[0].startswith("snnlab: error:"), err
    assert option.lstrip("-") in err[0] or option in err[0], err  # the message names what was wrong


def test_the_table_of_bad_values_covers_every_command():
    from snnlab.cli import COMMANDS

    covered = {c for c, _, _ in typed_options()}
    assert covered == {c.register.__module__.rsplit(".", 1)[1].replace("_", "-") for c in COMMANDS}


def _tree(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def _digits_copy(tmp_path, corrupt=None):
    import shutil

    from snnlab.pretrained import PRETRAINED_DIR

    folder = tmp_path / "models"
    shutil.copytree(os.path.join(PRETRAINED_DIR, "digits"), folder)
    if corrupt:
        (folder / corrupt).write_bytes(b"not a checkpoint")
    return str(folder)


def _other_run(tmp_path):
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "request.json").write_text(json.dumps({"job": "defence", "dataset": "digits", "seed": 7}))
    return str(folder)


def _pending_noise(tmp_path):
    folder = tmp_path / "noise"
    (folder / "smoothing").mkdir(parents=True)
    (folder / "smoothing" / ".noise-sigma0.25.request.json").write_text(
        json.dumps({"dataset": "digits", "seed": 0, "sigma": 0.25, "epochs": 99}))
    return str(folder)


FILE_CASES = {  # (command line, what the one line must say); {x} fills in a path the case makes
    "evaluate: a corrupt checkpoint": (
        ["evaluate", "--models", "{corrupt}", "--limit", "2"], "classifier.pt is corrupt (SHA-256"),
    "evaluate: a folder of another run": (["evaluate", "--models", "{other}"], "has no manifest.json"),
    "evaluate: models of another dataset": (
        ["evaluate", "--dataset", "fashion-mnist", "--models", "{digits}"], "trained on digits, not fashion"),
    "evaluate: a dataset with no shipped models": (["evaluate", "--dataset", "svhn"], "no pretrained checkpoints"),
    "report: a corrupt checkpoint": (["report", "--models", "{corrupt}", "--limit", "2"], "is corrupt (SHA-256"),
    "train-purifier: a corrupt checkpoint": (
        ["train-purifier", "masking", "--models", "{corrupt}", "--out", "{new}"], "is corrupt (SHA-256"),
    "train-purifier: a folder of another run": (
        ["train-purifier", "masking", "--models", "{other}", "--out", "{new}"], "has no manifest.json"),
    "train: an --out of another run": (["train", "--out", "{other}", "--epochs", "1"], "holds a run with other"),
    "train-noise: an --out of another run": (
        ["train-noise", "0.25", "--out", "{noise}", "--epochs", "1"], "holds a run with other settings"),
    "train: Fashion-MNIST absent offline": (
        ["train", "--dataset", "fashion-mnist", "--out", "{new}", "--epochs", "1"], "apt-get install dataset-fashion"),
    "train-noise: Fashion-MNIST absent offline": (
        ["train-noise", "0.1", "--dataset", "fashion-mnist", "--out", "{new}"], "apt-get install dataset-fashion"),
    "train --stream: CIFAR-10 absent offline": (
        ["train", "--stream", "--dataset", "cifar10", "--root", "{empty}", "--out", "{new}"], "not found under"),
    "purify-dataset: not a poison folder": (["purify-dataset", "--poisoned", "{empty}", "--out", "{new}"], "split.pt"),
    "capstone: a missing submission": (["capstone", "{missing}.py"], "no submission file at"),
    "evaluate: a missing --models": (["evaluate", "--models", "{missing}"], "does not exist"),
}


@pytest.mark.parametrize("case", FILE_CASES)
def test_every_command_refuses_bad_files_in_one_line_and_writes_nothing(case, tmp_path, monkeypatch, capsys):
    """The bad-input table's file cases: each gets exit status 2, one line naming the problem and the fix,
    and nothing written (no new file anywhere under the case's folder; Fashion-MNIST is made absent)."""
    from snnlab.data import datasets

    argv, says = FILE_CASES[case]
    (tmp_path / "empty").mkdir()
    paths = {"corrupt": lambda: _digits_copy(tmp_path / "c", "classifier.pt"), "other": lambda: _other_run(tmp_path),
             "digits": lambda: _digits_copy(tmp_path / "d"), "noise": lambda: _pending_noise(tmp_path),
             "new": lambda: str(tmp_path / "new"), "empty": lambda: str(tmp_path / "empty"),
             "missing": lambda: str(tmp_path / "missing")}
    argv = [a.format(**{k: make() for k, make in paths.items() if "{" + k + "}" in a}) for a in argv]
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST", str(tmp_path / "no-debian-package"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    before = _tree(tmp_path)
    capsys.readouterr()
    assert main([*argv, "--quiet"] if argv[0] != "capstone" else argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("snnlab: error:") and says in err[0], err
    assert _tree(tmp_path) == before  # nothing written, not even an empty --out
