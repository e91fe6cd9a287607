import json
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
            bad = ["nope!"] + {o.positive: ["0"], o.count: ["-1"], o.floats: ["1.5"]}.get(action.type, [])
            if getattr(action.type, "__name__", "") in ("radius", "sigma"):
                bad.append("0")
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
