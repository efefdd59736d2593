"""The analysis of a set of runs: groups, their statistics against a baseline, their bands.

:func:`analyse` is pure (runs and series in, a dict out); the functions below
it read what it needs from the database, every point in one query.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.analysis import bands, grouping, stats
from backend.analysis.summaries import SUMMARY_METRICS, run_metrics
from backend.compare import service as compare_service
from backend.compare.service import params_diff
from backend.db import session_scope
from backend.errors import InvalidInput, field_error, shown
from backend.experiments.models import Experiment
from backend.metrics.service import read_series
from backend.runs.models import Run
from backend.runs.service import items_query
from backend.runs.states import ACTIVE_STATES
from backend.spec_fields import object_paths

DEFAULT_METRIC = "best_val_accuracy"
STEP_BUCKETS = 300


def replicates_of(stored: list[str] | None) -> list[str]:
    return list(stored) if stored else list(grouping.DEFAULT_REPLICATES)


def check_metric(metric: str) -> None:
    if metric not in SUMMARY_METRICS:
        allowed = ", ".join(SUMMARY_METRICS)
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


def _pairs(base: list[dict[str, Any]], other: list[dict[str, Any]], metric: str):
    """Both groups' values matched by replicate key, when both hold exactly the same replicates."""
    base_keys = {r["replicate"]: r["metrics"][metric] for r in base}
    other_keys = {r["replicate"]: r["metrics"][metric] for r in other}
    if len(base_keys) != len(base) or len(other_keys) != len(other) or set(base_keys) != set(other_keys):
        return None
    order = sorted(base_keys)
    as_float = [float("nan") if base_keys[k] is None else base_keys[k] for k in order]
    other_float = [float("nan") if other_keys[k] is None else other_keys[k] for k in order]
    return as_float, other_float


def _rank_key(direction: str, mean: float | None) -> tuple[int, float]:
    if mean is None:
        return 1, 0.0
    return 0, mean if direction == "lower" else -mean


def analyse(
    runs: list[dict[str, Any]],
    series: dict[int, dict[str, dict[str, Any]]],
    *,
    replicate_fields: list[str],
    group_by: list[str] | None = None,
    metric: str = DEFAULT_METRIC,
    baseline: str | None = None,
    band: str = "ci95",
    step_buckets: int = STEP_BUCKETS,
) -> dict[str, Any]:
    """Group ``runs`` (dicts with id, name, state, spec, summary, epoch_seconds) and compare the groups.

    ``group_by`` None groups by every differing field outside ``replicate_fields``.
    """
    check_metric(metric)
    run_ids = [run["id"] for run in runs]
    specs = {run["id"]: run["spec"] for run in runs}
    if group_by is None:
        values = params_diff(specs)
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

    per_run = {
        run["id"]: {
            "metrics": run_metrics(run.get("summary"), series.get(run["id"], {}), run.get("epoch_seconds")),
            "replicate": grouping.replicate_key(run["spec"], replicate_fields),
        }
        for run in runs
    }
    out_groups = []
    for group in groups:
        members = [per_run[i] for i in group.run_ids]
        out_groups.append({
            "key": group.key,
            "label": group.label,
            "run_ids": group.run_ids,
            "n": len(group.run_ids),
            "running": sum(1 for run in runs if run["id"] in group.run_ids and run["state"] in ACTIVE_STATES),
            "metrics": {name: stats.describe([m["metrics"][name] for m in members]) for name in SUMMARY_METRICS},
            "vs_baseline": {},
            "_members": members,
        })
    base_out = next((g for g in out_groups if base_group is not None and g["label"] == base_group.label), None)
    others = [g for g in out_groups if g is not base_out]
    if base_out is not None and others:
        for name, direction in SUMMARY_METRICS.items():
            base_values = [m["metrics"][name] for m in base_out["_members"]]
            results = [
                stats.compare(base_values, [m["metrics"][name] for m in g["_members"]],
                              _pairs(base_out["_members"], g["_members"], name))
                for g in others
            ]
            adjusted = stats.holm([r["p_value"] for r in results])
            for g, result, p_adj in zip(others, results, adjusted, strict=True):
                g["vs_baseline"][name] = {
                    **result,
                    "p_adjusted": p_adj,
                    "verdict": stats.verdict(result["diff"], p_adj, direction),
                }
    for g in out_groups:
        del g["_members"]
    direction = SUMMARY_METRICS[metric]
    out_groups.sort(key=lambda g: _rank_key(direction, g["metrics"][metric]["mean"]))

    reason = None
    if len(runs) < 2:
        reason = f"nothing to compare: {len(runs)} run{'s' if len(runs) != 1 else ''}"
    elif len(groups) < 2:
        reason = "nothing to compare: every run has the same condition (only replicate fields differ)"
    label_of = {i: g.label for g in groups for i in g.run_ids}
    key_of = {i: g.key for g in groups for i in g.run_ids}
    return {
        "replicate_fields": replicate_fields,
        "factors": factors,
        "metric": metric,
        "band": band,
        "baseline": base_group.label if base_group is not None else None,
        "reason": reason,
        "run_count": len(runs),
        "running": sum(1 for run in runs if run["state"] in ACTIVE_STATES),
        "metric_info": [{"name": n, "direction": d} for n, d in SUMMARY_METRICS.items()],
        "groups": out_groups,
        "series": {g.label: group_series([series.get(i, {}) for i in g.run_ids], band, step_buckets) for g in groups},
        "runs": [
            {"id": run["id"], "name": run["name"], "state": run["state"], "group": label_of[run["id"]],
             "key": key_of[run["id"]], "metrics": per_run[run["id"]]["metrics"]}
            for run in runs
        ],
    }


