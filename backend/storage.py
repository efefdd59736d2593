"""Where the API keeps run files (trained models, resume checkpoints), by key.

Keys are flat file names (``run-7.keras``, ``run-7.checkpoint-e3.keras``).
:class:`LocalStorage` keeps them under ``REGLAB_DATA_DIR/artifacts``; an
object-store backend needs only the same five methods, and neither the
worker nor the routes change (they only ever name keys).
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from functools import lru_cache
from pathlib import Path

from backend.settings import get_settings

log = logging.getLogger(__name__)

KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
TEMPORARY_PREFIX = ".upload-"


class InvalidKey(ValueError):
    """A key that could name something outside the store (a path, ``..``)."""


class LocalStorage:
    """Files under ``root``; a put is written to a temporary name and renamed, so a reader never sees half a file."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not KEY.match(key) or ".." in key:
            raise InvalidKey(f"invalid storage key {key!r}")
        return self.root / key

    async def put_stream(self, key: str, chunks: AsyncIterator[bytes]) -> int:
        """Store the bytes of ``chunks`` under ``key``, streamed to disk; returns the size."""
        target = self._path(key)
        self.root.mkdir(parents=True, exist_ok=True)
        temporary = self.root / f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}"
        size = 0
        try:
            with open(temporary, "wb") as file:
                async for chunk in chunks:
                    file.write(chunk)
                    size += len(chunk)
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        return size

    def put(self, key: str, data: bytes) -> None:
        target = self._path(key)
        self.root.mkdir(parents=True, exist_ok=True)
        temporary = self.root / f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}"
        temporary.write_bytes(data)
        os.replace(temporary, target)

    def get(self, key: str) -> bytes | None:
        path = self.path(key)
        return path.read_bytes() if path is not None else None

    def path(self, key: str) -> Path | None:
        """The stored file for ``key`` (what a FileResponse serves), or None."""
        try:
            path = self._path(key)
        except InvalidKey:
            return None
        return path if path.is_file() else None

    def keys(self, prefix: str) -> Iterator[str]:
        if not self.root.is_dir():
            return iter(())
        return (p.name for p in self.root.glob(f"{glob_escape(prefix)}*") if p.is_file())

    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        try:
            self._path(key).unlink(missing_ok=True)
        except (OSError, InvalidKey) as exc:
            log.warning("could not delete %s: %s", key, exc)


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


@lru_cache(maxsize=4)
def _local(root: str) -> LocalStorage:
    return LocalStorage(Path(root))


def get_storage() -> LocalStorage:
    """The store of the current settings."""
    return _local(str(get_settings().artifacts_dir.resolve()))


def model_key(run_id: int) -> str:
    return f"run-{int(run_id)}.keras"


CHECKPOINT = re.compile(r"^run-(\d+)\.checkpoint-e(\d+)\.keras$")


def checkpoint_key(run_id: int, epoch: int) -> str:
    return f"run-{int(run_id)}.checkpoint-e{int(epoch)}.keras"


def checkpoint_prefix(run_id: int) -> str:
    return f"run-{int(run_id)}.checkpoint"


def latest_checkpoint(run_id: int) -> tuple[int, str] | None:
    """(complete epochs, key) of the run's newest checkpoint, or None."""
    found = []
    for key in get_storage().keys(checkpoint_prefix(run_id)):
        match = CHECKPOINT.match(key)
        if match and int(match.group(1)) == run_id:
            found.append((int(match.group(2)), key))
    return max(found) if found else None
