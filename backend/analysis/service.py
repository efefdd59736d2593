"""The analysis of a set of runs: groups, their statistics against a baseline, their bands.

:func:`analyse` is pure (runs and their epoch array in, a dict out); the functions below
it read what it needs from the database, every point in one query.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from backend.analysis import bands, group_stats, grouping
from backend.analysis.dense import Dense, experiment_rows, read_dense
from backend.analysis.summaries import SUMMARY_METRICS, run_metrics
from backend.layers.summaries import LAYER_METRICS, is_layer_metric, layer_metrics
from backend.compare import service as compare_service
from backend.compare.service import params_diff
from backend.db import session_scope
from backend.errors import InvalidInput, field_error, shown
from backend.experiments.models import Experiment
from backend.runs.models import Run
from backend.spec_fields import object_paths
from reglab.states import QUEUED, RUNNING

DEFAULT_METRIC = "best_val_accuracy"
STEP_BUCKETS = 300


def replicates_of(stored: list[str] | None) -> list[str]:
    return list(stored) if stored else list(grouping.DEFAULT_REPLICATES)


def check_metric(metric: str) -> None:
    if metric not in SUMMARY_METRICS and not is_layer_metric(metric):
        allowed = ", ".join(SUMMARY_METRICS) + ", " + ", ".join(f"{m}[<layer>]" for m in LAYER_METRICS)
        raise InvalidInput([field_error("metric", f"must be one of {allowed}, got {shown(metric)}")])


def parse_group_by(text: str) -> list[str] | None | str:
    """``"none"`` -> ``"none"``, ``"auto"`` -> None, ``"a.b,c.d"`` -> the fields (each a spec path, else 422)."""
    value = text.strip()
    if value in ("none", "auto"):
        return "none" if value == "none" else None
    fields = list(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    unknown = [f for f in fields if f not in object_paths() or f == "spec_version"]
    if unknown or not fields:
        got = ", ".join(shown(f, 60) for f in unknown) or "no field"
        raise InvalidInput(
            [field_error("group_by", f"must be none, auto or comma-separated run spec fields "
                         f"(dotted paths like regularization.kernel_l1); unknown: {got}")]
        )
    return fields


def _rank_key(direction: str, mean: float | None) -> tuple[int, float]:
    if mean is None:
        return 1, 0.0
    return 0, mean if direction == "lower" else -mean


def analyse(
    runs: list[dict[str, Any]],
    dense: Dense,
    *,
    replicate_fields: list[str],
    group_by: list[str] | None = None,
    metric: str = DEFAULT_METRIC,
    baseline: str | None = None,
    band: str = "ci95",
    step_series: dict[int, dict[str, dict[str, Any]]] | None = None,
    step_buckets: int = STEP_BUCKETS,
    diff: dict[str, dict[int, Any]] | None = None,
    per_layer: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Group ``runs`` (dicts with id, name, state, spec, summary, epoch_seconds) and compare the groups.

    ``dense`` holds the runs' epoch series (rows in the order of ``runs``);
    ``step_series`` their step series, if any. ``group_by`` None groups by every
    differing field outside ``replicate_fields``; ``diff`` is the runs' params_diff
    when the caller has it already; ``per_layer`` more metrics (diagnostic), ``{name: (runs,)}``.
    """
    check_metric(metric)
    run_ids = [run["id"] for run in runs]
    specs = {run["id"]: run["spec"] for run in runs}
    if group_by is None:
        values = params_diff(specs) if diff is None else diff
        factors = grouping.factor_fields(values, replicate_fields)
    else:
        factors = group_by
        values = {f: {run_id: grouping.get_path(spec, f) for run_id, spec in specs.items()} for f in factors}
    groups = grouping.group_runs(run_ids, values, factors) if runs else []
    by_label = {g.label: g for g in groups}
    if baseline is not None and baseline not in by_label:
        labels = "; ".join(shown(label, 60) for label in list(by_label)[:20])
        raise InvalidInput([field_error("baseline", f"must be the label of a group, one of: {labels}; got {shown(baseline)}")])
    base_group = by_label[baseline] if baseline is not None else (grouping.default_baseline(groups) if groups else None)

    metric_values = run_metrics(dense, [run.get("summary") for run in runs], [run.get("epoch_seconds") for run in runs])
    metric_values.update(per_layer or {})
    metrics = {**SUMMARY_METRICS, **{name: "diagnostic" for name in per_layer or {}}}
    if metric not in metrics:
        raise InvalidInput([field_error("metric", f"no run of these has {shown(metric)}: it names no recorded layer")])
    table = np.stack([metric_values[name] for name in metrics]) if runs else np.zeros((len(metrics), 0))
    replicate = [grouping.replicate_key(run["spec"], replicate_fields) for run in runs]
    row_of = {run_id: i for i, run_id in enumerate(run_ids)}
    active = np.array([run["state"] == RUNNING for run in runs], dtype=bool)
    members = [[row_of[i] for i in g.run_ids] for g in groups]
    base_index = next((i for i, g in enumerate(groups) if g is base_group), None)
    described, versus = group_stats.group_statistics(table, members, base_index, replicate, metrics)
    out_groups = {
        g.label: {
            "key": g.key,
            "label": g.label,
            "run_ids": g.run_ids,
            "n": len(g.run_ids),
            "running": int(active[members[i]].sum()),
            "metrics": described[i],
            "vs_baseline": versus[i],
        }
        for i, g in enumerate(groups)
    }
    direction = metrics[metric]
    ranked = sorted(out_groups.values(), key=lambda g: _rank_key(direction, g["metrics"][metric]["mean"]))

    reason = None
    if len(runs) < 2:
        reason = f"nothing to compare: {len(runs)} run{'s' if len(runs) != 1 else ''}"
    elif len(groups) < 2:
        reason = "nothing to compare: every run has the same condition (only replicate fields differ)"
    series = dict(zip((g.label for g in groups),
                      bands.groups_bands(dense, [np.array(m, dtype=np.int64) for m in members], band), strict=True))
    if step_series:
        for g in groups:
            series[g.label].update(step_bands([step_series.get(i, {}) for i in g.run_ids], band, step_buckets))
    label_of = {i: g.label for g in groups for i in g.run_ids}
    key_of = {i: g.key for g in groups for i in g.run_ids}
    columns = table.T.tolist()  # NaN (no value) goes out as JSON null
    return {
        "replicate_fields": replicate_fields,
        "factors": factors,
        "metric": metric,
        "band": band,
        "baseline": base_group.label if base_group is not None else None,
        "reason": reason,
        "run_count": len(runs),
        "running": int(active.sum()),
        "queued": sum(1 for run in runs if run["state"] == QUEUED),
        "metric_info": [{"name": n, "direction": d} for n, d in metrics.items()],
        "groups": ranked,
        "series": series,
        "runs": [
            {"id": run["id"], "name": run["name"], "state": run["state"], "group": label_of[run["id"]],
             "key": key_of[run["id"]], "metrics": dict(zip(metrics, columns[i], strict=True))}
            for i, run in enumerate(runs)
        ],
    }


