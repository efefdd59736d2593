"""Writing dataset arrays to disk, addressed by the sha256 of their content.

The layout, the hash and the reader are shared with the workers and live in
:mod:`reglab.datasets`; this module adds what only the API does: write them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from backend.datasets.parse import Arrays
from reglab.datasets import STORED_ARRAYS, content_hash, load, path_for  # noqa: F401  (the API reads them from here too)


def as_dict(arrays: Arrays) -> dict[str, np.ndarray]:
    return {
        "x_train": np.ascontiguousarray(arrays.x_train),
        "y_train": np.ascontiguousarray(arrays.y_train),
        "x_test": np.ascontiguousarray(arrays.x_test),
        "y_test": np.ascontiguousarray(arrays.y_test),
        "class_names": np.asarray(arrays.class_names, dtype=str),
    }


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
