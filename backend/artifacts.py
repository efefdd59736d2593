"""Model artifacts and checkpoints of runs, through :mod:`backend.storage`.

``Run.artifact_path`` holds a storage key (``run-7.keras``); rows written
before the storage layer hold an absolute path inside the artifacts
directory, which still resolves. Nothing outside the store is ever served
or deleted, whatever the database says.
"""

import logging
from pathlib import Path

from backend.settings import get_settings
from backend.storage import checkpoint_prefix, get_storage

log = logging.getLogger(__name__)


def artifact_key(path: str | None) -> str | None:
    """The storage key of a stored ``artifact_path`` (a key, or a legacy path inside the store), else None."""
    if not path:
        return None
    storage = get_storage()
    candidate = Path(path)
    if len(candidate.parts) == 1 and not candidate.is_absolute():
        return path
    if not candidate.is_absolute():
        candidate = get_settings().DATA_DIR / candidate
    candidate = candidate.resolve()
    if candidate.parent != storage.root.resolve():
        return None
    return candidate.name


def artifact_file(path: str | None) -> Path | None:
    """The stored artifact as a Path if the store holds it, else None."""
    key = artifact_key(path)
    return get_storage().path(key) if key is not None else None


def remove_artifact(path: str | None) -> None:
    """Delete an artifact; a missing one is not an error."""
    key = artifact_key(path)
    if key is not None:
        get_storage().delete(key)


def remove_checkpoints(run_id: int) -> None:
    """Delete a run's resume checkpoints: a run that will not resume no longer needs them."""
    storage = get_storage()
    for key in list(storage.keys(checkpoint_prefix(run_id))):
        storage.delete(key)
