"""Uploaded files -> checked, normalized arrays: ``.npz``, CSV and zipped image folders.

Nothing here trusts the file: ``.npz`` members are read with ``allow_pickle=False``
after their headers are checked (no object arrays, bounded decoded size), CSV
goes through pandas, images through Pillow with a bound on their pixels. Every
refusal is a :class:`DatasetRefused` whose message says what to change.
"""

from __future__ import annotations

import dataclasses
import io
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

NPZ_ARRAYS = ("x_train", "y_train", "x_test", "y_test", "class_names")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# Share of the training examples held out as the test set when the upload has none.
TEST_SHARE = 0.2
MIN_TRAIN_EXAMPLES = 3
MAX_IMAGE_PIXELS = 4096 * 4096


class DatasetRefused(ValueError):
    """An upload that cannot become a dataset; ``field`` is the request part to blame."""

    def __init__(self, message: str, field: str = "file"):
        super().__init__(message)
        self.field = field


@dataclasses.dataclass(frozen=True)
class Limits:
    examples: int
    features: int
    classes: int
    decoded_bytes: int


@dataclasses.dataclass
class Arrays:
    """A dataset as stored: features, integer labels in [0, classes), class names."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]

    @property
    def example_shape(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self.x_train.shape[1:])


# ---- the three formats --------------------------------------------------------


def from_npz(path: Path, limits: Limits) -> Arrays:
    """``x_train``, ``y_train`` and optionally ``x_test``, ``y_test``, ``class_names``."""
    try:
        with zipfile.ZipFile(path) as archive:
            headers = {name: _npy_header(archive, name) for name in archive.namelist()}
    except zipfile.BadZipFile:
        raise DatasetRefused("is not a .npz archive (numpy.savez writes one)") from None
    names = {PurePosixPath(name).stem: header for name, header in headers.items()}
    unknown = sorted(set(names) - set(NPZ_ARRAYS))
    if unknown:
        raise DatasetRefused(f"holds arrays {', '.join(unknown)}; a dataset has only {', '.join(NPZ_ARRAYS)}")
    for required in ("x_train", "y_train"):
        if required not in names:
            raise DatasetRefused(f"has no {required} array; it needs x_train and y_train")
    if ("x_test" in names) != ("y_test" in names):
        raise DatasetRefused("has only one of x_test and y_test; give both or neither")
    for name, (shape, dtype) in names.items():
        if dtype.hasobject:
            raise DatasetRefused(f"{name} is an object array; only numeric and string arrays are read (no pickles)")
    decoded = sum(int(np.prod(shape)) * dtype.itemsize for shape, dtype in names.values())
    if decoded > limits.decoded_bytes:
        raise DatasetRefused(f"decodes to {decoded / 2**20:.0f} MiB, more than the {limits.decoded_bytes // 2**20} MiB allowed")
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: np.asarray(data[name]) for name in names}
    class_names = None
    if "class_names" in arrays:
        if arrays["class_names"].ndim != 1 or arrays["class_names"].dtype.kind not in "US":
            raise DatasetRefused("class_names must be a 1-D array of strings")
        class_names = [str(name) for name in arrays["class_names"].tolist()]
    return assemble(arrays["x_train"], arrays["y_train"], arrays.get("x_test"), arrays.get("y_test"), class_names, limits)


def _npy_header(archive: zipfile.ZipFile, name: str) -> tuple[tuple[int, ...], np.dtype]:
    if not name.endswith(".npy"):
        raise DatasetRefused(f"holds {name!r}, which is not a .npy array")
    with archive.open(name) as member:
        # The header alone: shape and dtype, before any data is decoded.
        try:
            version = np.lib.format.read_magic(member)
            readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            if version not in readers:
                raise ValueError(f"format version {version} (numpy.savez writes 1.0)")
            shape, _fortran, dtype = readers[version](member)
        except ValueError as error:
            raise DatasetRefused(f"{name} is not a readable .npy array ({error})") from None
    return shape, dtype


def from_csv(path: Path, label_column: str | None, limits: Limits) -> Arrays:
    """A header row, one label column named by the uploader, numeric features."""
    import pandas as pd

    if not label_column:
        raise DatasetRefused("is required for a CSV: name the column that holds the labels", "label_column")
    try:
        frame = pd.read_csv(path, nrows=limits.examples + 1)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DatasetRefused(f"is not a readable CSV with a header row ({error})") from None
    if label_column not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:20])) + (", ..." if len(frame.columns) > 20 else "")
        raise DatasetRefused(f"column {label_column!r} not found; columns are {shown}", "label_column")
    if len(frame) > limits.examples:
        raise DatasetRefused(f"has more than the {limits.examples} rows allowed")
    labels = frame.pop(label_column)
    if labels.isna().any():
        raise DatasetRefused(f"column {label_column!r} is empty in row {int(labels.isna().to_numpy().argmax()) + 2}")
    for column in frame.columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna()
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise DatasetRefused(
                f"column {column!r} is not numeric: {str(frame[column].iloc[row])[:40]!r} in row {row + 2}"
            )
        frame[column] = values
    if frame.shape[1] == 0:
        raise DatasetRefused(f"has no feature columns besides {label_column!r}")
    features = frame.to_numpy(dtype="float64")
    label_values = labels.to_numpy()
    if labels.dtype.kind == "O":
        label_values = labels.astype(str).to_numpy()
    return assemble(features, label_values, None, None, None, limits)


def from_image_zip(path: Path, color: str, size: int | None, limits: Limits) -> Arrays:
    """``class_name/*.png|jpg``, optionally under ``train/`` and ``test/``: decoded, converted, resized."""
    from PIL import Image, UnidentifiedImageError

    mode = {"grayscale": "L", "rgb": "RGB"}.get(color)
    if mode is None:
        raise DatasetRefused(f"must be grayscale or rgb, got {color!r}", "color")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise DatasetRefused("is not a .zip archive") from None
    with archive:
        members = [info for info in archive.infolist() if _is_image(info)]
        if not members:
            raise DatasetRefused("holds no class_name/*.png or *.jpg images")
        if len(members) > limits.examples:
            raise DatasetRefused(f"holds {len(members)} images, more than the {limits.examples} allowed")
        if sum(info.file_size for info in members) > limits.decoded_bytes:
            raise DatasetRefused(f"unpacks to more than the {limits.decoded_bytes // 2**20} MiB allowed")
        placed = [(_split_and_class(info.filename), info) for info in members]
        class_names = sorted({label for (_, label), _ in placed})
        index = {name: i for i, name in enumerate(class_names)}
        images: dict[str, list[np.ndarray]] = {"train": [], "test": []}
        labels: dict[str, list[int]] = {"train": [], "test": []}
        for (split, label), info in placed:
            try:
                with Image.open(io.BytesIO(archive.read(info))) as image:
                    if image.width * image.height > MAX_IMAGE_PIXELS:
                        raise DatasetRefused(f"{info.filename} has {image.width}x{image.height} pixels, too many")
                    size = size or max(image.width, image.height)
                    pixels = image.convert(mode).resize((size, size), Image.Resampling.BILINEAR)
                    images[split].append(np.asarray(pixels, dtype="uint8"))
            except (UnidentifiedImageError, OSError) as error:
                raise DatasetRefused(f"{info.filename} is not a readable image ({error})") from None
            labels[split].append(index[label])
    if not images["train"]:
        raise DatasetRefused("has a test/ folder but no training images")
    x_test = np.stack(images["test"]) if images["test"] else None
    y_test = np.asarray(labels["test"]) if images["test"] else None
    return assemble(np.stack(images["train"]), np.asarray(labels["train"]), x_test, y_test, class_names, limits)


def _is_image(info: zipfile.ZipInfo) -> bool:
    parts = PurePosixPath(info.filename).parts
    hidden = any(part.startswith((".", "__MACOSX")) for part in parts)
    return not info.is_dir() and not hidden and len(parts) >= 2 and info.filename.lower().endswith(IMAGE_SUFFIXES)


def _split_and_class(filename: str) -> tuple[str, str]:
    """``train/cat/1.png`` -> (train, cat); ``cat/1.png`` and ``top/cat/1.png`` -> (train, cat)."""
    parts = PurePosixPath(filename).parts[:-1]
    split = "test" if "test" in parts[:-1] else "train"
    return split, parts[-1]


# ---- checks shared by every format ----------------------------------------------


def assemble(
    x_train: Any,
    y_train: Any,
    x_test: Any | None,
    y_test: Any | None,
    class_names: list[str] | None,
    limits: Limits,
) -> Arrays:
    """Check shapes, values and labels; map string labels; hold out a test set when none is given."""
    x_train = _features("x_train", x_train)
    y_train = _labels_shape("y_train", y_train, len(x_train))
    if x_test is not None:
        x_test = _features("x_test", x_test)
        if x_test.ndim != x_train.ndim:
            raise DatasetRefused(f"x_train has {x_train.ndim} dimensions but x_test has {x_test.ndim}")
        if x_test.shape[1:] != x_train.shape[1:]:
            raise DatasetRefused(
                f"x_train's examples have shape {x_train.shape[1:]} but x_test's have {x_test.shape[1:]}"
            )
        y_test = _labels_shape("y_test", y_test, len(x_test))
    examples = len(x_train) + (0 if x_test is None else len(x_test))
    if examples > limits.examples:
        raise DatasetRefused(f"has {examples} examples, more than the {limits.examples} allowed")
    features = int(np.prod(x_train.shape[1:]))
    if features > limits.features:
        raise DatasetRefused(f"has {features} values per example, more than the {limits.features} allowed")
    labels = [y_train] + ([] if y_test is None else [y_test])
    names, labels = _encode_labels(labels, class_names)
    if len(names) > limits.classes:
        raise DatasetRefused(f"has {len(names)} classes, more than the {limits.classes} allowed")
    y_train = labels[0]
    if x_test is None:
        held_out = max(1, round(len(x_train) * TEST_SHARE))
        x_train, x_test = x_train[:-held_out], x_train[-held_out:]
        y_train, y_test = y_train[:-held_out], y_train[-held_out:]
    else:
        y_test = labels[1]
    if len(x_train) < MIN_TRAIN_EXAMPLES:
        raise DatasetRefused(f"has {len(x_train)} training examples; at least {MIN_TRAIN_EXAMPLES} are needed")
    return Arrays(x_train, y_train, x_test, y_test, names)


def _features(name: str, x: Any) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise DatasetRefused(f"{name} must be numeric, got {x.dtype}")
    if x.ndim < 2:
        raise DatasetRefused(f"{name} must have one row per example and at least one feature, got shape {x.shape}")
    if len(x) == 0 or x[0].size == 0:
        raise DatasetRefused(f"{name} is empty (shape {x.shape})")
    if x.dtype == np.uint8:
        return x
    converted = x.astype("float32")
    if not np.isfinite(converted).all():
        row = int(np.flatnonzero(~np.isfinite(converted.reshape(len(x), -1)).all(axis=1))[0])
        raise DatasetRefused(f"{name} holds NaN or inf (example {row}, counting from 0, or a value beyond float32)")
    return converted


def _labels_shape(name: str, y: Any, rows: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DatasetRefused(f"{name} must be one label per example, got shape {y.shape}")
    if len(y) != rows:
        raise DatasetRefused(f"{name} has {len(y)} labels for {rows} examples")
    return y


def _encode_labels(labels: list[np.ndarray], class_names: list[str] | None) -> tuple[list[str], list[np.ndarray]]:
    """Integer labels must lie in [0, classes); string labels are mapped to sorted class indices."""
    kinds = {y.dtype.kind for y in labels}
    if kinds <= {"U", "S", "O"}:
        texts = [y.astype(str) for y in labels]
        names = sorted(set(np.concatenate(texts).tolist()))
        if class_names is not None and set(class_names) != set(names):
            raise DatasetRefused("class_names must list the string labels exactly when labels are strings")
        names = class_names or names
        index = {label: i for i, label in enumerate(names)}
        encoded = [np.asarray([index[t] for t in y.tolist()], dtype="int32") for y in texts]
    elif kinds <= {"i", "u", "b"}:
        top = max(int(y.max()) for y in labels)
        low = min(int(y.min()) for y in labels)
        classes = len(class_names) if class_names is not None else top + 1
        if low < 0 or top >= classes:
            bad = low if low < 0 else top
            raise DatasetRefused(f"labels must be integers in [0, {classes}), got {bad}")
        names = class_names or [str(i) for i in range(classes)]
        encoded = [y.astype("int32") for y in labels]
    else:
        raise DatasetRefused(f"labels must be integers or strings, got {labels[0].dtype}")
    if len(names) < 2:
        raise DatasetRefused(f"needs at least 2 classes, got {len(names)}")
    return names, encoded
