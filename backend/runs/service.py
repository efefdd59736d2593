"""Reading, cancelling, cloning and deleting runs."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, NamedTuple

import redis
from pydantic import ValidationError
from sqlalchemy import Connection, Select, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from backend import events
from backend.artifacts import artifact_file, remove_artifact, remove_checkpoints
from backend.db import get_engine
from backend.errors import Conflict, InvalidInput, NotFound, Unavailable, field_error, spec_errors
from backend.experiments.grid import format_value
from backend.experiments.models import Experiment, ExperimentTag
from backend.limits import spec_limit_errors
from backend.locks import lock_experiments
from backend.runs import filter as run_filter
from backend.runs import sorting
from backend.runs.models import Run
from backend.settings import get_settings
from backend.timeutil import iso, utcnow
from backend.trainer.external import is_external
from reglab.spec import RunSpec, build_spec, flatten, spec_warnings
from reglab.states import CANCELLED, FINAL_STATES, QUEUED, RUNNING

# Columns of a run list item: everything but the spec and the model summary, which can be large.
ITEM_COLUMNS = (
    Run.id,
    Run.experiment_id,
    Experiment.name.label("experiment_name"),
    Run.name,
    Run.state,
    Run.created_at,
    Run.dispatched_at,
    Run.started_at,
    Run.finished_at,
    Run.heartbeat_at,
    Run.epoch,
    Run.epochs,
    Run.epoch_seconds,
    Run.summary,
    Run.error,
    Run.device,
    Run.worker_host,
    Run.backend,
    Run.attempts,
    Run.attempt_errors,
    Run.notes,
    Run.tags,
)
MAX_NAME = 500
# A run just inserted, as a row of ITEM_COLUMNS: what the insert does not set is NULL.
NEW_ROW = dict.fromkeys(column.key for column in ITEM_COLUMNS)
# A clone's statements, built once and run as Core on a connection: building them, the ORM's execution path
# and a session cost more than running them (bench/clone_runs.py).
SOURCES = (
    select(Run.id, Run.experiment_id, Experiment.name, Run.name, Run.spec)
    .join(Experiment, Experiment.id == Run.experiment_id)
    .where(Run.id.in_(bindparam("run_ids", expanding=True)))
)
RUN_COUNTS = (
    select(Run.experiment_id, func.count())
    .where(Run.experiment_id.in_(bindparam("experiment_ids", expanding=True)))
    .group_by(Run.experiment_id)
)
# The ids and the database's created_at come back, so the answer needs no second read.
INSERT_RUNS = insert(Run.__table__).returning(Run.id, Run.created_at, sort_by_parameter_order=True)


def item_from_row(row: Any) -> dict[str, Any]:
    """A run list item from a row of ITEM_COLUMNS."""
    return {
        "id": row.id,
        "experiment_id": row.experiment_id,
        "experiment_name": row.experiment_name,
        "name": row.name,
        "state": row.state,
        "created_at": iso(row.created_at),
        "dispatched_at": iso(row.dispatched_at),
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
        "heartbeat_at": iso(row.heartbeat_at),
        "epoch": row.epoch,
        "epochs": row.epochs,
        "progress": {"epoch": row.epoch, "epochs": row.epochs},
        "epoch_seconds": row.epoch_seconds,
        "summary": row.summary or {},
        "error": row.error,
        "device": row.device,
        "worker_host": row.worker_host,
        "backend": row.backend,
        # Starts so far; a run whose worker died is re-queued until max_attempts were lost.
        "attempts": row.attempts,
        "max_attempts": get_settings().MAX_ATTEMPTS,
        "attempt_errors": row.attempt_errors or [],
        "notes": row.notes or "",
        "tags": row.tags or [],
    }


def items_query() -> Select:
    return select(*ITEM_COLUMNS).join(Experiment, Experiment.id == Run.experiment_id)


def run_items(session: Session, run_ids: list[int]) -> list[dict[str, Any]]:
    """List items of ``run_ids`` in id order, in one query."""
    rows = session.execute(items_query().where(Run.id.in_(run_ids)).order_by(Run.id)).all()
    return [item_from_row(row) for row in rows]


def list_runs(
    session: Session,
    *,
    limit: int,
    offset: int,
    experiment_id: int | None = None,
    state: str | None = None,
    tag: str | None = None,
    q: str | None = None,
    sort: str = "-created",
    filter_text: str | None = None,
    with_spec: bool = False,
) -> dict[str, Any]:
    """One page of runs (newest first unless ``sort`` says otherwise), with the total matching the filters.

    ``filter_text`` is an expression of the run filter language (backend/runs/filter.py), and-ed with the others.
    """
    conditions = []
    if filter_text is not None:
        try:
            conditions.append(run_filter.compile_filter(filter_text, session.get_bind().dialect.name))
        except run_filter.FilterError as exc:
            raise InvalidInput([field_error("filter", str(exc), "filter_invalid")]) from None
    if experiment_id is not None:
        conditions.append(Run.experiment_id == experiment_id)
    if state is not None:
        conditions.append(Run.state == state)
    if tag is not None:
        tagged = select(ExperimentTag.experiment_id).where(ExperimentTag.tag == tag)
        conditions.append(Run.experiment_id.in_(tagged))
    if q is not None:
        pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(func.lower(Run.name).like(pattern, escape="\\"))
    total = session.scalar(select(func.count()).select_from(Run).where(*conditions))
    ordering = sorting.order_by(sort)
    query = items_query().add_columns(Run.spec) if with_spec else items_query()
    rows = session.execute(query.where(*conditions).order_by(*ordering).limit(limit).offset(offset)).all()
    items = [item_from_row(row) for row in rows]
    if with_spec:  # for notebooks (reglab.frames): every param in one request per page
        for item, row in zip(items, rows, strict=True):
            item["spec"] = row.spec
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def run_detail(session: Session, run: Run) -> dict[str, Any]:
    """A run with its spec, warnings and what the worker left (model, summary)."""
    item = run_items(session, [run.id])[0]
    try:
        warnings = [] if is_external(run.spec) else spec_warnings(RunSpec.model_validate(run.spec))
    except ValidationError:
        warnings = ["the stored spec no longer validates against this version of the run spec"]
    has_model = artifact_file(run.artifact_path) is not None
    return with_spec(item, run.spec, warnings, has_model=has_model, has_model_summary=run.model_summary is not None)


def with_spec(
    item: dict[str, Any], spec: dict[str, Any], warnings: list[str], *, has_model: bool, has_model_summary: bool
) -> dict[str, Any]:
    """A run's detail: its list item with its spec, the spec's warnings and what the worker left."""
    return {**item, "spec": spec, "warnings": warnings, "has_model": has_model, "has_model_summary": has_model_summary}


def update_run(session: Session, run: Run, changes: dict[str, Any]) -> dict[str, Any]:
    """Set the run's name, tags or notes (those in ``changes``); its detail after."""
    if "tags" in changes:
        changes["tags"] = list(dict.fromkeys(changes["tags"]))
    if changes:
        session.execute(update(Run).where(Run.id == run.id).values(**changes))
        session.commit()
        session.refresh(run)
    return run_detail(session, run)


