"""Uploaded datasets on the worker: fetched from the API once, cached by content hash.

A spec names an upload as ``dataset.name = "upload:<id>"`` and carries its
``sha256``. The worker looks for ``<sha256>.npz`` in its own cache
(``REGLAB_DATA_DIR/dataset-cache``), else downloads
``GET /api/datasets/<id>/file`` from ``REGLAB_URL``, checks the arrays against
the hash and keeps the file. Nothing is unpickled (``allow_pickle=False``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import httpx
import numpy as np

from reglab import datasets as store
from reglab.settings import get_client_settings
from worker.training.datasets import DatasetUnavailable

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(30.0, read=300.0)


class UploadUnavailable(DatasetUnavailable):
    """The uploaded dataset could not be fetched or did not match its hash; the message says why."""


def cache_dir() -> Path:
    return get_client_settings().dataset_cache_dir


def load(name: str, sha256: str | None) -> dict[str, np.ndarray]:
    """The stored arrays of upload ``name`` (``upload:<id>``), from the cache or the API."""
    if not sha256:
        raise UploadUnavailable(f"the spec names {name} without its sha256; submit it through the API")
    cached = store.path_for(cache_dir(), sha256)
    if not cached.is_file():
        _download(name, sha256, cached)
    arrays = store.load(cached)
    if store.content_hash(arrays) != sha256:
        cached.unlink(missing_ok=True)
        raise UploadUnavailable(f"the cached copy of {name} does not match its sha256 {sha256[:12]}…; it was removed")
    return arrays


def _download(name: str, sha256: str, target: Path) -> None:
    from reglab.client import Client

    path = f"/api/datasets/{name.split(':', 1)[1]}/file"
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".partial")
    # The run client's URL, token and proxy rules; the file itself is streamed to disk.
    with Client(get_client_settings().URL) as client:
        url = client.url + path
        try:
            with os.fdopen(handle, "wb") as out, client.http.stream("GET", path, timeout=TIMEOUT) as response:
                if response.status_code == 404:
                    raise UploadUnavailable(f"{name} is not on the API at {url} (deleted?); upload it again")
                if response.status_code in (401, 403):
                    raise UploadUnavailable(f"the API refused {url} ({response.status_code}); give the worker a REGLAB_TOKEN")
                response.raise_for_status()
                for chunk in response.iter_bytes(1 << 20):
                    out.write(chunk)
            if store.content_hash(store.load(Path(temporary))) != sha256:
                raise UploadUnavailable(f"{name} from {url} does not match the sha256 {sha256[:12]}… its runs recorded")
            os.replace(temporary, target)
            log.info("fetched %s (%s) into %s", name, sha256[:12], target)
        except httpx.HTTPError as error:
            raise UploadUnavailable(f"could not fetch {name} from {url}: {error}; is REGLAB_URL right?") from error
        finally:
            Path(temporary).unlink(missing_ok=True)
