import os
import shutil

import pytest
import torch

from snnlab.pretrained import PRETRAINED_DIR, load_models, read_manifest
from snnlab.runs.checkpoints import CheckpointError, load_checkpoint, load_state, save_checkpoint, save_json, sha256


def test_atomic_save_and_weights_only_load(tmp_path):
    path = tmp_path / "m.pt"
    model = torch.nn.Linear(3, 2)
    save_checkpoint(str(path), {"kind": "classifier", "config": {"a": 1}, "state_dict": model.state_dict()})
    assert os.listdir(tmp_path) == ["m.pt"]  # no temporary file left behind
    payload = load_checkpoint(str(path), "classifier")
    assert torch.equal(payload["state_dict"]["weight"], model.weight)


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(str(path), {"kind": "x", "config": {}, "state_dict": {}})
    before = path.read_bytes()

    class Boom:
        def __reduce__(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        save_checkpoint(str(path), {"bad": Boom()})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.pt"]


@pytest.mark.parametrize("content,match", [
    (b"not a checkpoint at all", "corrupt"),
    (b"", "corrupt"),
])
def test_corrupt_checkpoint_gives_clear_error(tmp_path, content, match):
    path = tmp_path / "c.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(str(path))


def test_truncated_checkpoint(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(str(path), {"kind": "classifier", "config": {}, "state_dict": torch.nn.Linear(50, 50).state_dict()})
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(str(path))


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    import argparse

    torch.save({"kind": "classifier", "config": {}, "state_dict": {}, "obj": argparse.Namespace(a=1)}, path)
    with pytest.raises(CheckpointError, match="corrupt or not a snnlab checkpoint"):
        load_checkpoint(str(path))


def test_missing_and_wrong_kind(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(str(tmp_path / "none.pt"))
    path = tmp_path / "p.pt"
    save_checkpoint(str(path), {"kind": "purifier", "config": {}, "state_dict": {}})
    with pytest.raises(CheckpointError, match="expected a 'classifier'"):
        load_checkpoint(str(path), "classifier")


def test_mismatched_state_dict():
    with pytest.raises(CheckpointError, match="does not match the model"):
        load_state(torch.nn.Linear(3, 2), torch.nn.Linear(4, 2).state_dict(), "x.pt")


def test_checkpoint_errors_are_value_errors():
    assert issubclass(CheckpointError, ValueError)


@pytest.fixture
def model_copy(tmp_path):
    folder = tmp_path / "digits"
    shutil.copytree(os.path.join(PRETRAINED_DIR, "digits"), folder)
    return folder


def test_shipped_manifest_matches_files(model_copy):
    manifest = read_manifest(str(model_copy))
    assert manifest["seed"] == 0 and manifest["command"].startswith("snnlab train")
    for name, digest in manifest["sha256"].items():
        assert sha256(str(model_copy / name)) == digest
    total = sum(os.path.getsize(model_copy / n) for n in os.listdir(model_copy))
    assert total < 5 * 2**20  # well under 5 MB in all


def test_flipped_byte_in_shipped_checkpoint_is_caught(model_copy):
    path = model_copy / "purifier.pt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_models(str(model_copy))


def test_mismatched_checkpoint_with_valid_manifest(model_copy):
    # a classifier of another size, re-hashed so only the shape check can catch it
    from dataclasses import asdict

    from snnlab.models.classifier import ClassifierConfig, SpikingResNet

    other = SpikingResNet(ClassifierConfig(stem=16, stages=[16, 32]))
    save_checkpoint(str(model_copy / "classifier.pt"),
                    {"kind": "classifier", "config": asdict(ClassifierConfig()), "state_dict": other.state_dict()})
    manifest = read_manifest(str(model_copy))
    manifest["sha256"]["classifier.pt"] = sha256(str(model_copy / "classifier.pt"))
    save_json(str(model_copy / "manifest.json"), manifest)
    with pytest.raises(CheckpointError, match="does not match the model"):
        load_models(str(model_copy))


def test_folder_without_manifest(tmp_path):
    with pytest.raises(CheckpointError, match="no manifest.json"):
        load_models(str(tmp_path))