def step_bands(members: list[dict[str, dict[str, Any]]], band: str, step_buckets: int) -> dict[str, Any]:
    """The group's step series, aggregated across its runs on shared buckets."""
    names = list(dict.fromkeys(name for s in members for name, data in s.items() if data["axis"] == "step"))
    return {
        name: bands.step_band([(s[name]["x"], s[name]["y"]) for s in members if name in s], band, step_buckets)
        for name in names
    }


# Reads beside a request's own session (experiment_analysis).
_READS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="reglab-analysis-read")


def _beside(bind: Engine | Connection) -> bool:
    """Whether a second connection of ``bind`` sees the same database (not one in SQLite's memory)."""
    return isinstance(bind, Engine) and bind.url.database not in (None, "", ":memory:")


def experiment_analysis(
    session: Session, experiment: Experiment, *, metric: str, baseline: str | None, band: str
) -> dict[str, Any]:
    """The analysis of an experiment's runs: one query for the runs, one for every epoch point."""
    check_metric(metric)
    # The epoch series, the larger read (mostly the database's work and the transfer), come on a
    # connection of their own while this one reads the runs and decodes their specs.
    bind = session.get_bind()
    series = _READS.submit(experiment_rows, bind, experiment.id) if _beside(bind) else None
    # Only the columns the analysis reads (a list item's other JSON and timestamps cost a
    # decode per run), as Core columns: plain rows, no ORM entities to resolve.
    table = Run.__table__
    rows = session.execute(
        select(table.c.id, table.c.name, table.c.state, table.c.spec, table.c.summary, table.c.epoch_seconds)
        .where(table.c.experiment_id == experiment.id)
        .order_by(table.c.id)
    ).all()
    runs = [
        {"id": run_id, "name": name, "state": state, "spec": spec, "summary": summary or {}, "epoch_seconds": seconds}
        for run_id, name, state, spec, summary, seconds in rows
    ]
    # What needs only the runs, while the series are still coming.
    diff = params_diff({run["id"]: run["spec"] for run in runs})
    dense = read_dense(session, [run["id"] for run in runs], experiment.id,
                       fetched=series.result() if series is not None else None)
    # One more query: the last layer snapshot of each run, for the per-layer metrics.
    per_layer = layer_metrics(session.connection(), [run["id"] for run in runs])
    result = analyse(runs, dense, replicate_fields=replicates_of(experiment.replicates), metric=metric,
                     baseline=baseline, band=band, diff=diff, per_layer=per_layer)
    return {"experiment_id": experiment.id, "experiment_name": experiment.name, **result}


def grouped_comparison(
    run_ids: list[int], names: list[str] | None, max_points: int, *, group_by: str, metric: str,
    baseline: str | None, band: str, x_min: int | None = None, x_max: int | None = None,
) -> dict[str, Any]:
    """GET /api/compare's answer, with ``analysis`` (groups and their series) unless ``group_by`` is none."""
    fields = parse_group_by(group_by)
    check_metric(metric)
    with session_scope() as session:
        result = compare_service.compare(session, run_ids, names, max_points, x_min, x_max)
        if fields == "none":
            return result
        rows = session.execute(
            select(Run.id, Run.spec, Experiment.replicates)
            .join(Experiment, Experiment.id == Run.experiment_id)
            .where(Run.id.in_(run_ids))
        ).all()
        # The epoch series again, as the analysis' array: cheaper than converting the answer's lists.
        dense = read_dense(session, [item["id"] for item in result["runs"]], names=names)
    spec_of = {row.id: row.spec for row in rows}
    # Runs from several experiments: a field any of them replicates over is a replicate field.
    replicates = list(dict.fromkeys(f for row in rows for f in replicates_of(row.replicates)))
    runs = [
        {"id": item["id"], "name": item["name"], "state": item["state"], "spec": spec_of[item["id"]],
         "summary": item["summary"], "epoch_seconds": item["epoch_seconds"]}
        for item in result["runs"]
    ]
    result["analysis"] = analyse(
        runs, dense, replicate_fields=replicates, group_by=fields, metric=metric, baseline=baseline, band=band,
        step_series=result["series"], step_buckets=max(2, max_points // 2), diff=result["params_diff"],
    )
    return result
