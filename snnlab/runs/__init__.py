"""What keeps a run's files safe: checkpoints written atomically and loaded with ``weights_only=True``,
manifests with hashes (:mod:`.checkpoints`), and run folders tied to their settings, locked while a run
writes them, resumable in chunks (:mod:`.folders`), and their working time, pauses left out (:mod:`.stopwatch`)."""
from .checkpoints import CheckpointError, load_checkpoint, record_run, recorded, save_checkpoint, save_json
from .folders import FolderInUse, Progress, claim, hold, holds, reclaim
from .stopwatch import Stopwatch

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "save_json", "record_run", "recorded",
           "FolderInUse", "hold", "holds", "claim", "reclaim", "Progress", "Stopwatch"]
