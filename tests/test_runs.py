"""One run per folder: the OS lock a job holds on the folder it writes (snnlab.runs.folders)."""
import os
import signal
import subprocess
import sys

import pytest

import snnlab
from snnlab.cli import main
from snnlab.runs import folders as runs

HOLD = ("import sys, time\nfrom snnlab.runs.folders import hold\n"
        "with hold(sys.argv[1], 'the test holder'):\n    print('held', flush=True)\n    time.sleep(120)\n")


@pytest.fixture
def holder_process(tmp_path):
    """A separate process that holds tmp_path/run until killed."""
    folder = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield folder, proc
    proc.kill()
    proc.wait()


def test_a_folder_in_use_is_refused_naming_the_other_process(holder_process):
    folder, proc = holder_process
    assert f"pid {proc.pid}" in runs.holder(folder)
    with pytest.raises(runs.FolderInUse, match=rf"in use by another run \(pid {proc.pid} on .*: the test holder\)"):
        with runs.hold(folder):
            pass


def test_a_killed_run_frees_its_folder_at_once(holder_process):
    folder, proc = holder_process
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert runs.holder(folder) is None
    with runs.hold(folder, "the next run") as real:
        assert f"pid {os.getpid()}" in open(os.path.join(real, runs.LOCK)).read()
    assert sorted(os.listdir(folder)) == [runs.LOCK] and runs.holder(folder) is None


def test_the_lock_is_reentrant_within_a_process_and_refuses_a_file(tmp_path):
    with runs.hold(tmp_path / "a"):
        with runs.hold(tmp_path / "a"):  # a job calling another job on the same folder
            pass
            assert f"pid {os.getpid()}" in runs.holder(tmp_path / "a")
    assert runs.holder(tmp_path / "a") is None
    with pytest.raises(KeyError):
        with runs.hold(tmp_path / "new"):
            raise KeyError("a job that fails before it writes anything")
    assert not (tmp_path / "new").exists()  # ... leaves no folder behind
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        with runs.hold(tmp_path / "file"):
            pass


