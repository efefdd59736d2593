"""Import TensorBoard event files as external runs, read with TensorBoard's own reader.

Each run directory becomes one run: a directory with event files, where the
``train/`` and ``validation/`` directories that ``keras.callbacks.TensorBoard``
writes count as one run (validation tags get the ``val_`` prefix). Keras'
``epoch_*`` tags go on the epoch axis under their Keras log names
(``epoch_loss`` -> ``loss``, ``val_loss``), every other tag on the step axis.
A run is keyed by a hash of its directory's absolute path, so importing the
same directory again changes nothing. Kernel histograms (``histogram_freq``)
become per-layer weight snapshots, one per epoch (:mod:`reglab.tensorboard_layers`).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reglab.client import Client
from reglab.tensorboard_layers import from_proto, from_tensor, kernel_layer, layer_snapshots, model_layers

log = logging.getLogger("reglab.tensorboard")

EVENT_FILE = "events.out.tfevents.*"
SPLITS = {"train": "", "validation": "val_", "eval": "val_"}
FINAL = {"completed", "failed", "cancelled", "diverged"}


@dataclass
class TensorBoardRun:
    directory: Path
    name: str
    points: list[dict[str, Any]] = field(default_factory=list)
    layers: list[dict[str, Any]] = field(default_factory=list)
    snapshots: list[dict[str, Any]] = field(default_factory=list)

    @property
    def source_key(self) -> str:
        return "tensorboard:" + hashlib.sha256(str(self.directory.resolve()).encode()).hexdigest()[:40]

    @property
    def epochs(self) -> int:
        return 1 + max((p["x"] for p in self.points if p["axis"] == "epoch"), default=-1)


def run_directories(root: Path) -> dict[Path, list[tuple[Path, str]]]:
    """{run directory: [(event directory, name prefix)]} under ``root``."""
    runs: dict[Path, list[tuple[Path, str]]] = {}
    for directory in sorted({path.parent for path in root.rglob(EVENT_FILE)}):
        if directory.name in SPLITS and directory != root:
            runs.setdefault(directory.parent, []).append((directory, SPLITS[directory.name]))
        else:
            runs.setdefault(directory, []).append((directory, ""))
    return runs


def metric_name(tag: str, prefix: str) -> tuple[str, str]:
    """(name, axis) of a TensorBoard tag, in the names the worker and the callback log."""
    if tag.startswith("epoch_"):
        return _clean(prefix + tag.removeprefix("epoch_")), "epoch"
    return _clean(prefix + tag), "step"


def _clean(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.:/@+-]", "_", name)[:64] or "metric"


def scalars(directory: Path) -> Iterator[tuple[str, int, float, float]]:
    """(tag, step, value, wall time) of every scalar in ``directory``'s event files (TF1 scalars and TF2 tensors)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    accumulator = EventAccumulator(str(directory), size_guidance={"scalars": 0, "tensors": 0})
    accumulator.Reload()
    tags = accumulator.Tags()
    for tag in tags.get("scalars", []):
        for event in accumulator.Scalars(tag):
            yield tag, int(event.step), float(event.value), float(event.wall_time)
    for tag in tags.get("tensors", []):
        for event in accumulator.Tensors(tag):
            value = tensor_util.make_ndarray(event.tensor_proto)
            if value.size == 1 and value.dtype.kind in "fiu":
                yield tag, int(event.step), float(value.reshape(())), float(event.wall_time)


def histograms(directory: Path) -> tuple[list[tuple[str, int, Any, Any]], dict[str, dict[str, Any]]]:
    """((tag, step, edges, counts) of every kernel histogram, {layer: description} of Keras 3's model config)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    accumulator = EventAccumulator(str(directory), size_guidance={"histograms": 0, "tensors": 0})
    accumulator.Reload()
    tags = accumulator.Tags()
    found, known = [], {}
    for tag in tags.get("histograms", []):
        if kernel_layer(tag) is not None:
            for event in accumulator.Histograms(tag):
                if (hist := from_proto(event.histogram_value)) is not None:
                    found.append((tag, int(event.step), *hist))
    for tag in tags.get("tensors", []):
        if tag == "keras":
            for event in accumulator.Tensors(tag)[:1]:
                value = tensor_util.make_ndarray(event.tensor_proto)
                if value.size == 1 and isinstance(value.reshape(())[()], bytes):
                    known = model_layers(value.reshape(())[()])
        elif kernel_layer(tag) is not None:
            for event in accumulator.Tensors(tag):
                if (hist := from_tensor(tensor_util.make_ndarray(event.tensor_proto))) is not None:
                    found.append((tag, int(event.step), *hist))
    return found, known


def read_run(run_dir: Path, parts: list[tuple[Path, str]], root: Path) -> TensorBoardRun:
    name = str(run_dir.relative_to(root)) if run_dir != root else run_dir.resolve().name
    run = TensorBoardRun(run_dir, name)
    rows = [(metric_name(tag, prefix), step, value, wall) for directory, prefix in parts
            for tag, step, value, wall in scalars(directory)]  # fmt: skip
    start = min((wall for *_, wall in rows), default=0.0)
    latest: dict[tuple[str, str, int], dict[str, Any]] = {}
    for (name_, axis), step, value, wall in rows:
        # A step written twice (a restarted TensorBoard run) keeps its last value, as TensorBoard shows it.
        latest[(name_, axis, step)] = {"name": name_, "axis": axis, "x": step, "value": value, "t": wall - start}
    run.points = sorted(latest.values(), key=lambda p: (p["axis"], p["x"], p["name"]))
    # Keras writes histograms with the training split only; other splits' would be the same weights.
    found, known = [], {}
    for directory, prefix in parts:
        if prefix == "":
            hists, config = histograms(directory)
            found += hists
            known = known or config
    run.layers, run.snapshots = layer_snapshots(found, known)
    return run


def import_tensorboard(root: Path, experiment: str | None = None, client: Client | None = None) -> list[dict[str, Any]]:
    """Import every run directory under ``root``; returns one ``{"run_id", "name", "points", "created"}`` per run."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory")
    client = client or Client()
    experiment = experiment or f"TensorBoard: {root.resolve().name}"
    results = []
    for run_dir, parts in run_directories(root).items():
        tb_run = read_run(run_dir, parts, root)
        if not tb_run.points:
            continue
        run = client.create_run(
            experiment, tb_run.name, params={"logdir": tb_run.name}, epochs=tb_run.epochs, source="tensorboard",
            source_key=tb_run.source_key,
        )  # fmt: skip
        state = client.json("GET", f"/api/runs/{run.run_id}")["state"]
        if not run.created and state in FINAL:
            results.append({"run_id": run.run_id, "name": tb_run.name, "points": 0, "snapshots": 0, "created": False})
            continue
        run.record_epoch(tb_run.points, {"epoch": tb_run.epochs})
        for i, snapshot in enumerate(tb_run.snapshots):
            run.record_layers(snapshot, tb_run.layers if i == 0 else None)
        run.flush()
        run.finish("completed")
        results.append({"run_id": run.run_id, "name": tb_run.name, "points": len(tb_run.points),
                        "snapshots": len(tb_run.snapshots), "created": run.created})  # fmt: skip
    return results
