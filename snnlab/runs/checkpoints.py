"""Checkpoints: written atomically, loaded with ``weights_only=True``, checked by SHA-256.

A checkpoint is a dict of tensors and plain values (config dicts, numbers,
strings), so ``torch.load(..., weights_only=True)`` can read it without
running any pickled code. Writes go to a temporary file in the same folder,
are flushed to disk, then renamed over the target: a crash mid-write leaves
the old file intact, never a half-written one.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile

import torch


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or does not fit the model it is loaded into."""


def _atomic_write(path: str, write) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".tmp-{os.getpid()}-", suffix=os.path.basename(path))
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file normal permissions
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_checkpoint(path: str, payload: dict) -> None:
    """``torch.save`` ``payload`` to ``path`` atomically."""
    _atomic_write(path, lambda f: torch.save(payload, f))


def save_json(path: str, data) -> None:
    """Write JSON atomically (indent 2, sorted keys, trailing newline)."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    _atomic_write(path, lambda f: f.write(text.encode()))


def load_checkpoint(path: str, kind: str | None = None) -> dict:
    """Load a checkpoint dict with ``weights_only=True``; CheckpointError with the fix if it cannot be read.

    ``kind``, when given, must match the checkpoint's 'kind' field
    ('classifier', 'purifier'), so a purifier file is never loaded as a classifier.
    """
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path} does not exist; train one with `snnlab train` or check the path")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle, zip and unpickler errors all mean the same to a user
        raise CheckpointError(
            f"checkpoint {path} is corrupt or not a snnlab checkpoint ({err.__class__.__name__}); "
            "delete it and retrain with `snnlab train`"
        ) from None
    if not isinstance(payload, dict) or "state_dict" not in payload or "config" not in payload:
        raise CheckpointError(f"checkpoint {path} is not a snnlab checkpoint (no state_dict/config); retrain it")
    if kind is not None and payload.get("kind") != kind:
        raise CheckpointError(f"checkpoint {path} holds a {payload.get('kind')!r}, expected a {kind!r}")
    return payload


def load_state(model: torch.nn.Module, state_dict: dict, path: str) -> None:
    """``model.load_state_dict`` with a one-line CheckpointError when the shapes or keys do not match."""
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as err:
        first = str(err).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise CheckpointError(
            f"checkpoint {path} does not match the model ({detail}); it was trained for another "
            "dataset or snnlab version: retrain it with `snnlab train`"
        ) from None


def sha256(path: str) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tensors_sha256(*tensors: torch.Tensor) -> str:
    """Hex SHA-256 of tensors' shapes, dtypes and values, in order: a run's input data or weights by content."""
    digest = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        digest.update(f"{tuple(t.shape)} {t.dtype};".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def weights_sha256(model: torch.nn.Module) -> str:
    """Hex SHA-256 of a model's state (every parameter and buffer, by name): which weights a run started from."""
    state = model.state_dict()
    return tensors_sha256(*(torch.tensor(list(k.encode()), dtype=torch.uint8) for k in state), *state.values())


def verify_manifest(folder: str, manifest: dict) -> None:
    """Check every file listed in ``manifest['sha256']`` against its hash; CheckpointError on a mismatch."""
    for name, expected in manifest.get("sha256", {}).items():
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            raise CheckpointError(f"pretrained file {path} is missing; reinstall snnlab or run `snnlab train`")
        if sha256(path) != expected:
            raise CheckpointError(
                f"pretrained file {path} is corrupt (SHA-256 does not match the manifest); "
                "reinstall snnlab or retrain with `snnlab train`"
            )


def _manifest(folder: str) -> dict:
    """``folder/manifest.json`` of separately recorded runs, or an empty one when there is none yet."""
    path = os.path.join(folder, "manifest.json")
    if not os.path.exists(path):
        return {"sha256": {}, "runs": {}}
    with open(path) as f:
        return json.load(f)


def recorded(folder: str, filename: str) -> dict | None:
    """``folder/manifest.json`` when it records ``filename`` (see :func:`record_run`), else None."""
    manifest = _manifest(folder)
    return manifest if filename in manifest.get("sha256", {}) else None


def record_run(folder: str, filename: str, run: dict) -> dict:
    """Add ``folder/filename`` to ``folder/manifest.json`` (its SHA-256 and ``run``: seed, command, timing...).

    The manifest of a folder of separately trained models (the purifier family, the noise-trained
    classifiers, the DDPM, the backdoored classifier): ``{"sha256": {file: hash}, "runs": {stem: run}}``.
    Returns the manifest.
    """
    manifest = _manifest(folder)
    manifest["sha256"][filename] = sha256(os.path.join(folder, filename))
    manifest["runs"][os.path.splitext(filename)[0]] = run
    save_json(os.path.join(folder, "manifest.json"), manifest)
    return manifest


def unrecord_run(folder: str, filename: str) -> None:
    """Take ``folder/filename`` out of ``folder/manifest.json`` (before it is trained again)."""
    manifest = _manifest(folder)
    if manifest["sha256"].pop(filename, None) is not None or manifest["runs"].pop(os.path.splitext(filename)[0],
                                                                                  None) is not None:
        save_json(os.path.join(folder, "manifest.json"), manifest)


def verify_recorded(folder: str, filename: str, hint: str) -> str:
    """The path of ``folder/filename`` once checked against ``folder/manifest.json`` (see :func:`record_run`);
    a CheckpointError ending in ``hint`` (how to make one) when it is not recorded there."""
    try:
        manifest = recorded(folder, filename)
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"no {filename} in {folder} ({type(err).__name__}); {hint}") from None
    if manifest is None:
        raise CheckpointError(f"no {filename} in {folder}; {hint}")
    verify_manifest(folder, {"sha256": {filename: manifest["sha256"][filename]}})
    return os.path.join(folder, filename)
