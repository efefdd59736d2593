"""Resume checkpoints: the model with its optimizer state after a complete epoch.

A run that a stop or a dead worker interrupts continues from its last
checkpoint instead of training again from epoch 0. On disk, under the
artifacts directory:

* ``run-{id}.checkpoint-e{C}.keras``: ``model.save`` after C complete epochs
  (weights, optimizer variables including ``iterations``, compile config);
* ``run-{id}.checkpoint.json``: ``{"epoch": C, "file": ...}``, the pointer.

The model file is written under a temporary name and renamed, then the
pointer is replaced the same way, so a crash at any moment leaves either the
old pair or the new one, never a pointer to a half-written file.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from pathlib import Path
from typing import Callable

import keras

# Registers the project's custom layers and schedules for load_model.
from worker.training import layers, schedules  # noqa: F401

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Resume:
    """Where an interrupted run continues.

    Args:
        epoch: complete epochs in the checkpoint (training continues at this epoch index).
        model_path: the checkpoint's ``.keras`` file.
        history: the stored per-epoch values of epochs ``0..epoch-1`` (for the summary).
        t_offset: the last stored ``t`` (seconds of training before the interruption).
    """

    epoch: int
    model_path: Path
    history: list[dict[str, float | None]] = dataclasses.field(default_factory=list)
    t_offset: float = 0.0


class CheckpointStore:
    """The checkpoint files of one run."""

    def __init__(self, run_id: int, directory: Path):
        self.run_id = run_id
        self.directory = Path(directory)
        self.pointer = self.directory / f"run-{run_id}.checkpoint.json"

    def model_path(self, epoch: int) -> Path:
        return self.directory / f"run-{self.run_id}.checkpoint-e{epoch}.keras"

    def latest(self) -> tuple[int, Path] | None:
        """(complete epochs, model file) of the last checkpoint, or None."""
        try:
            pointer = json.loads(self.pointer.read_text())
            path = self.directory / pointer["file"]
            epoch = int(pointer["epoch"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return (epoch, path) if epoch > 0 and path.is_file() else None

    def save(self, model: keras.Model, epoch: int) -> None:
        """Checkpoint ``model`` after ``epoch`` complete epochs, atomically."""
        self.directory.mkdir(parents=True, exist_ok=True)
        previous = self.latest()
        path = self.model_path(epoch)
        # Keras wants the .keras suffix; same directory, so os.replace is atomic.
        temporary = path.with_name(f"{path.stem}.tmp-{os.getpid()}.keras")
        model.save(temporary)
        os.replace(temporary, path)
        _write_atomically(self.pointer, json.dumps({"epoch": epoch, "file": path.name}))
        if previous is not None and previous[1] != path:
            previous[1].unlink(missing_ok=True)

    def delete(self) -> None:
        """Remove every checkpoint file of the run (its final state is reached)."""
        self.pointer.unlink(missing_ok=True)
        for path in self.directory.glob(f"run-{self.run_id}.checkpoint-e*.keras"):
            path.unlink(missing_ok=True)


class UploadedCheckpoints:
    """Checkpoints saved in a local directory, then uploaded to the API by the run's client.

    The upload is queued behind the epochs already recorded, so the API never
    holds a checkpoint whose epochs' points it lacks; the local file goes
    once it is sent (or superseded by a newer one). A resume on any machine
    downloads the latest from the API.

    Args:
        run: the run's :class:`reglab.client.RunClient`.
        directory: where files wait for their upload (a temporary directory).
    """

    def __init__(self, run, directory: Path):
        self.run = run
        self.directory = Path(directory)

    def save(self, model: keras.Model, epoch: int) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"run-{self.run.run_id}.checkpoint-e{epoch}.keras"
        model.save(path)
        self.run.save_checkpoint(path, epoch)


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    temporary.write_text(text)
    os.replace(temporary, path)


def load(path: Path) -> keras.Model:
    """The checkpointed model, compiled, with its optimizer state (``iterations`` included)."""
    return keras.models.load_model(path, compile=True)


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves a resume checkpoint after complete epochs but the last, at most one per ``interval_s``.

    Must come after the metrics tracker, so an epoch is checkpointed only once
    its points are stored: a resumed run never lacks an epoch's points.

    Args:
        store: where the files go.
        complete: epoch index -> whether that epoch completed and its points were stored.
        interval_s: least seconds between two checkpoints (0: every epoch).
    """

    def __init__(self, store: CheckpointStore, complete: Callable[[int], bool], interval_s: float = 0.0):
        super().__init__()
        self.store = store
        self.complete = complete
        self.interval_s = interval_s
        self.saved_at = -float("inf")

    def on_train_begin(self, logs=None):
        # The first save waits one interval too, so tiny runs never pay for it.
        self.saved_at = time.monotonic() if self.interval_s > 0 else -float("inf")

    def on_epoch_end(self, epoch, logs=None):
        now = time.monotonic()
        if now - self.saved_at < self.interval_s or not self.complete(epoch):
            return
        if epoch + 1 >= self.params.get("epochs", float("inf")):
            # The run ends now: its model is uploaded in a moment and the API deletes
            # checkpoints at the finish, so saving this one would only cost time.
            return
        self.store.save(self.model, epoch + 1)
        self.saved_at = time.monotonic()
