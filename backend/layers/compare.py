"""GET /api/compare/layers: one statistic of every layer of several runs at one epoch, by run or by seed group,
and each layer's histograms on common edges.

Four queries whatever the number of runs (the runs, their layer descriptions,
their stored epochs, and the snapshots of the chosen epoch); only the chosen
epoch's rows are read and decoded, since the epoch is a key column.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from sqlalchemy import select

from backend.analysis import bands, grouping
from backend.analysis.service import parse_group_by, replicates_of
from backend.compare.params import params_diff
from backend.db import get_engine
from backend.errors import InvalidInput, NotFound, field_error, shown
from backend.experiments.models import Experiment
from backend.layers import codec, store
from backend.layers.codec import COLUMN, EXTRA, HAS_EXTRA, HAS_HIST, PRESENT, TENSORS, UNIFORM
from backend.layers.rebin import common_edges, nested_grid, nested_params, rebin, rebin_nested
from backend.layers.schemas import MAX_EPOCH
from backend.runs.models import Run

EPOCH = re.compile(r"-?[0-9]{1,7}")  # ASCII digits only: int() also reads "٣" and "1_0"
# The statistics a depth profile can show, by tensor.
STATS_OF = {tensor: (*codec.STATS, *((EXTRA[tensor],) if tensor in EXTRA else ())) for tensor in TENSORS}


def parse_epoch(text: str) -> int | None:
    """``"last"`` -> None (each run's last snapshot), ``"-1"`` or ``"N"`` -> that epoch; 422 naming ``epoch``."""
    value = text.strip()
    if value == "last":
        return None
    if EPOCH.fullmatch(value) and -1 <= (epoch := int(value)) <= MAX_EPOCH:
        return epoch
    raise InvalidInput([field_error("epoch", f"must be last, -1 (before training) or an epoch from 0 to {MAX_EPOCH}, "
                                             f"got {shown(text, 40)}")])  # fmt: skip


def check_stat(tensor: str, stat: str) -> None:
    if stat not in STATS_OF[tensor]:
        allowed = ", ".join(STATS_OF[tensor])
        raise InvalidInput([field_error("stat", f"must be one of {allowed} for {tensor}, got {shown(stat, 40)}")])


def _layer_order(descriptions: dict[int, list[dict[str, Any]]], snapshots: dict[int, tuple[int, codec.Snapshot]],
                 run_ids: list[int]) -> list[dict[str, Any]]:  # fmt: skip
    """Every layer name of the runs, matched by name, from the input side: by the descriptions' index where a run
    has them, else in the snapshot's order; the first run naming a layer gives its type."""
    found: dict[str, dict[str, Any]] = {}
    for run_id in run_ids:
        described = sorted(descriptions.get(run_id, []), key=lambda layer: layer["index"])
        names = [layer["name"] for layer in described] or (snapshots[run_id][1].names if run_id in snapshots else [])
        types = {layer["name"]: layer.get("type") for layer in described}
        for position, name in enumerate(names):
            if name not in found:
                found[name] = {"name": name, "type": types.get(name), "order": (position, len(found))}
            elif found[name]["type"] is None:
                found[name]["type"] = types.get(name)
    ordered = sorted(found.values(), key=lambda layer: layer["order"])
    return [{"index": i, "name": layer["name"], "type": layer["type"]} for i, layer in enumerate(ordered)]


def _profile(snapshot: codec.Snapshot | None, names: list[str], tensor: int, stat: str) -> np.ndarray:
    """The statistic of each named layer (NaN where the run lacks the layer, the tensor or the value)."""
    out = np.full(len(names), np.nan)
    if snapshot is None:
        return out
    column = COLUMN["extra"] if stat in EXTRA.values() else COLUMN[stat]
    need = PRESENT | (HAS_EXTRA if stat in EXTRA.values() else 0)
    row_of = {name: i for i, name in enumerate(snapshot.names)}
    for j, name in enumerate(names):
        i = row_of.get(name)
        if i is not None and snapshot.flags[i, tensor] & need == need:
            out[j] = snapshot.floats[i, tensor, column]
    return out


def _groups(run_ids: list[int], rows: dict[int, Any], group_by: list[str] | None) -> list[grouping.Group]:
    """The runs' groups as GET /api/compare groups them (``group_by`` None: by what differs but the seeds)."""
    specs = {run_id: rows[run_id].spec for run_id in run_ids}
    if group_by is None:
        values = params_diff(specs)
        # Runs from several experiments: a field any of them replicates over is a replicate field.
        replicates = list(dict.fromkeys(f for row in rows.values() for f in replicates_of(row.replicates)))
        factors = grouping.factor_fields(values, replicates)
    else:
        factors = group_by
        values = {f: {run_id: grouping.get_path(spec, f) for run_id, spec in specs.items()} for f in factors}
    return grouping.group_runs(run_ids, values, factors)


def compare_layers(
    run_ids: list[int], epoch_text: str, tensor: str, stat: str, group_by_text: str, layer: str | None = None
) -> dict[str, Any]:
    """The answer of GET /api/compare/layers (see the module docstring and docs/layers-api.md)."""
    epoch = parse_epoch(epoch_text)
    check_stat(tensor, stat)
    group_by = parse_group_by(group_by_text)
    with get_engine().connect() as connection:
        found = connection.execute(
            select(Run.id, Run.name, Run.spec, Experiment.replicates)
            .join(Experiment, Experiment.id == Run.experiment_id)
            .where(Run.id.in_(run_ids))
        ).all()
        rows = {row.id: row for row in found}
        missing = [run_id for run_id in run_ids if run_id not in rows]
        if missing:
            raise NotFound(f"{'run' if len(missing) == 1 else 'runs'} {', '.join(map(str, missing))} not found")
        descriptions = store.read_descriptions(connection, run_ids)
        epochs = store.stored_epochs(connection, run_ids)
        snapshots = store.read_epoch(connection, run_ids, epoch)
    t = TENSORS.index(tensor)
    layers = _layer_order(descriptions, snapshots, run_ids)
    names = [entry["name"] for entry in layers]
    values = np.stack([_profile(snapshots.get(run_id, (None, None))[1], names, t, stat) for run_id in run_ids])
    hist_names = names if layer is None else [name for name in names if name == layer]
    histograms = _histograms(run_ids, snapshots, hist_names, t)

    if group_by == "none":
        profiles = [
            {"key": f"run:{run_id}", "label": rows[run_id].name, "run_ids": [run_id],
             "epoch": snapshots[run_id][0] if run_id in snapshots else None, "values": values[i]}
            for i, run_id in enumerate(run_ids)
        ]  # fmt: skip
        entries = [(f"run:{run_id}", rows[run_id].name, [i]) for i, run_id in enumerate(run_ids)]
    else:
        groups = _groups(run_ids, rows, group_by)
        row_of = {run_id: i for i, run_id in enumerate(run_ids)}
        profiles, entries = [], []
        for group in groups:
            members = [row_of[run_id] for run_id in group.run_ids]
            mean, low, high, _ = bands.column_band(values[members], "ci95")
            at = [snapshots[run_id][0] for run_id in group.run_ids if run_id in snapshots]
            profiles.append({"key": f"group:{group.label}", "label": group.label, "run_ids": group.run_ids,
                             "epoch": max(at) if at else None, "values": mean, "low": low, "high": high})  # fmt: skip
            entries.append((f"group:{group.label}", group.label, members))
    return {
        "tensor": tensor,
        "stat": stat,
        "epoch": epoch_text.strip(),
        "layers": layers,
        "epochs": epochs,
        "profiles": profiles,
        "histograms": _hist_answer(histograms, entries),
    }


def _histograms(run_ids: list[int], snapshots: dict[int, tuple[int, codec.Snapshot]], names: list[str], tensor: int):
    """``(edges, {name: (runs, bins) counts with NaN rows for runs lacking it}, exact)`` on one grid common to
    every layer and run; edges None when no run has a histogram; ``exact`` when the grids were nested."""
    found: dict[str, list[tuple[int, int, codec.Snapshot]]] = {}
    wanted = set(names)
    need = PRESENT | HAS_HIST
    for i, run_id in enumerate(run_ids):
        if run_id not in snapshots:
            continue
        snapshot = snapshots[run_id][1]
        rows = np.nonzero(snapshot.flags[:, tensor] & need == need)[0].tolist()
        for row in rows:
            if (name := snapshot.names[row]) in wanted:
                found.setdefault(name, []).append((i, row, snapshot))
    every = [hist for hists in found.values() for hist in hists]
    if not every:
        return None, {}, False
    # The recorder's grids: uniform, so the common grid follows from each one's first and last edge and bins.
    uniform = all(s.flags[row, tensor] & UNIFORM for _, row, s in every)
    nested = None
    if uniform:
        lo = np.array([s.floats[row, tensor, COLUMN["lo"]] for _, row, s in every], dtype=np.float64)
        hi = np.array([s.floats[row, tensor, COLUMN["hi"]] for _, row, s in every], dtype=np.float64)
        bins = np.array([s.bins[row, tensor] for _, row, s in every], dtype=np.float64)
        nested = nested_params(lo, hi, bins)
    if nested is not None:
        start, coarse, size = nested
        edges = start + coarse * np.arange(size + 1, dtype=np.float64)
    else:
        edges = common_edges([s.hist_edges(row, tensor) for _, row, s in every])
    by_layer = {}
    for name in names:
        if name not in found:
            continue
        counts = np.full((len(run_ids), len(edges) - 1), np.nan)
        for i, row, s in found[name]:
            if nested is not None:
                low, high = float(s.floats[row, tensor, COLUMN["lo"]]), float(s.floats[row, tensor, COLUMN["hi"]])
                width = (high - low) / int(s.bins[row, tensor])
                counts[i] = rebin_nested(low, width, s.hist_counts(row, tensor), start, coarse, size)
            else:
                counts[i] = rebin(s.hist_edges(row, tensor), s.hist_counts(row, tensor), edges)
        by_layer[name] = counts
    return edges, by_layer, nested is not None or nested_grid([s.hist_edges(row, tensor) for _, row, s in every]) is not None


def _hist_answer(histograms, entries: list[tuple[str, str, list[int]]]) -> dict[str, Any]:
    """Each layer's counts per run, or per group the mean of its runs' counts (runs lacking the layer left out),
    so a group's histogram sums to one run's tensor size as a run's does."""
    edges, by_layer, exact = histograms
    out: dict[str, list[dict[str, Any]]] = {}
    for name, counts in by_layer.items():
        listed = []
        for key, label, members in entries:
            rows = counts[members]
            rows = rows[~np.isnan(rows[:, 0])]
            if len(rows) > 1:
                listed.append({"key": key, "label": label, "counts": rows.mean(axis=0)})
            elif len(rows):  # a run's own counts: integers on nested edges
                listed.append({"key": key, "label": label, "counts": np.rint(rows[0]).astype(np.int64) if exact else rows[0]})
        out[name] = listed
    return {"edges": edges, "by_layer": out}