def cancel_run(session: Session, run: Run) -> dict[str, Any]:
    """Cancel a queued run at once, or ask the worker of a running one to stop."""
    if run.state == QUEUED:
        result = session.execute(
            update(Run).where(Run.id == run.id, Run.state == QUEUED).values(state=CANCELLED, finished_at=utcnow())
        )
        session.commit()
        if result.rowcount == 1:
            events.publish_state(run.id, CANCELLED)
            session.refresh(run)
            return {**run_detail(session, run), "cancel_requested": False}
        # It started between our read and our update: fall through as a running run.
        session.refresh(run)
    if run.state in FINAL_STATES:
        raise Conflict(f"run {run.id} is already {run.state}; only queued or running runs can be cancelled")
    try:
        events.request_cancel(run.id)
    except (redis.RedisError, OSError) as exc:
        raise Unavailable(f"cannot reach Redis to tell the worker of run {run.id} to stop: {exc}") from exc
    events.publish_state(run.id, RUNNING, cancel_requested=True)
    return {**run_detail(session, run), "cancel_requested": True}


class Source(NamedTuple):
    """What a clone takes from its source run."""

    id: int
    experiment_id: int
    experiment_name: str
    name: str
    spec: dict[str, Any]


class Clone(NamedTuple):
    """A run just inserted by :func:`clone_runs`: its row (ITEM_COLUMNS and the spec) as stored, and its spec."""

    row: dict[str, Any]
    spec: RunSpec


