"""Per-layer snapshots during ``fit``: one before the first batch, one after each kept epoch.

The worker's trainer and :class:`reglab.keras.RegLabCallback` both add
:class:`LayerSnapshots`, so a run trained anywhere records the same snapshots
(:mod:`reglab.layer_stats` computes them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import keras

from reglab.layer_stats import LayerRecorder, should_record

log = logging.getLogger(__name__)

# send(layer descriptions or None, snapshot): the descriptions come with the first snapshot of a fit.
Send = Callable[[list[dict[str, Any]] | None, dict[str, Any]], None]


class LayerSnapshots(keras.callbacks.Callback):
    """Takes a snapshot at ``epoch: -1`` and after every ``every``-th epoch and the last, and sends it.

    A snapshot that fails (an unusual layer, a loss the tape cannot follow) is
    logged once and recording stops: the training matters more than its record.

    Args:
        send: receives ``(layers, snapshot)``; ``layers`` is None after the first call.
        every: ``evaluation.layer_stats_every`` (0 records nothing).
        probe: ``(x, y)``, the probe batch activations and gradients are measured
            on; None records weights only.
        loss: the training loss (default: the model's compiled loss).
        initial_epoch: the epoch a resumed fit starts at; the ``-1`` snapshot is
            then already stored by the first attempt.
    """

    def __init__(self, send: Send, every: int = 1, probe: tuple[Any, Any] | None = None, loss: Any = None,
                 initial_epoch: int = 0):  # fmt: skip
        super().__init__()
        if every < 0:
            raise ValueError(f"every must be 0 or more, got {every!r}")
        self.send = send
        self.every = every
        self.probe = probe
        self.loss = loss
        self.initial_epoch = initial_epoch
        self.recorder: LayerRecorder | None = None
        self.described = False
        self.last_recorded: int | None = None
        self.last_seen: int | None = None

    def on_train_begin(self, logs=None):
        self.recorder, self.described, self.last_recorded, self.last_seen = None, False, None, None
        if self.every <= 0:
            return
        try:
            self.recorder = LayerRecorder(self.model, self.loss)
        except Exception as error:  # noqa: BLE001 - see the class docstring
            log.warning("no layer statistics for this run: %s", error)
            return
        if self.initial_epoch == 0:
            self._record(-1)

    def on_epoch_end(self, epoch, logs=None):
        self.last_seen = epoch
        epochs = self.params.get("epochs") if self.params else None
        last = int(epochs) - 1 if epochs else None
        if should_record(epoch, self.every, last):
            self._record(epoch)

    def on_train_end(self, logs=None):
        # Early stopping or a cancel ends before the planned last epoch: its snapshot is kept all the same.
        if self.last_seen is not None and self.last_recorded != self.last_seen:
            self._record(self.last_seen)

    def _record(self, epoch: int) -> None:
        if self.recorder is None:
            return
        x, y = self.probe if self.probe is not None else (None, None)
        try:
            snapshot = self.recorder.snapshot(epoch, x, y)
            layers = None if self.described else self.recorder.describe()
        except Exception as error:  # noqa: BLE001 - see the class docstring
            log.warning("layer statistics stopped at epoch %s: %s", epoch, error)
            self.recorder = None
            return
        self.send(layers, snapshot)
        self.described = True
        self.last_recorded = epoch