def group_series(members: list[dict[str, dict[str, Any]]], band: str, step_buckets: int) -> dict[str, Any]:
    """Every series the group's runs have, aggregated across them."""
    names = list(dict.fromkeys(name for s in members for name in s))
    out = {}
    for name in names:
        present = [s[name] for s in members if name in s]
        columns = [(data["x"], data["y"]) for data in present]
        if present[0]["axis"] == "step":
            out[name] = bands.step_band(columns, band, step_buckets)
        else:
            out[name] = bands.epoch_band(columns, band)
    return out


def _run_input(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "state": row.state, "spec": row.spec,
            "summary": row.summary or {}, "epoch_seconds": row.epoch_seconds}


def experiment_analysis(
    session: Session, experiment: Experiment, *, metric: str, baseline: str | None, band: str
) -> dict[str, Any]:
    """The analysis of an experiment's runs: one query for the runs, one for every epoch point."""
    check_metric(metric)
    rows = session.execute(
        items_query().add_columns(Run.spec).where(Run.experiment_id == experiment.id).order_by(Run.id)
    ).all()
    runs = [_run_input(row) for row in rows]
    series = read_series(session, [run["id"] for run in runs], axis="epoch") if runs else {}
    result = analyse(runs, series, replicate_fields=replicates_of(experiment.replicates), metric=metric,
                     baseline=baseline, band=band)
    return {"experiment_id": experiment.id, "experiment_name": experiment.name, **result}


def grouped_comparison(
    run_ids: list[int], names: list[str] | None, max_points: int, *, group_by: str, metric: str,
    baseline: str | None, band: str,
) -> dict[str, Any]:
    """GET /api/compare's answer, with ``analysis`` (groups and their series) unless ``group_by`` is none."""
    fields = parse_group_by(group_by)
    check_metric(metric)
    with session_scope() as session:
        result = compare_service.compare(session, run_ids, names, max_points)
        if fields == "none":
            return result
        rows = session.execute(
            select(Run.id, Run.spec, Experiment.replicates)
            .join(Experiment, Experiment.id == Run.experiment_id)
            .where(Run.id.in_(run_ids))
        ).all()
    spec_of = {row.id: row.spec for row in rows}
    # Runs from several experiments: a field any of them replicates over is a replicate field.
    replicates = list(dict.fromkeys(f for row in rows for f in replicates_of(row.replicates)))
    runs = [
        {"id": item["id"], "name": item["name"], "state": item["state"], "spec": spec_of[item["id"]],
         "summary": item["summary"], "epoch_seconds": item["epoch_seconds"]}
        for item in result["runs"]
    ]
    result["analysis"] = analyse(
        runs, result["series"], replicate_fields=replicates, group_by=fields, metric=metric, baseline=baseline,
        band=band, step_buckets=max(2, max_points // 2),
    )
    return result
