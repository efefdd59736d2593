"""``RegLabCallback``: track a Keras ``fit`` run anywhere (a notebook, your own script) in RegLab.

Example::

    from reglab.keras import RegLabCallback

    model.fit(x, y, validation_data=(xv, yv), epochs=20,
              callbacks=[RegLabCallback(experiment="my CNN", name="dropout 0.3", params={"dropout": 0.3})])

The run appears in the experiment (created on first use) beside trained
runs: in lists, Compare (its ``params`` in ``params_diff``) and live charts.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import keras

from reglab.client import ApiError, Client, Heartbeat, RunClient
from reglab.diagnostics import finite, read_rate, regularization_values
from reglab.layer_tracking import LayerSnapshots

log = logging.getLogger("reglab.keras")

# Metric names the API takes (see PointIn); other characters of a Keras log name become "_".
_ALLOWED = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:/@+-")


def _name(key: str) -> str:
    return "".join(c if c in _ALLOWED else "_" for c in key)[:64] or "metric"


def _read_rate(optimizer: Any) -> float | None:
    try:
        return read_rate(optimizer)
    except Exception:  # an optimizer without a readable rate: record none
        return None


class RegLabCallback(keras.callbacks.Callback):
    """Logs a ``fit`` to RegLab as an external run, and stops it when the run is cancelled there.

    Per epoch it records every value of Keras' ``logs``, the learning rate read
    from the optimizer, ``epoch_time`` and the regularization diagnostics the
    worker records (``reg_loss``, ``data_loss``, ``val_data_loss``,
    ``weight_l2``, ``sparsity``, ``max_col_norm``); per step ``batch_loss`` and
    ``batch_learning_rate``. Writes are queued and sent by a background
    thread, buffered while the API is unreachable, so ``fit`` never waits for
    the network. At the end it uploads the ``.keras`` file and finishes the
    run as ``completed`` (``cancelled`` after a cancel, ``failed`` with the
    exception's text if a training step raised).

    Args:
        experiment: the experiment's name; created on first use.
        name: the run's name.
        params: free-form parameters (JSON values), shown and compared like spec fields.
        tags: labels stored with the run.
        url: the RegLab API (default ``REGLAB_URL``, else http://127.0.0.1:8000).
        token: API token (default ``REGLAB_TOKEN``).
        upload_model: upload the trained ``.keras`` file at the end (default True).
        probe: a few training inputs to measure activity penalties on (optional).
        layer_probe: ``(x, y)``, a fixed batch (e.g. the first 256 validation
            examples) the per-layer activations and gradients are measured on;
            without it the per-layer snapshots hold weights only.
        layer_stats_every: a per-layer snapshot every this many epochs, plus the
            one before training and the last (default 1; 0 for none).
        heartbeat_s: seconds between heartbeats, i.e. how soon a cancel is heard (default 1).
        client: a :class:`reglab.client.Client` to use instead of ``url``/``token``.
    """

    def __init__(
        self,
        experiment: str,
        name: str,
        params: dict[str, Any] | None = None,
        tags: list[str] | None = None,
        url: str | None = None,
        token: str | None = None,
        upload_model: bool = True,
        probe: Any = None,
        layer_probe: tuple[Any, Any] | None = None,
        layer_stats_every: int = 1,
        heartbeat_s: float = 1.0,
        client: Client | None = None,
    ):
        super().__init__()
        if not isinstance(experiment, str) or not experiment.strip():
            raise ValueError(f"experiment must be a non-empty name, got {experiment!r}")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        if params is not None and not isinstance(params, dict):
            raise ValueError(f"params must be a dict, got {type(params).__name__}")
        self.experiment = experiment
        self.name = name
        self.run_params = dict(params or {})
        self.tags = list(tags or [])
        self.client = client or Client(url, token)
        self.upload_model = upload_model
        self.probe = probe
        self.layer_probe = layer_probe
        self.layer_stats_every = layer_stats_every
        self._layers: LayerSnapshots | None = None
        self.heartbeat_s = heartbeat_s
        self.run: RunClient | None = None
        self.state: str | None = None
        self._heartbeat: Heartbeat | None = None
        self._error: BaseException | None = None

    @property
    def run_id(self) -> int | None:
        return None if self.run is None else self.run.run_id

    def on_train_begin(self, logs=None):
        epochs = int(self.params.get("epochs") or 0)
        host = f"{socket.gethostname()} (pid {os.getpid()})"
        try:
            self.run = self.client.create_run(
                self.experiment, self.name, params=self.run_params, tags=self.tags, epochs=epochs, source="keras",
                worker_host=host,
            )  # fmt: skip
            self.run.set_progress(backend=keras.backend.backend())
        except ApiError as error:  # the user's training matters more than its record
            log.error("RegLab at %s: run not created (%s); training goes on untracked", self.client.url, error)
            self.run = None
            return
        self._heartbeat = Heartbeat(self.run, self.heartbeat_s).start()
        self.started = time.perf_counter()
        self.step = 0
        self.completed = 0
        self.seconds: list[float] = []
        self.state = None
        self._error = None
        self._wrap_train_function()
        run = self.run
        self._layers = LayerSnapshots(lambda layers, snapshot: run.record_layers(snapshot, layers),
                                      self.layer_stats_every, probe=self.layer_probe)  # fmt: skip
        self._layers.set_model(self.model)
        self._layers.set_params(self.params)
        self._layers.on_train_begin()

    def _wrap_train_function(self) -> None:
        """Keras calls no callback when a step raises: the wrapped step records the error first."""
        function = getattr(self.model, "train_function", None)
        if function is None or getattr(function, "_reglab_wrapped", False):
            return

        def train_function(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except BaseException as error:
                self._fail(error)
                raise

        train_function._reglab_wrapped = True  # type: ignore[attr-defined]
        train_function._reglab_original = function  # type: ignore[attr-defined]
        self.model.train_function = train_function

    def _unwrap_train_function(self) -> None:
        function = getattr(self.model, "train_function", None)
        original = getattr(function, "_reglab_original", None)
        if original is not None:
            self.model.train_function = original

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.perf_counter()
        self.batch_mean_total = 0.0
        self.step_x: list[int] = []
        self.step_loss: list[float | None] = []
        self.step_rate: list[float | None] = []
        self.step_t: list[float] = []
        self.rate: float | None = None

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0 and self.run is not None:  # once an epoch: reading a schedule's rate evaluates it
            self.rate = _read_rate(self.model.optimizer)

    def on_train_batch_end(self, batch, logs=None):
        if self.run is None:
            return
        logs = logs or {}
        # Keras logs the running mean of the epoch's losses; with equal batches the
        # batch's own loss is k * mean_k - (k - 1) * mean_{k-1}.
        mean = finite(logs.get("loss"))
        loss = None
        if mean is not None:
            total = mean * (batch + 1)
            loss = total - self.batch_mean_total
            self.batch_mean_total = total
        self.step_x.append(self.step)
        self.step_loss.append(loss)
        self.step_rate.append(self.rate)
        self.step_t.append(time.perf_counter() - self.started)
        self.step += 1
        if self.run is not None and self.run.cancel.is_set():
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.run is None:
            return
        logs = dict(logs or {})
        now = time.perf_counter()
        t = now - self.started
        values: dict[str, float | None] = {_name(k): finite(v) for k, v in logs.items()}
        values["learning_rate"] = _read_rate(self.model.optimizer)
        values["epoch_time"] = now - self.epoch_started
        values.update(regularization_values(self.model, logs, self.probe))
        points = [
            {"name": name, "axis": "step", "x": x, "value": value, "t": at}
            for name, series in (("batch_loss", self.step_loss), ("batch_learning_rate", self.step_rate))
            for x, value, at in zip(self.step_x, series, self.step_t)
        ]
        points += [{"name": name, "axis": "epoch", "x": epoch, "value": value, "t": t} for name, value in values.items()]
        self.completed = epoch + 1
        self.seconds.append(values["epoch_time"])
        progress = {"epoch": self.completed, "epoch_seconds": sum(self.seconds) / len(self.seconds)}
        self.run.record_epoch(points, progress)
        if self._layers is not None:
            self._layers.on_epoch_end(epoch)

    def on_train_end(self, logs=None):
        self._unwrap_train_function()
        if self.run is None or self.state is not None:
            return
        if self._layers is not None:
            self._layers.on_train_end()
        state = "cancelled" if self.run.cancel.is_set() else "completed"
        summary: dict[str, Any] = {"param_count": int(self.model.count_params()),
                                   "train_seconds": time.perf_counter() - self.started}  # fmt: skip
        if state == "completed" and self.upload_model:
            with tempfile.TemporaryDirectory(prefix="reglab-") as directory:
                path = Path(directory) / "model.keras"
                try:
                    self.model.save(path)
                    self.run.upload_model(path)
                except Exception as error:  # the run's metrics matter more than its file
                    log.warning("run %s: model not uploaded: %s", self.run.run_id, error)
        self._end(state, summary=summary)

    def _fail(self, error: BaseException) -> None:
        if self.run is None or self.state is not None:
            return
        text = str(error).strip().splitlines()
        message = f"{type(error).__name__}: {text[0] if text else 'no message'}"
        self._error = error
        self._unwrap_train_function()
        self._end("cancelled" if isinstance(error, KeyboardInterrupt) else "failed", error=message)

    def _end(self, state: str, **values: Any) -> None:
        self.state = state
        if self._heartbeat is not None:
            self._heartbeat.stop()
        finished = self.run.finish(state, **values)
        if finished is None:
            log.warning("run %s: the API no longer accepted this run's outcome", self.run.run_id)
