"""Saved benchmark results ship inside the package, so lessons read them on Colab or from a wheel."""
import glob
import os
import re
import subprocess
import sys
import zipfile

import pytest

from snnlab import results

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)


def test_every_result_a_lesson_reads_ships_and_names_its_command():
    wanted = set()
    for script in glob.glob(os.path.join(ROOT, "lessons", "[0-9][0-9]_*.py")):
        wanted |= set(re.findall(r'(?:saved|results\.load)\("([a-z_]+\.json)"\)', open(script).read()))
    assert wanted and wanted <= set(results.names())
    for name in results.names():
        command = results.load(name)["command"]
        script = command.split()[1]
        assert os.path.exists(os.path.join(ROOT, script)), f"{name} names {script}, which does not exist"


def test_an_unknown_result_is_named_with_the_choices():
    with pytest.raises(FileNotFoundError, match="no saved result 'nope.json'.*ensemble.json"):
        results.load("nope.json")


def test_the_wheel_carries_the_results(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), ROOT], check=True, capture_output=True)
    wheel = next(tmp_path.glob("snnlab-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {os.path.basename(n) for n in names if "/results/" in n}
    assert set(results.names()) <= shipped
    from snnlab import purifiers

    family = {os.path.basename(n) for n in names if "/weights/digits/purifiers/" in n}
    assert family == {"manifest.json"} | {f"{name}.pt" for name in purifiers.NAMES if name != "snn"}


def test_the_trigger_sweep_covers_every_setting_its_command_names():
    sweep = results.load("trigger_sweep.json")
    args = sweep["command"].split()
    sizes = [int(v) for v in args[args.index("--sizes") + 1].split(",")]
    t_stars = [int(v) for v in args[args.index("--t-stars") + 1].split(",")]
    assert sorted((r["size"], r["t_star"]) for r in sweep["rows"]) == sorted((s, t) for s in sizes for t in t_stars)
    for r in sweep["rows"]:
        assert r["pixels"] == r["size"] ** 2 and r["target_found"] == (sweep["target"] in r["targets"])
        if not r["retrained"]:  # DataElixir changed nothing: the backdoored model's figures stand
            assert r["after"] == r["before"] and r["tpr"] == 0.0
        before = {q["before"]["attack_success_rate"] for q in sweep["rows"] if q["size"] == r["size"]}
        assert len(before) == 1  # one backdoored model per size, purified at every t*
