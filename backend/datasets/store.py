"""Dataset arrays on disk, addressed by the sha256 of their content.

A stored dataset is one uncompressed ``.npz`` of plain arrays (``x_train``,
``y_train``, ``x_test``, ``y_test``, ``class_names``) named after its hash, so
two uploads of the same arrays share one file and a worker's cache can be keyed
by the hash the spec carries.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from backend.datasets.parse import Arrays

STORED_ARRAYS = ("x_train", "y_train", "x_test", "y_test", "class_names")


def as_dict(arrays: Arrays) -> dict[str, np.ndarray]:
    return {
        "x_train": np.ascontiguousarray(arrays.x_train),
        "y_train": np.ascontiguousarray(arrays.y_train),
        "x_test": np.ascontiguousarray(arrays.x_test),
        "y_test": np.ascontiguousarray(arrays.y_test),
        "class_names": np.asarray(arrays.class_names, dtype=str),
    }


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


def save(root: Path, arrays: Arrays) -> tuple[str, Path]:
    """Write the arrays under ``root`` (once per content) and return their hash and file."""
    data = as_dict(arrays)
    sha256 = content_hash(data)
    target = path_for(root, sha256)
    if target.exists():
        return sha256, target
    root.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed, so a reader never sees half a file.
    handle, temporary = tempfile.mkstemp(dir=root, suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(out, **data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return sha256, target


def load(path: Path) -> dict[str, np.ndarray]:
    """The stored arrays, read without unpickling anything."""
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in STORED_ARRAYS}