@pytest.mark.parametrize("argv, writes", [
    (["poison", "--epochs", "1"], ""),
    (["train-noise", "0.25", "--epochs", "1"], "smoothing"),  # two of these into one folder used to race
    (["train", "--classifier-epochs", "1", "--purifier-epochs", "1"], ""),
])
def test_every_job_refuses_a_folder_in_use_in_one_line_writing_nothing(tmp_path, argv, writes, capsys):
    out = tmp_path / "run"
    held = out / writes if writes else out  # the folder the job writes (noise-trained classifiers: OUT/smoothing)
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(held)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        assert main([*argv, "--out", str(out), "--quiet"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"is in use by another run (pid {proc.pid}" in err[0], err
        assert "choose another --out" in err[0]
        assert sorted(os.listdir(held)) == [runs.LOCK]
    finally:
        proc.kill()
        proc.wait()


def test_a_folder_is_tied_to_the_request_it_was_made_for(tmp_path):
    asked = {"dataset": "digits", "seed": 0, "epochs": 3, "eps_range": (0.05, 0.3)}
    version = {"snnlab_version": snnlab.__version__}  # every request carries the code that runs it
    assert runs.claim(tmp_path, asked) == {**asked, "eps_range": [0.05, 0.3], **version}
    assert runs.claim(tmp_path, dict(asked))["epochs"] == 3  # the same request resumes
    with pytest.raises(ValueError, match=r"holds a run with other settings \(epochs 3 here, 4 asked; "
                                         r"seed 0 here, 1 asked\); choose another --out"):
        runs.claim(tmp_path, {**asked, "epochs": 4, "seed": 1})
    (tmp_path / "request.json").write_text("{not json")
    with pytest.raises(ValueError, match="request.json is unreadable"):
        runs.claim(tmp_path, asked)


def test_a_request_ties_the_code_version_and_the_inputs_and_an_older_request_is_upgraded(tmp_path, monkeypatch):
    import json

    from snnlab.runs import folders

    old = {"dataset": "digits", "seed": 0}  # as a folder claimed before versions and inputs were recorded
    (tmp_path / "request.json").write_text(json.dumps(old))
    assert runs.claim(tmp_path, {**old, "inputs": {"train": "ab12"}})["inputs"] == {"train": "ab12"}
    assert json.loads((tmp_path / "request.json").read_text()) == {
        **old, "inputs": {"train": "ab12"}, "snnlab_version": snnlab.__version__}  # what it lacked, recorded
    with pytest.raises(ValueError, match=r"inputs.train 'ab12' here, 'cd34' asked"):
        runs.claim(tmp_path, {**old, "inputs": {"train": "cd34"}})  # other data under the same name
    monkeypatch.setattr(folders, "__version__", "9.9")
    with pytest.raises(ValueError, match=rf"snnlab_version '{snnlab.__version__}' here, '9.9' asked\); choose "
                                         r"another --out, add --extend to retrain what the change affects"):
        runs.claim(tmp_path, {**old, "inputs": {"train": "ab12"}}, extend="--extend")


def test_reclaim_records_the_new_request_and_names_what_changed(tmp_path):
    asked = {"dataset": "digits", "seed": 0, "training": {"epochs": 3, "lr": 0.002}}
    assert runs.reclaim(tmp_path, asked) == []  # a new folder: nothing changed
    assert runs.reclaim(tmp_path, {**asked, "training": {"epochs": 5, "lr": 0.002}}) == ["training.epochs"]
    assert runs.claim(tmp_path, {**asked, "training": {"epochs": 5, "lr": 0.002}})["training"]["epochs"] == 5


def test_snnlab_train_refuses_another_request_into_a_finished_run(tmp_path, capsys):
    out = str(tmp_path / "d")
    argv = ["train", "--classifier-epochs", "1", "--purifier-epochs", "1", "--out", out, "--quiet"]
    assert main(argv) == 0
    before = open(os.path.join(out, "classifier.pt"), "rb").read()
    capsys.readouterr()
    assert main(argv + ["--seed", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds a run with other settings (seed 0 here, 1 asked)" in err[0], err
    assert main(argv) == 0  # the same request keeps the finished run
    assert open(os.path.join(out, "classifier.pt"), "rb").read() == before


def test_extend_retrains_what_the_changed_settings_affect_and_keeps_the_rest(tmp_path, capsys):
    import json

    import torch

    out = str(tmp_path / "d")
    argv = ["train", "--classifier-epochs", "1", "--out", out, "--quiet"]
    assert main([*argv, "--purifier-epochs", "1"]) == 0
    files = {f: open(os.path.join(out, f), "rb").read() for f in ("classifier.pt", "purifier.pt", "substitute.pt")}
    capsys.readouterr()
    assert main([*argv, "--purifier-epochs", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "(purifier_training.epochs 1 here, 2 asked); choose another --out, add --extend" in err[0]
    assert main([*argv, "--purifier-epochs", "2", "--extend"]) == 0
    assert open(os.path.join(out, "classifier.pt"), "rb").read() == files["classifier.pt"]  # not trained from it
    assert open(os.path.join(out, "substitute.pt"), "rb").read() == files["substitute.pt"]
    assert torch.load(os.path.join(out, "purifier.pt"), weights_only=True)["epochs"] == 2  # trained again
    manifest = json.loads(open(os.path.join(out, "manifest.json")).read())
    snnlab.load_models(out)  # every file matches its SHA-256 in the new manifest
    assert json.loads(open(os.path.join(out, "request.json")).read())["purifier_training"]["epochs"] == 2
    assert main([*argv, "--purifier-epochs", "2"]) == 0  # the new request now keeps the folder
    kept = json.loads(open(os.path.join(out, "manifest.json")).read())
    assert {**kept, "command": None} == {**manifest, "command": None}  # (the record names the last command)


def test_a_streamed_run_extended_retrains_only_the_purifier(tmp_path, capsys):
    out = str(tmp_path / "s")
    argv = ["train", "--stream", "--fake-data", "--dataset", "cifar10", "--limit", "32", "--batch-size", "16",
            "--workers", "0", "--classifier-epochs", "1", "--out", out, "--quiet"]
    assert main([*argv, "--purifier-epochs", "1"]) == 0
    classifier = open(os.path.join(out, "classifier.pt"), "rb").read()
    capsys.readouterr()
    assert main([*argv, "--purifier-epochs", "2"]) == 2
    assert "purifier_training.epochs 1 here, 2 asked" in capsys.readouterr().err
    assert main([*argv, "--purifier-epochs", "2", "--extend"]) == 0
    assert open(os.path.join(out, "classifier.pt"), "rb").read() == classifier
    assert _weights_state(os.path.join(out, "purifier.pt"))["epochs"] == 2


def test_a_recorded_model_is_refused_under_another_request_and_trained_again_with_extend(tmp_path, capsys):
    import json

    out = str(tmp_path / "d")
    argv = ["train-noise", "0.25", "--out", out, "--quiet"]
    assert main([*argv, "--epochs", "1"]) == 0
    record = json.loads(open(os.path.join(out, "smoothing", "manifest.json")).read())["runs"]["noise-sigma0.25"]
    assert record["snnlab_version"] == snnlab.__version__ and len(record["inputs"]["train"]) == 64
    assert record["train_seconds"] > 0 and "untimed_epochs" not in record  # from the checkpoint's clock
    capsys.readouterr()
    assert main([*argv, "--epochs", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "(epochs 1 here, 2 asked); choose another --out, add --extend" in err[0], err
    assert main([*argv, "--epochs", "2", "--extend"]) == 0
    record = json.loads(open(os.path.join(out, "smoothing", "manifest.json")).read())["runs"]["noise-sigma0.25"]
    assert record["epochs"] == 2
    snnlab.evaluation.smoothing.load_noise_classifier(0.25, folder=out)  # its SHA-256 checks out


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items()
                if k not in ("seconds", "wall_s", "this_process_s", "note")}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def test_a_killed_ensemble_evaluation_resumes_exactly(tmp_path):
    """benchmarks/ensemble_evaluation.py killed (SIGKILL) after its first chunk, then run again: the same rows as
    an uninterrupted run, no temporary file left, the progress folder gone."""
    import json
    import time

    script = os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks", "ensemble_evaluation.py")
    argv = [sys.executable, script, "--preset", "light", "--steps", "2", "--limit", "6", "--chunk", "2",
            "--eps", "0.1", "--rounds", "1", "--quiet"]
    whole, killed = tmp_path / "whole.json", tmp_path / "killed.json"
    subprocess.run(argv + ["--out", str(whole)], check=True, capture_output=True)
    progress = tmp_path / "killed.json.partial" / "progress.json"
    proc = subprocess.Popen(argv + ["--out", str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not progress.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = len(json.loads(progress.read_text())["chunks"])
    assert 1 <= finished < 6 and not killed.exists()  # killed mid-run: 6 chunks (3 of 2 images, 2 models)
    assert not [f for f in os.listdir(progress.parent) if f.startswith(".tmp-")]  # no half-written file
    with pytest.raises(subprocess.CalledProcessError):  # another request is refused, naming the difference
        subprocess.run(argv[:-1] + ["--steps", "3", "--out", str(killed)], check=True, capture_output=True)
    subprocess.run(argv + ["--out", str(killed)], check=True, capture_output=True)
    assert _without_timings(json.loads(killed.read_text())) == _without_timings(json.loads(whole.read_text()))
    assert not progress.parent.exists()


def test_an_ensemble_evaluation_grows_by_a_model_and_records_its_sanity_checks(tmp_path):
    """--keep-progress then the same command with a model added: the first model's chunks are reused, not
    attacked again (same rows, the new run's chunk count grows by the new model's); --light-eps radii take the
    light preset; --sanity puts the checks' figures and verdicts in every row."""
    import json

    script = os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks", "ensemble_evaluation.py")
    argv = [sys.executable, script, "--preset", "full", "--steps", "2", "--square-queries", "4", "--limit", "4",
            "--chunk", "2", "--eps", "0.1", "--light-eps", "0.2", "--rounds", "1", "--sanity", "4", "--quiet",
            "--keep-progress", "--out", str(tmp_path / "grow.json")]
    progress = tmp_path / "grow.json.partial" / "progress.json"
    subprocess.run(argv + ["--models", "classifier"], check=True, capture_output=True)
    first = json.loads((tmp_path / "grow.json").read_text())
    assert len(json.loads(progress.read_text())["chunks"]) == 2 * (2 + 1)  # 2 eps x (2 chunks + sanity)
    subprocess.run(argv + ["--models", "classifier,defense"], check=True, capture_output=True)
    grown = json.loads((tmp_path / "grow.json").read_text())
    assert len(json.loads(progress.read_text())["chunks"]) == 2 * 2 * (2 + 1)
    assert _without_timings(grown["rows"][0]) == _without_timings(first["rows"][0])  # eps 0.1, classifier: reused
    assert [(r["eps"], r["evaluated_on"], r["preset"]) for r in grown["rows"]] == [
        (0.1, "classifier", "full"), (0.1, "defense", "full"), (0.2, "classifier", "light"), (0.2, "defense", "light")]
    for row in grown["rows"]:
        sanity = row["sanity"]
        assert sanity["n"] == 4 and sanity["passed"] == all(c["passed"] for c in sanity["checks"])
        assert {"fgsm", "pgd", "pgd_large_eps", "transfer"} <= set(sanity["figures"])
        assert any(c["name"] == "white-box at least as strong as grey-box" for c in sanity["checks"]) == (
            row["evaluated_on"] == "defense")


def test_a_killed_snnlab_evaluate_resumes_to_the_same_rows(tmp_path):
    """`snnlab evaluate --json --chunk` SIGKILLed after its first chunk, then run again: the rows of an
    uninterrupted run, no half-written file, the progress folder gone; its request holds the models' hashes."""
    import json
    import time

    argv = [sys.executable, "-m", "snnlab", "evaluate", "--limit", "6", "--chunk", "2", "--threat-models",
            "undefended,grey-box", "--attacks", "fgsm,pgd", "--eps", "0.1", "--quiet", "--json"]
    whole, killed = tmp_path / "whole.json", tmp_path / "killed.json"
    subprocess.run(argv + [str(whole)], check=True, capture_output=True)
    progress = tmp_path / "killed.json.partial" / "progress.json"
    proc = subprocess.Popen(argv + [str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not progress.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = json.loads(progress.read_text())
    assert 1 <= len(saved["chunks"]) < 3 and not killed.exists()  # killed mid-run: 3 chunks of 2 images
    assert set(saved["request"]["inputs"]) == {"manifest.json"} and saved["request"]["snnlab_version"]
    assert not [f for f in os.listdir(progress.parent) if f.startswith(".tmp-")]
    subprocess.run(argv + [str(killed)], check=True, capture_output=True)
    assert json.loads(killed.read_text()) == json.loads(whole.read_text())
    assert not progress.parent.exists()


def test_snnlab_evaluate_in_chunks_merges_and_resumes(tmp_path, monkeypatch, capsys):
    """Chunked rows equal the whole-set rows for a per-image attack (FGSM); an evaluation interrupted after its
    first chunk resumes from it and writes the same rows."""
    import json

    from snnlab.evaluation import evaluate as evaluation

    argv = ["evaluate", "--limit", "6", "--threat-models", "undefended,grey-box", "--attacks", "fgsm", "--eps", "0.1",
            "--quiet"]
    whole, chunked, resumed = tmp_path / "whole.json", tmp_path / "chunked.json", tmp_path / "resumed.json"
    assert main(argv + ["--json", str(whole)]) == 0
    assert main(argv + ["--json", str(chunked), "--chunk", "4"]) == 0
    rows, merged = json.loads(whole.read_text()), json.loads(chunked.read_text())
    assert [r["attack"] for r in rows] == [r["attack"] for r in merged] and all(r["n"] == 6 for r in merged)
    for a, b in zip(rows, merged):
        for k in ("accuracy", "flagged", "correct_or_flagged", "auroc"):
            assert a[k] == pytest.approx(b[k]), (a, b, k)
    calls, real = [], evaluation.evaluate

    def dies_after_one_chunk(*args, **kwargs):
        if calls:
            raise KeyboardInterrupt  # the run is stopped between chunks
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate", dies_after_one_chunk)
    with pytest.raises(KeyboardInterrupt):
        main(argv + ["--json", str(resumed), "--chunk", "4"])
    partial = tmp_path / "resumed.json.partial" / "progress.json"
    assert len(json.loads(partial.read_text())["chunks"]) == 1 and not resumed.exists()
    monkeypatch.setattr(evaluation, "evaluate", real)
    capsys.readouterr()
    assert main(argv + ["--json", str(resumed), "--chunk", "2"]) == 2  # another chunking is another request
    assert "holds a run with other settings (chunk 4 here, 2 asked)" in capsys.readouterr().err
    assert main(argv + ["--json", str(resumed), "--chunk", "4"]) == 0
    assert json.loads(resumed.read_text()) == merged and not partial.parent.exists()


def _kill_when(argv, checkpoint, epoch, timeout=600):
    """Start ``snnlab ARGV`` in its own process group; SIGKILL the whole group once ``checkpoint`` holds
    ``epoch`` finished epochs (torchrun's workers die with their launcher, as on a lost machine)."""
    import time

    import torch

    proc = subprocess.Popen([sys.executable, "-m", "snnlab", *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + timeout
    try:
        while time.time() < deadline and proc.poll() is None:
            try:
                state = torch.load(checkpoint, weights_only=True)
                if "optimizer" not in state or state["epoch"] >= epoch:  # (a finished file has no optimizer)
                    break
            except (OSError, RuntimeError, EOFError):  # not there yet (written atomically: never half a file)
                pass
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    survivors = _processes_naming(os.path.dirname(checkpoint))
    for _ in range(100):  # torchrun's workers run in sessions of their own: they must die with the launcher
        if not survivors:
            break
        time.sleep(0.1)
        survivors = _processes_naming(os.path.dirname(checkpoint))
    assert not survivors, f"processes of the killed run still write its folder: {survivors}"
    return torch.load(checkpoint, weights_only=True)


def _processes_naming(text):
    """The pids (Linux /proc) whose command line names ``text``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


SLOW_DISK = """
import os, sys, time
from snnlab.runs import checkpoints
from snnlab.training import engine
calls = []

def save_slowly(path, payload):  # the 2nd epoch's checkpoint: half written, then the process is killed
    calls.append(path)
    if len(calls) != 2:
        return checkpoints.save_checkpoint(path, payload)
    def half(f):
        f.write(b"PK half a checkpoint")
        f.flush()
        open(sys.argv[1], "w").close()  # tell the test we are mid-write
        time.sleep(120)
    checkpoints._atomic_write(path, half)

engine.save_checkpoint = save_slowly
from snnlab.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_a_training_killed_during_a_checkpoint_write_resumes_exactly(tmp_path):
    """`snnlab train` SIGKILLed while it writes its 2nd checkpoint (a slow disk, put in by the test): the
    checkpoint on disk is still the 1st epoch's, whole; the next run clears the half-written file, resumes
    from epoch 1 and ends bit-identical to an uninterrupted run, manifest and SHA-256 valid."""
    import time

    argv = ["train", "--dataset", "digits", "--classifier-epochs", "3", "--purifier-epochs", "1", "--quiet"]
    whole, killed, marker = tmp_path / "whole", tmp_path / "killed", tmp_path / "mid-write"
    assert main([*argv, "--out", str(whole)]) == 0
    proc = subprocess.Popen([sys.executable, "-c", SLOW_DISK, str(marker), *argv, "--out", str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not marker.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert marker.exists(), "the run never reached its 2nd checkpoint"
    left = [f for f in os.listdir(killed) if f.startswith(".tmp-")]
    assert len(left) == 1 and left[0].endswith("classifier.pt")  # the half-written file a kill leaves
    assert _weights_state(killed / "classifier.pt")["epoch"] == 1  # the last whole checkpoint
    assert main([*argv, "--out", str(killed)]) == 0
    assert not [f for f in os.listdir(killed) if f.startswith(".tmp-")]
    for f in ("classifier.pt", "purifier.pt", "substitute.pt"):
        assert _same(_weights(whole / f), _weights(killed / f)), f
    snnlab.load_models(str(killed))  # every file checks out against the manifest


def _weights_state(path):
    import torch

    return torch.load(path, weights_only=True)


def _weights(path):
    import torch

    return torch.load(path, weights_only=True)["state_dict"]


def _same(a, b):
    import torch

    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name, argv, files", [
    ("in memory", ["train", "--dataset", "digits", "--classifier-epochs", "3", "--purifier-epochs", "1"],
     ["classifier.pt", "purifier.pt", "substitute.pt"]),
    pytest.param("two processes", ["train", "--dataset", "cifar10", "--fake-data", "--nproc", "2", "--epochs", "3",
                                   "--limit", "32", "--batch-size", "16", "--workers", "0"],
                 ["classifier.pt", "purifier.pt"]),
])
def test_a_training_killed_mid_run_resumes_to_the_uninterrupted_weights(tmp_path, name, argv, files):
    """`snnlab train` SIGKILLed (with every process it started) after its first classifier epoch, then started
    again: it resumes from that epoch, the lock is free at once, and every model ends bit-identical to an
    uninterrupted run's; the manifests agree but for the times."""
    import json

    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert main([*argv, "--out", str(whole), "--quiet"]) == 0
    state = _kill_when([*argv, "--out", str(killed), "--quiet"], str(killed / "classifier.pt"), 1)
    assert 1 <= state["epoch"] < 3 and "optimizer" in state  # killed mid-run, a resumable checkpoint left
    assert runs.holder(killed) is None  # the dead run's lock went with it
    assert main([*argv, "--out", str(killed), "--quiet"]) == 0
    for f in files:
        assert _same(_weights(whole / f), _weights(killed / f)), f
    untimed = ("train_seconds", "command", "untimed_epochs", "sha256")  # the files keep their own times
    a, b = (json.loads((d / "manifest.json").read_text()) for d in (whole, killed))
    assert {k: v for k, v in a.items() if k not in untimed} == {k: v for k, v in b.items() if k not in untimed}


def test_an_extended_recorded_run_killed_midway_resumes_under_its_new_request(tmp_path):
    """--extend on a recorded model takes it out of the manifest before training it again, so a retrain
    stopped midway resumes under the new request (not refused in the old one's name, nor restarted)."""
    import json

    from snnlab.runs.checkpoints import save_checkpoint
    from snnlab.training.trainers import train_recorded

    where, calls = str(tmp_path / "m"), []

    def finished(path):
        calls.append(("finished", os.path.exists(path)))
        save_checkpoint(path, {"kind": "x", "config": {}, "state_dict": {}, "epochs": 1, "seconds": 1.0})

    def stopped(path):
        save_checkpoint(path, {"kind": "x", "config": {}, "state_dict": {}, "epoch": 1, "epochs": 2,
                               "optimizer": {}, "seconds": 1.0})
        raise KeyboardInterrupt  # stopped after its first epoch

    train_recorded(where, "m.pt", {"seed": 0, "epochs": 1}, finished, "first")
    with pytest.raises(KeyboardInterrupt):
        train_recorded(where, "m.pt", {"seed": 0, "epochs": 2}, stopped, "again", extend=True)
    assert "m.pt" not in json.loads(open(os.path.join(where, "manifest.json")).read())["sha256"]
    manifest = train_recorded(where, "m.pt", {"seed": 0, "epochs": 2}, finished, "resumed")  # no --extend needed
    assert manifest["runs"]["m"]["epochs"] == 2 and calls[-1] == ("finished", True)  # it found the partial file
    with pytest.raises(ValueError, match=r"epochs 2 here, 1 asked"):
        train_recorded(where, "m.pt", {"seed": 0, "epochs": 1}, finished, "old")
