"""The API's lookup of uploaded datasets for spec validation.

``reglab.spec`` knows the built-in datasets; for ``upload:<id>`` and for an
uploaded dataset's unique name it asks the lookup installed here, which reads
the ``datasets`` table. Lookups are cached for a few seconds, since a 256-run
grid validates the same name 256 times.
"""

from __future__ import annotations

import re
import time

from sqlalchemy import select

from reglab import spec
from backend.datasets.models import Dataset

CACHE_SECONDS = 5.0
_cache: dict[str, tuple[float, spec.DatasetInfo | None]] = {}


def info_of(dataset: Dataset) -> spec.DatasetInfo:
    return spec.DatasetInfo(
        name=dataset.ref,
        train=dataset.train_size,
        test=dataset.test_size,
        classes=dataset.classes,
        shape=tuple(dataset.example_shape),
        sha256=dataset.sha256,
    )


def lookup(name: str) -> spec.DatasetInfo | None:
    """The uploaded dataset ``upload:<id>`` or unique ``name`` refers to, or None."""
    now = time.monotonic()
    cached = _cache.get(name)
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    from backend.db import session_scope

    match = re.fullmatch(spec.UPLOAD_PATTERN, name)
    query = select(Dataset).where(Dataset.id == int(name.split(":")[1]) if match else Dataset.name == name)
    with session_scope() as session:
        dataset = session.scalars(query).first()
        info = None if dataset is None else info_of(dataset)
    _cache[name] = (now, info)
    return info


def forget() -> None:
    """Drop cached lookups after an upload or a delete in this process."""
    _cache.clear()


def install() -> None:
    spec.use_dataset_catalog(lookup)
