"""Model artifact files: served and deleted only from inside the artifacts directory."""

import logging
from pathlib import Path

from backend.settings import get_settings

log = logging.getLogger(__name__)


def artifact_file(path: str | None) -> Path | None:
    """The stored artifact as a Path if it exists under the artifacts directory, else None."""
    if not path:
        return None
    root = get_settings().artifacts_dir.resolve()
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = get_settings().DATA_DIR / candidate
    candidate = candidate.resolve()
    # A path from the database never lets the API read or delete outside its own data.
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def remove_artifact(path: str | None) -> None:
    """Delete an artifact file; a missing file is not an error."""
    file = artifact_file(path)
    if file is None:
        return
    try:
        file.unlink()
    except OSError as exc:
        log.warning("could not delete artifact %s: %s", file, exc)


def remove_checkpoints(run_id: int) -> None:
    """Delete a run's resume checkpoint files (``run-{id}.checkpoint*``, see the worker's
    ``training/checkpoint.py``): a run that will not resume no longer needs them."""
    for file in get_settings().artifacts_dir.glob(f"run-{int(run_id)}.checkpoint*"):
        try:
            file.unlink()
        except OSError as exc:
            log.warning("could not delete checkpoint %s: %s", file, exc)
