"""One run per folder: a job that writes a folder holds an OS lock on it for its whole life.

Two runs into one folder (two notebooks, two terminals, a re-submitted job) would write the same
checkpoints and manifest over each other. Every job that writes a run folder (``snnlab train`` in
memory or streamed, the purifier family, the noise-trained classifiers, the DDPM, ``snnlab poison``
and ``purify-dataset``) therefore holds ``FOLDER/.lock`` while it runs; a second run into a folder in
use is refused with a :class:`FolderInUse` error naming the other process. The lock is the operating
system's (``fcntl.flock``; ``msvcrt.locking`` on Windows), so a run that is killed frees it at once:
nothing stale is left to delete by hand.

Taking the lock also removes what a killed run left half-written (``.tmp-*``: a checkpoint is written to a
temporary file and renamed, so a kill mid-save leaves the last whole checkpoint and that temporary file).

Within one process the lock is re-entrant (a job may call another job on the same folder), and a
process started by a run that holds the lock (``snnlab train --nproc N`` relaunching itself under
torchrun) is told so through :data:`HELD_ENV`.

A folder is also tied to the request it was made for (:func:`claim`): the same request resumes or
keeps, another is refused naming each difference.

Written here: the standard library has the OS lock but not "one run per folder, refuse in one line".
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import socket
import sys

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

from .._version import __version__
from .checkpoints import save_json

LOCK = ".lock"
TMP = ".tmp-"  # the prefix of a file being written atomically (snnlab.runs.checkpoints)
HELD_ENV = "SNNLAB_HELD_FOLDERS"  # os.pathsep-separated folders a parent run holds for this process

_held: dict = {}  # real path -> open lock file, the folders this process holds


class FolderInUse(ValueError):
    """Another run is writing the folder asked for."""


def _try_lock(f) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            f.seek(0)
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
        return True
    except OSError:
        return False


def _unlock(f) -> None:
    if fcntl is not None:
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    else:
        f.seek(0)
        msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)


def _who(f) -> str:
    """What a lock file says of its holder ("pid N on HOST: JOB")."""
    f.seek(0)
    try:
        return f.read().strip() or "another process"
    except OSError:  # Windows: the holder's lock covers what it wrote
        return "another process"


def _writer_alive(name: str) -> bool:
    """Whether the process that is writing ``.tmp-PID-...`` still runs (a name of another form: assume so)."""
    pid = name[len(TMP):].split("-", 1)[0]
    if not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)  # signal 0 only checks
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # another user's process, or a platform that cannot tell
        return True
    return True


def holder(folder: str) -> str | None:
    """Who holds ``folder`` now ("pid N on HOST: JOB"), or None when no run does."""
    path = os.path.join(folder, LOCK)
    if not os.path.exists(path):
        return None
    if os.path.realpath(folder) in _held:  # this process: its lock would refuse a second look from itself
        with open(path) as f:
            return f.read().strip()
    with open(path, "a+") as f:
        if _try_lock(f):
            _unlock(f)
            return None
        return _who(f)


def _lock(real: str, folder: str):
    """Open and lock ``real/.lock``: ``(whether this call created it, the open file)``; FolderInUse if another
    run holds it. A lock file can be removed by the run that held it (a refused run, an emptied folder): a
    lock taken on a file that is no longer the one at the path is let go and taken again on the new one."""
    path = os.path.join(real, LOCK)
    for _ in range(10):
        new = not os.path.exists(path)
        f = open(path, "a+")
        if not _try_lock(f):
            other = _who(f)
            f.close()
            raise FolderInUse(f"{folder} is in use by another run ({other}); wait for it to finish, or choose "
                              "another --out")
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = None
        if fcntl is None or current == os.fstat(f.fileno()).st_ino:
            return new, f
        _unlock(f)  # the file was removed (and perhaps made again) after we opened it: try the one there now
        f.close()
    raise FolderInUse(f"{folder}: could not take its lock ({LOCK} keeps being replaced); try again")


@contextlib.contextmanager
def hold(folder: str, job: str = "a snnlab run", remove_empty: bool = False):
    """Hold ``folder`` (created if missing) for the block; :class:`FolderInUse` if another run holds it.

    A folder this call created is removed again if the block fails before writing anything into it, and,
    with ``remove_empty``, whenever nothing but the lock is left in it at the end."""
    real = os.path.realpath(folder)
    if holds_inherited(real) or real in _held:  # re-entrant: the outermost hold releases it
        yield real
        return
    if os.path.exists(real) and not os.path.isdir(real):
        raise ValueError(f"{folder} is a file, not a folder; choose another --out")
    created = not os.path.isdir(real)
    os.makedirs(real, exist_ok=True)
    new_lock, f = _lock(real, folder)
    f.seek(0)
    f.truncate()
    f.write(f"pid {os.getpid()} on {socket.gethostname()}: {job}")
    f.flush()
    _held[real] = f
    for name in os.listdir(real):  # half-written files of a run killed mid-save
        if name.startswith(TMP) and not _writer_alive(name):
            with contextlib.suppress(OSError):
                os.remove(os.path.join(real, name))
    failed = False
    try:
        yield real
    except BaseException:
        failed = True
        raise
    finally:
        del _held[real]
        f.seek(0)
        f.truncate()
        f.flush()
        empty = ((failed and created) or remove_empty) and os.listdir(real) == [LOCK]
        if empty and fcntl is not None:  # nothing left behind (removed while still held: no one can slip in)
            with contextlib.suppress(OSError):
                os.remove(os.path.join(real, LOCK))
                os.rmdir(real)
        elif failed and new_lock and fcntl is not None:  # a refused run leaves no lock file of its own either
            with contextlib.suppress(OSError):
                os.remove(os.path.join(real, LOCK))
        _unlock(f)
        f.close()
        if empty and fcntl is None:  # Windows removes no open file
            with contextlib.suppress(OSError):
                os.remove(os.path.join(real, LOCK))
                os.rmdir(real)


def holds(parameter: str):
    """Decorator: the call holds the folder passed as ``parameter`` (see :func:`hold`) while it runs."""
    def decorate(job):
        signature = inspect.signature(job)

        @functools.wraps(job)
        def run(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            with hold(bound.arguments[parameter], job.__name__):
                return job(*args, **kwargs)
        return run
    return decorate


def holds_inherited(folder: str) -> bool:
    """Whether a parent run holds ``folder`` for this process (:data:`HELD_ENV`)."""
    return os.path.realpath(folder) in os.environ.get(HELD_ENV, "").split(os.pathsep)


def held_env() -> dict:
    """The environment for a child process that works inside the folders this process holds."""
    held = [p for p in os.environ.get(HELD_ENV, "").split(os.pathsep) if p] + list(_held)
    return {**os.environ, HELD_ENV: os.pathsep.join(held)}


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def differences(held: dict, asked: dict, keys=None) -> list:
    """``"KEY HELD here, ASKED asked"`` for every key (of ``keys``, default all of both) whose values differ;
    nested settings are compared leaf by leaf (``classifier_training.epochs``)."""
    held, asked = json.loads(json.dumps(held)), json.loads(json.dumps(asked))  # as they read back from JSON
    if keys is not None:
        held, asked = {k: held.get(k) for k in keys}, {k: asked.get(k) for k in keys}
    held, asked = _flat(held), _flat(asked)
    return [f"{k} {held.get(k)!r} here, {asked.get(k)!r} asked" for k in sorted(set(held) | set(asked))
            if held.get(k) != asked.get(k)]


ADDED_LATER = ("snnlab_version", "inputs")  # request keys a folder claimed before 2026-12-02 lacks


def stamped(request: dict) -> dict:
    """``request`` as it reads back from JSON (tuples become lists), with the code version that runs it."""
    return json.loads(json.dumps({**request, "snnlab_version": __version__}))


def _held_request(folder: str, filename: str) -> dict | None:
    path = os.path.join(folder, filename)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is unreadable ({type(err).__name__}); delete {folder} to start over") from None


def changes(held: dict, asked: dict, record_only=()) -> list:
    """The differences, a key of :data:`ADDED_LATER` that ``held`` lacks not among them (a request recorded
    before that key was is taken to be of this code and these inputs; the version check starts from it), nor
    a key of ``record_only`` that only ``held`` has (what a record adds to its request)."""
    keys = (set(held) - set(record_only)) | set(asked)
    return differences(held, asked, sorted(keys - {k for k in ADDED_LATER if k not in held}))


def claim(folder: str, request: dict, filename: str = "request.json", extend: str | None = None) -> dict:
    """Tie ``folder`` to ``request`` (what the run is made from: dataset, seed, epochs, eps, ``inputs`` by
    SHA-256...), stamped with the code version (:func:`stamped`).

    The first run into a folder records the request in ``folder/filename``; a run with the same request
    resumes or keeps what is there; a run with another request is refused with a ValueError naming each
    difference and the fix (another ``--out``; ``extend``, when given, names the option that takes the
    folder to the new request: see :func:`reclaim`), before anything is written. Returns the request as
    recorded.
    """
    asked, held = stamped(request), _held_request(folder, filename)
    if held is None:
        save_json(os.path.join(folder, filename), asked)
        return asked
    changed = changes(held, asked)
    if changed:
        fix = f"choose another --out, add {extend} to retrain what the change affects," if extend else \
            "choose another --out,"
        raise ValueError(f"{folder} holds a run with other settings ({'; '.join(changed)}); {fix} or delete "
                         f"{folder} to start over")
    if any(k not in held for k in ADDED_LATER):  # an older request: record what it lacked
        save_json(os.path.join(folder, filename), {**held, **{k: asked[k] for k in ADDED_LATER if k in asked}})
    return {**held, **asked}


def reclaim(folder: str, request: dict, filename: str = "request.json", clear=None) -> list:
    """Take ``folder`` to ``request`` even if it holds another (``--extend``): ``clear(changed)`` first (the
    caller deletes what depends on the changed keys, ``["purifier_training.epochs"]``), then the new request
    is recorded, so a run killed in between finds the old request and the stale files gone, never the new
    request beside them. Returns the changed keys (empty when none did)."""
    asked, held = stamped(request), _held_request(folder, filename)
    changed = [] if held is None else [c.split(" ", 1)[0] for c in changes(held, asked)]
    if clear is not None:
        clear(changed)
    save_json(os.path.join(folder, filename), asked)
    return changed


class Progress:
    """A long evaluation's finished chunks, saved after every chunk, so a killed run resumes from the last one.

    ``with Progress(result_path, request) as done:`` holds the folder ``RESULT_PATH.partial`` (see
    :func:`hold`: one run at a time), whose ``progress.json`` keeps the request (:func:`stamped` with the code
    version, compared as :func:`claim` compares) and one entry per finished
    chunk (``done[key] = value``, JSON-able, written atomically at once). Started again with the same
    request, ``key in done`` and ``done[key]`` give back what the killed run finished; another request is
    refused naming each difference. :meth:`finish`, once the final result is written, removes the folder.
    """

    def __init__(self, path: str, request: dict):
        self.folder = path + ".partial"
        self.file = os.path.join(self.folder, "progress.json")
        self.request = stamped(request)
        self.chunks: dict = {}
        self._hold = None

    def __enter__(self):
        self._hold = hold(self.folder, f"writing {os.path.basename(self.folder[:-len('.partial')])}",
                          remove_empty=True)
        self._hold.__enter__()
        try:
            if os.path.exists(self.file):
                with open(self.file) as f:
                    saved = json.load(f)
                changed = changes(saved["request"], self.request)
                if changed:
                    versions = any(c.startswith("snnlab_version ") for c in changed)
                    finish = "finish it with that snnlab" if versions else "run with those settings to finish it"
                    raise ValueError(f"{self.folder} holds a run with other settings ({'; '.join(changed)}); "
                                     f"{finish}, or delete {self.folder} to start over")
                self.chunks = saved["chunks"]
        except BaseException:
            self._hold.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, *exc):
        return self._hold.__exit__(*exc)

    def __contains__(self, key) -> bool:
        return str(key) in self.chunks

    def __getitem__(self, key):
        return self.chunks[str(key)]

    def __setitem__(self, key, value) -> None:
        self.chunks[str(key)] = json.loads(json.dumps(value))
        save_json(self.file, {"request": self.request, "chunks": self.chunks})

    def finish(self) -> None:
        """The final result is written: the progress is no longer needed."""
        if os.path.exists(self.file):
            os.remove(self.file)
        self.chunks = {}
