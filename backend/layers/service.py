"""Ingest and reads of one run's layer snapshots."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from backend import events
from backend.db import get_engine
from backend.errors import InvalidInput, NotFound, field_error, shown
from backend.layers import store
from backend.layers.render import layers_json
from backend.layers.schemas import MAX_EPOCH
from backend.runs.models import Run
from backend.trainer.service import hold_attempt

MAX_EPOCHS_ASKED = 1000
EPOCH = re.compile(r"-?[0-9]{1,7}")


def ingest(run_id: int, attempt: int, snapshots: list[dict[str, Any]], descriptions: list[dict[str, Any]] | None) -> int:
    """Store the snapshots while the run is ``attempt``'s to train (404, 409 otherwise); announce each epoch live."""
    with get_engine().begin() as connection:
        hold_attempt(connection, run_id, attempt)
        epochs = store.write_snapshots(connection, run_id, snapshots, descriptions)
    events.publish_layers(run_id, epochs)
    return len(epochs)


def parse_epochs(text: str | None) -> list[int] | None:
    """``"-1,0,9"`` -> ``[-1, 0, 9]``; None or blank -> None (all); InvalidInput naming ``epochs`` otherwise."""
    if text is None or not text.strip():
        return None
    parts = [part.strip() for part in text.split(",")]
    if len(parts) > MAX_EPOCHS_ASKED:
        raise InvalidInput([field_error("epochs", f"must name at most {MAX_EPOCHS_ASKED} epochs, got {len(parts)}", "too_long")])
    epochs = []
    for part in parts:
        # ASCII digits only: int() also reads "٣" and "1_0".
        epoch = int(part) if EPOCH.fullmatch(part) else None
        if epoch is None or not -1 <= epoch <= MAX_EPOCH:
            raise InvalidInput([field_error(
                "epochs", f"must be comma-separated epochs from -1 to {MAX_EPOCH} like -1,0,9, got {shown(part, 40)}",
                "value_error",
            )])  # fmt: skip
        epochs.append(epoch)
    return sorted(set(epochs))


def run_layers(run_id: int, epochs: list[int] | None) -> dict[str, Any]:
    """``{"layers": [descriptions], "snapshots": [{"epoch", "layers"}]}`` of one run; NotFound if it does not exist."""
    with get_engine().connect() as connection:
        if connection.scalar(select(Run.id).where(Run.id == run_id)) is None:
            raise NotFound(f"run {run_id} not found")
        descriptions = store.read_descriptions(connection, [run_id]).get(run_id, [])
        snapshots = store.read_snapshots(connection, run_id, epochs)
    return {
        "layers": sorted(descriptions, key=lambda layer: layer["index"]),
        "snapshots": [{"epoch": epoch, "layers": layers_json(snapshot)} for epoch, snapshot in snapshots],
    }

