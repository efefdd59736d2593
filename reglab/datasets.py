"""Stored dataset files, addressed by the sha256 of their content.

A stored dataset is one uncompressed ``.npz`` of plain arrays (``x_train``,
``y_train``, ``x_test``, ``y_test``, ``class_names``) named after its hash, so
two uploads of the same arrays share one file and a worker's cache can be keyed
by the hash the spec carries. The API writes these files
(:mod:`backend.datasets.store`); the API and the workers read and check them
with the helpers here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

STORED_ARRAYS = ("x_train", "y_train", "x_test", "y_test", "class_names")


def content_hash(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over each array's name, dtype, shape and bytes, in a fixed order."""
    digest = hashlib.sha256()
    for name in STORED_ARRAYS:
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def path_for(root: Path, sha256: str) -> Path:
    return root / f"{sha256}.npz"


def load(path: Path) -> dict[str, np.ndarray]:
    """The stored arrays, read without unpickling anything."""
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in STORED_ARRAYS}
