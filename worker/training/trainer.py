"""Train one run spec: data, model, optimizer, schedule, callbacks, evaluation.

No database or Redis here: progress leaves through the ``sink`` and the
cancel request arrives through an ``Event``, so tests and benchmarks train
with an in-memory sink.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from typing import Any

import keras

from reglab.layer_tracking import LayerSnapshots, Send
from reglab.states import CANCELLED, COMPLETED, DIVERGED
from worker.training import checkpoint as checkpoints
from worker.training import datasets, evaluation, optimizers, schedules
from worker.training.callbacks import CancelOnEvent, MetricsTracker, Sink
from worker.training.model import build_model, loss_for

log = logging.getLogger(__name__)

# Training examples the activity penalty is measured on, once per epoch.
PROBE_EXAMPLES = 256


@dataclasses.dataclass
class TrainingResult:
    state: str
    summary: dict[str, Any]
    model: keras.Model
    history: list[dict[str, float | None]]


def compile_model(spec: Any, data: datasets.Dataset) -> tuple[keras.Model, schedules.ScheduleSetup]:
    """The compiled model and the schedule setup for ``spec`` on ``data``."""
    steps = math.ceil(len(data.x_train) / spec.training.batch_size)
    setup = schedules.get(spec, steps)
    model = build_model(spec, data.input_shape, data.classes)
    model.compile(
        loss=loss_for(data.classes),
        optimizer=optimizers.get(spec.optimizer, setup.learning_rate),
        metrics=["accuracy"],
    )
    return model, setup


def train(
    spec: Any,
    sink: Sink,
    cancel: threading.Event | None = None,
    extra_callbacks: list[keras.callbacks.Callback] | None = None,
    track: bool = True,
    checkpoint: "checkpoints.CheckpointStore | checkpoints.UploadedCheckpoints | None" = None,
    checkpoint_interval_s: float = 0.0,
    resume: checkpoints.Resume | None = None,
    read_rates_every_step: bool = False,
    layers: Send | None = None,
) -> TrainingResult:
    """Train ``spec`` (a :class:`reglab.spec.RunSpec`) and evaluate it.

    Args:
        spec: the run spec.
        sink: receives each epoch's points (see :class:`MetricsTracker`).
        cancel: when set, training stops after the current batch (``cancelled``).
        extra_callbacks: appended after the run's own (tests probe the optimizer with them).
        track: False trains without the metrics tracker and cancel check (the
            overhead benchmark's baseline).
        checkpoint: where to save a resume checkpoint after complete epochs (None: none).
        checkpoint_interval_s: least seconds between two checkpoints.
        resume: continue an interrupted run from its checkpoint: its model and
            optimizer state, at its epoch, with the earlier epochs' values.
        read_rates_every_step: record the optimizer's rate read before every batch
            instead of the planned one (see :mod:`worker.training.callbacks`).
        layers: receives the per-layer snapshots (:class:`reglab.layer_tracking.LayerSnapshots`),
            thinned by ``evaluation.layer_stats_every``; None records none.

    Raises:
        LearningRateMismatch: the optimizer's rate or step count left the plan.
    """
    started = time.perf_counter()
    keras.utils.set_random_seed(spec.training.seed)
    data = datasets.load(spec.dataset)
    model, setup = compile_model(spec, data)
    initial_epoch = 0
    if resume is not None:
        # The schedule setup still comes from the spec (callbacks, rate_at); the
        # optimizer, with its iterations and any LearningRateSchedule, from the file.
        try:
            model = checkpoints.load(resume.model_path)
        except Exception as error:  # e.g. written by another Keras version: lose the progress, not the run
            log.warning("checkpoint %s unreadable (%s); training from epoch 0", resume.model_path, error)
            resume = None
    if resume is not None:
        initial_epoch = resume.epoch
        started -= resume.t_offset  # t continues from the interrupted attempt's last point
    cancel = cancel or threading.Event()
    tracker = MetricsTracker(
        sink,
        examples=len(data.x_train),
        batch_size=spec.training.batch_size,
        rate_at=setup.rate_at,
        planned=setup.planned,
        read_every_step=read_rates_every_step,
        probe=data.x_train[:PROBE_EXAMPLES],
        started=started,
        history=resume.history if resume is not None else None,
    )
    # Scheduler callbacks first, as Keras users order them (the tracker reads the rate as batches start).
    callbacks: list[keras.callbacks.Callback] = [*setup.callbacks, keras.callbacks.TerminateOnNaN()]
    if track:
        callbacks += [tracker, CancelOnEvent(cancel)]
        if layers is not None and spec.evaluation.layer_stats_every > 0:
            probe = spec.evaluation.probe_examples
            callbacks.append(LayerSnapshots(
                layers, spec.evaluation.layer_stats_every, probe=(data.x_val[:probe], data.y_val[:probe]),
                initial_epoch=initial_epoch,
            ))  # fmt: skip
        if checkpoint is not None:
            callbacks.append(checkpoints.EpochCheckpoint(checkpoint, tracker.stored, checkpoint_interval_s))
    if spec.training.early_stopping is not None:
        es = spec.training.early_stopping
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=es.monitor,
                patience=es.patience,
                min_delta=es.min_delta,
                restore_best_weights=es.restore_best_weights,
            )
        )
    callbacks += extra_callbacks or []
    model.fit(
        data.x_train,
        data.y_train,
        batch_size=spec.training.batch_size,
        epochs=spec.training.epochs,
        initial_epoch=initial_epoch,
        validation_data=(data.x_val, data.y_val),
        callbacks=callbacks,
        shuffle=True,
        verbose=0,
    )
    if tracker.diverged:
        state = DIVERGED
    elif cancel.is_set():
        state = CANCELLED
    else:
        state = COMPLETED
    summary = {**tracker.summary(), "param_count": model.count_params()}
    if resume is not None:
        summary["resumed_from_epoch"] = resume.epoch
    if state == COMPLETED:
        summary.update(evaluation.evaluate(model, data, spec.evaluation, spec.training.seed))
    summary["train_seconds"] = time.perf_counter() - started
    return TrainingResult(state=state, summary=summary, model=model, history=tracker.epochs)