def clone_runs(connection: Connection, requests: list[tuple[Source, dict[str, Any]]]) -> list[Clone]:
    """New queued runs, one per ``(source run, overrides)``: the overrides merged over the source's spec,
    each in its source's experiment. Validated first, then inserted together in the connection's
    transaction, which the caller commits; returned in request order.

    Not announced here: sending them to the workers announces them (one ``runs``
    message), as for a new experiment's runs, and nobody follows the channel of
    a run that did not exist a moment ago. Field errors of request ``i`` are
    under ``clones.{i}.`` when there are several.
    """
    settings = get_settings()
    errors: list[dict[str, Any]] = []
    specs: list[RunSpec] = []
    for index, (source, overrides) in enumerate(requests):
        prefix = f"clones.{index}." if len(requests) > 1 else ""
        if is_external(source.spec):
            raise Conflict(f"run {source.id} was trained outside RegLab: it has no spec to train a clone from")
        try:
            spec = build_spec(overrides, base=source.spec)
        except ValidationError as exc:
            errors += spec_errors(exc, prefix)
            continue
        errors += spec_limit_errors(spec, prefix)
        specs.append(spec)
    if errors:
        raise InvalidInput(errors)
    adding: dict[int, int] = {}
    for source, _ in requests:
        adding[source.experiment_id] = adding.get(source.experiment_id, 0) + 1
    lock_experiments(connection, list(adding))
    counts = dict(connection.execute(RUN_COUNTS, {"experiment_ids": list(adding)}).all())
    for experiment_id, added in adding.items():
        count = counts.get(experiment_id, 0)
        if count + added > settings.MAX_RUNS_PER_EXPERIMENT:
            raise Conflict(
                f"experiment {experiment_id} already has {count} runs; {added} more would pass "
                f"the limit of {settings.MAX_RUNS_PER_EXPERIMENT} per experiment"
            )
    rows = []
    for (source, _), spec in zip(requests, specs, strict=True):
        data = spec.model_dump(mode="json")
        rows.append(
            {
                "experiment_id": source.experiment_id,
                "name": clone_name(source.name, source.spec, data),
                "spec": data,
                "state": QUEUED,
                "epoch": 0,
                "epochs": spec.training.epochs,
                "summary": {},
                "attempts": 0,
                "attempt_errors": [],
            }
        )
    stored = connection.execute(INSERT_RUNS, rows).all()
    return [
        Clone({**NEW_ROW, **row, "id": run_id, "created_at": created_at, "experiment_name": source.experiment_name}, spec)
        for (source, _), row, (run_id, created_at), spec in zip(requests, rows, stored, specs, strict=True)
    ]


def new_run_detail(clone: Clone) -> dict[str, Any]:
    """The detail of a run just cloned, from the values inserted (``dispatched_at`` is still null)."""
    item = item_from_row(SimpleNamespace(**clone.row))
    return with_spec(item, clone.row["spec"], spec_warnings(clone.spec), has_model=False, has_model_summary=False)


def clone_details(session: Session, clones: list[Clone]) -> list[dict[str, Any]]:
    """The details of runs just cloned, their columns read afresh (after a send set ``dispatched_at``)."""
    items = {item["id"]: item for item in run_items(session, [clone.row["id"] for clone in clones])}
    return [
        with_spec(items[c.row["id"]], c.row["spec"], spec_warnings(c.spec), has_model=False, has_model_summary=False)
        for c in clones
    ]


def clone_run(run_id: int, overrides: dict[str, Any]) -> dict[str, Any]:
    """One clone of run ``run_id`` (404 if there is none), committed, and its detail, without a read of the new run."""
    with get_engine().begin() as connection:
        source = source_runs(connection, [run_id])[run_id]
        clone = clone_runs(connection, [(source, overrides)])[0]
    return new_run_detail(clone)


def source_runs(connection: Connection, run_ids: list[int]) -> dict[int, Source]:
    """The runs of ``run_ids`` by id, in one query; 404 naming the first that does not exist."""
    runs = {row[0]: Source(*row) for row in connection.execute(SOURCES, {"run_ids": list(set(run_ids))})}
    if missing := [run_id for run_id in run_ids if run_id not in runs]:
        raise NotFound(f"run {missing[0]} not found")
    return runs


def clone_name(name: str, old: dict[str, Any], new: dict[str, Any]) -> str:
    """``<name> | dropout=0.3`` naming what the clone changed, or ``<name> (clone)``."""
    before, after = flatten(old), flatten(new)
    changed = [key for key in after if before.get(key) != after[key]]
    if not changed:
        text = f"{name} (clone)"
    else:
        text = f"{name} | " + ", ".join(f"{key.split('.')[-1]}={format_value(after[key])}" for key in changed)
    return text if len(text) <= MAX_NAME else text[: MAX_NAME - 1] + "…"


def stop_if_running(run_id: int, state: str) -> None:
    """Ask a running run's worker to stop before its row goes away; best effort."""
    if state == RUNNING:
        try:
            events.request_cancel(run_id)
        except (redis.RedisError, OSError):
            pass
        events.publish_state(run_id, CANCELLED, deleted=True)


def delete_run(session: Session, run: Run) -> None:
    """Delete a run, its points (by cascade) and its model file; a running run is cancelled first."""
    run_id, state, artifact = run.id, run.state, run.artifact_path
    stop_if_running(run_id, state)
    session.execute(delete(Run).where(Run.id == run_id))
    session.commit()
    remove_artifact(artifact)
    remove_checkpoints(run_id)
