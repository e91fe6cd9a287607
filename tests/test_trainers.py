import os

import pytest
import torch

from snnlab import load_dataset
from snnlab.models.classifier import ClassifierConfig
from snnlab.purifiers.snn import PurifierConfig
from snnlab.runs.checkpoints import load_checkpoint
from snnlab.training.trainers import (
    ClassifierTraining,
    PurifierTraining,
    calibrate_detector,
    train_classifier,
    train_purifier,
)

TINY_CLS = ClassifierConfig(stem=8, stages=[8, 16])
TINY_PUR = PurifierConfig(noise_channels=8, noise_layers=2, width=8)


@pytest.fixture(scope="module")
def small():
    x, y = load_dataset("digits", "train", limit=96)
    return x, y


def _same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_classifier_training_is_deterministic_and_learns(small):
    settings = ClassifierTraining(epochs=3, batch_size=32, seed=3)
    a = train_classifier(settings=settings, config=TINY_CLS, data=small, progress=False)
    b = train_classifier(settings=settings, config=TINY_CLS, data=small, progress=False)
    assert _same(a, b)
    c = train_classifier(settings=ClassifierTraining(epochs=3, batch_size=32, seed=4), config=TINY_CLS,
                         data=small, progress=False)
    assert not _same(a, c)
    assert not a.training


def test_interrupted_run_resumes_exactly(small, tmp_path, monkeypatch):
    import snnlab.training.engine as train

    settings = ClassifierTraining(epochs=3, batch_size=32)
    reference = train_classifier(settings=settings, config=TINY_CLS, data=small, progress=False)
    ckpt = str(tmp_path / "clf.pt")
    real_save = train.save
    calls = []

    def crash_after_two(*args, **kwargs):
        real_save(*args, **kwargs)
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(train, "save", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        train_classifier(settings=settings, config=TINY_CLS, data=small, checkpoint=ckpt, progress=False)
    monkeypatch.setattr(train, "save", real_save)
    assert load_checkpoint(ckpt)["epoch"] == 2
    resumed = train_classifier(settings=settings, config=TINY_CLS, data=small, checkpoint=ckpt, progress=False)
    assert _same(reference, resumed)


def test_pgd_adversarial_training_runs(small):
    settings = ClassifierTraining(epochs=1, batch_size=48, adversarial="pgd", eps=0.1, pgd_steps=2)
    model = train_classifier(settings=settings, config=TINY_CLS, data=small, progress=False)
    assert not model.training
    with pytest.raises(ValueError, match="adversarial"):
        train_classifier(settings=ClassifierTraining(epochs=1, adversarial="trades"), config=TINY_CLS,
                         data=small, progress=False)


def test_purifier_training_is_deterministic_and_checkpointed(small, tmp_path):
    clf = train_classifier(settings=ClassifierTraining(epochs=2, batch_size=32), config=TINY_CLS, data=small,
                           progress=False)
    settings = PurifierTraining(epochs=2, batch_size=32)
    a = train_purifier(clf, settings=settings, config=TINY_PUR, data=small, progress=False,
                       checkpoint=str(tmp_path / "p.pt"))
    b = train_purifier(clf, settings=settings, config=TINY_PUR, data=small, progress=False)
    assert _same(a, b)
    assert all(p.requires_grad for p in clf.parameters())  # classifier unfrozen afterwards
    det = calibrate_detector(a, data=small, fpr=0.05)
    assert 0 < det.threshold < 1
    assert os.path.exists(tmp_path / "p.pt")


def test_adversarial_training_from_the_cli_is_recorded_loaded_and_tied_to_its_settings(tmp_path, capsys):
    """`snnlab train-adversarial EPS` writes OUT/adversarial/pgdK-epsE.pt with a manifest; the loader checks it;
    the same folder refuses another seed; bad radii get one line."""
    import json

    from snnlab.cli import main
    from snnlab.pretrained import load_adversarial_classifier
    from snnlab.runs.checkpoints import CheckpointError

    out = tmp_path / "models"
    assert main(["train-adversarial", "0.1", "--steps", "1", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    manifest = json.loads((out / "adversarial" / "manifest.json").read_text())
    run = manifest["runs"]["pgd1-eps0.1"]
    assert run["eps"] == 0.1 and run["steps"] == 1 and run["command"].startswith("snnlab train-adversarial 0.1")
    model = load_adversarial_classifier(0.1, steps=1, folder=str(out))
    assert not model.training
    state = torch.load(out / "adversarial" / "pgd1-eps0.1.pt", weights_only=True)
    assert state["training"]["adversarial"] == "pgd" and state["training"]["pgd_steps"] == 1
    capsys.readouterr()
    assert main(["train-adversarial", "0.1", "--steps", "1", "--epochs", "1", "--seed", "3", "--out", str(out),
                 "--quiet"]) == 2
    assert "seed 0 here, 3 asked" in capsys.readouterr().err
    with pytest.raises(CheckpointError, match="snnlab train-adversarial 0.2 --steps 10"):
        load_adversarial_classifier(0.2, folder=str(out))
    for bad in ("0", "1.5", "x"):
        with pytest.raises(SystemExit):
            main(["train-adversarial", bad])
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "snnlab: error:" in err[0], err
