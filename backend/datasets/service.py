"""Creating, listing and deleting uploaded datasets."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.datasets import catalog, parse, store
from backend.datasets.models import Dataset
from backend.errors import Conflict, InvalidInput, field_error
from backend.runs.models import Run
from backend.settings import get_settings

FORMATS = {".npz": "npz", ".csv": "csv", ".zip": "images"}
CHUNK = 1 << 20


def limits() -> parse.Limits:
    settings = get_settings()
    return parse.Limits(
        examples=settings.MAX_DATASET_EXAMPLES,
        features=settings.MAX_DATASET_FEATURES,
        classes=settings.MAX_DATASET_CLASSES,
        # What the arrays may take once decoded: generous against compression, still bounded.
        decoded_bytes=4 * settings.MAX_DATASET_MB * 2**20,
    )


def spool(upload: BinaryIO, suffix: str) -> Path:
    """Copy the upload to a temporary file, refusing it as soon as it passes REGLAB_MAX_DATASET_MB."""
    settings = get_settings()
    cap = settings.MAX_DATASET_MB * 2**20
    settings.datasets_dir.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=settings.datasets_dir, suffix=f".upload{suffix}")
    written = 0
    try:
        with os.fdopen(handle, "wb") as out:
            while chunk := upload.read(CHUNK):
                written += len(chunk)
                if written > cap:
                    raise InvalidInput(
                        [field_error("file", f"is larger than REGLAB_MAX_DATASET_MB = {settings.MAX_DATASET_MB} MiB")]
                    )
                out.write(chunk)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def create_dataset(
    session: Session,
    upload: BinaryIO,
    filename: str,
    name: str | None,
    label_column: str | None = None,
    color: str = "grayscale",
    image_size: int | None = None,
) -> Dataset:
    """Parse and check an uploaded file, store its arrays by hash and record it."""
    suffix = Path(filename or "").suffix.lower()
    kind = FORMATS.get(suffix)
    if kind is None:
        raise InvalidInput([field_error("file", f"must be a .npz, .csv or .zip of image folders, got {filename[:80]!r}")])
    name = (name or Path(filename).stem).strip()[:200]
    if not name:
        raise InvalidInput([field_error("name", "must not be empty")])
    if session.scalar(select(Dataset.id).where(Dataset.name == name)) is not None:
        raise Conflict(f"a dataset named {name!r} exists already; pick another name")
    path = spool(upload, suffix)
    try:
        if kind == "npz":
            arrays = parse.from_npz(path, limits())
        elif kind == "csv":
            arrays = parse.from_csv(path, label_column, limits())
        else:
            arrays = parse.from_image_zip(path, color, image_size, limits())
    except parse.DatasetRefused as refused:
        raise InvalidInput([field_error(refused.field, str(refused))]) from None
    finally:
        path.unlink(missing_ok=True)
    sha256, stored = store.save(get_settings().datasets_dir, arrays)
    dataset = Dataset(
        name=name,
        sha256=sha256,
        format=kind,
        filename=Path(filename).name[:255],
        example_shape=list(arrays.example_shape),
        classes=len(arrays.class_names),
        class_names=arrays.class_names,
        train_size=len(arrays.x_train),
        test_size=len(arrays.x_test),
        dtype=str(arrays.x_train.dtype),
        size_bytes=stored.stat().st_size,
    )
    session.add(dataset)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"a dataset named {name!r} exists already; pick another name") from None
    catalog.forget()
    return dataset


def list_datasets(session: Session) -> list[Dataset]:
    return list(session.scalars(select(Dataset).order_by(Dataset.id.desc())))


def runs_using(session: Session, dataset: Dataset, limit: int = 20) -> list[int]:
    name = Run.spec["dataset"]["name"].as_string()
    return list(session.scalars(select(Run.id).where(name == dataset.ref).order_by(Run.id).limit(limit)))


def delete_dataset(session: Session, dataset: Dataset) -> None:
    """Delete a dataset no run uses; its file goes when no other record shares the content."""
    users = runs_using(session, dataset)
    if users:
        shown = ", ".join(map(str, users)) + (" and more" if len(users) == 20 else "")
        raise Conflict(f"dataset {dataset.name!r} is used by runs {shown}; delete those runs first")
    sha256 = dataset.sha256
    session.delete(dataset)
    session.commit()
    catalog.forget()
    if session.scalar(select(Dataset.id).where(Dataset.sha256 == sha256)) is None:
        store.path_for(get_settings().datasets_dir, sha256).unlink(missing_ok=True)


def dataset_file(dataset: Dataset) -> Path:
    return store.path_for(get_settings().datasets_dir, dataset.sha256)


def dataset_out(dataset: Dataset) -> dict[str, Any]:
    return {
        "id": dataset.id,
        "ref": dataset.ref,
        "name": dataset.name,
        "format": dataset.format,
        "filename": dataset.filename,
        "shape": dataset.example_shape,
        "classes": dataset.classes,
        "class_names": dataset.class_names,
        "train": dataset.train_size,
        "test": dataset.test_size,
        "dtype": dataset.dtype,
        "size_bytes": dataset.size_bytes,
        "sha256": dataset.sha256,
        "created_at": dataset.created_at,
    }



