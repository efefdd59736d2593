"""Creating, listing and deleting experiments."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from backend.artifacts import remove_artifact
from backend.errors import InvalidInput, field_error, spec_errors
from backend.experiments import grid as grid_mod
from backend.experiments.models import Experiment, ExperimentTag
from backend.experiments.schemas import ExperimentCreate
from backend.model_size import param_count
from backend.runs.models import Run
from backend.runs.service import run_items, stop_if_running
from backend.search.coordinator import create_study, delete_study
from backend.search.pruning import check_pruner
from backend.search.space import check_search
from backend.settings import get_settings
from backend.timeutil import iso
from reglab.schedule_math import rate_preview
from reglab.spec import RunSpec, build_spec, spec_warnings
from reglab.states import PRUNED, QUEUED


def plan_runs(data: ExperimentCreate) -> tuple[RunSpec, list[grid_mod.PlannedRun]]:
    """The complete base spec and the named, validated runs ``data`` expands to; InvalidInput otherwise."""
    try:
        base = build_spec(data.base)
    except ValidationError as exc:
        raise InvalidInput(spec_errors(exc, prefix="base.")) from exc
    grid_mod.check_replicates(data.replicates)
    if data.pruner is not None:
        check_pruner(data.pruner, data.search)
    if data.search is not None:
        if data.grid:
            raise InvalidInput([field_error("grid", "give a grid or a search, not both")])
        check_search(data.search, base.model_dump(mode="json"), get_settings().MAX_TRIALS_PER_EXPERIMENT)
        return base, []
    grid_mod.check_keys(data.grid, get_settings().MAX_RUNS_PER_EXPERIMENT)
    planned = grid_mod.expand(base.model_dump(mode="json"), data.grid, data.name)
    if not planned:
        raise InvalidInput([field_error("grid", "expands to no runs")])
    return base, planned


def plan_experiment(data: ExperimentCreate) -> dict[str, Any]:
    """What :func:`create_experiment` would queue, with each run's size and planned rates; creates nothing."""
    base, planned = plan_runs(data)
    if data.search is not None:  # trials are sampled as they start; nothing to list yet
        return {"runs": [], "warnings": spec_warnings(base)}
    runs = [
        {
            "name": plan.name,
            "spec": plan.spec.model_dump(mode="json"),
            "warnings": spec_warnings(plan.spec),
            "param_count": param_count(plan.spec),
            "planned_rates": rate_preview(plan.spec),
        }
        for plan in planned
    ]
    return {"runs": runs, "warnings": grid_mod.distinct_warnings([plan.spec for plan in planned])}


def create_experiment(session: Session, data: ExperimentCreate) -> tuple[Experiment, list[str]]:
    """Validate the base and every grid combination, then store the experiment and its queued runs.

    Returns the experiment and the deduplicated spec warnings; the caller dispatches the runs.
    """
    base, planned = plan_runs(data)
    tags = list(dict.fromkeys(data.tags))
    experiment = Experiment(
        name=data.name,
        description=data.description,
        tags=tags,
        base=base.model_dump(mode="json"),
        grid=data.grid,
        replicates=list(dict.fromkeys(data.replicates)) if data.replicates else None,
    )
    if data.search is not None:  # left unset otherwise: SQL NULL, which the coordinator's query skips
        experiment.search = data.search.model_dump(mode="json")
    if data.pruner is not None:
        experiment.pruner = check_pruner(data.pruner, data.search)
    experiment.tag_rows = [ExperimentTag(tag=tag) for tag in tags]
    session.add(experiment)
    session.flush()
    session.add_all(
        Run(
            experiment_id=experiment.id,
            name=plan.name,
            spec=plan.spec.model_dump(mode="json"),
            state=QUEUED,
            epoch=0,
            epochs=plan.spec.training.epochs,
            summary={},
        )
        for plan in planned
    )
    session.commit()
    if data.search is not None:
        create_study(experiment.id, data.search.objective.direction)
        return experiment, grid_mod.distinct_warnings([base])
    if experiment.pruner is not None:  # a pruned grid: each run gets its trial on its first report
        create_study(experiment.id, experiment.pruner["direction"])
    return experiment, grid_mod.distinct_warnings([plan.spec for plan in planned])


def experiment_dict(experiment: Experiment) -> dict[str, Any]:
    return {
        "id": experiment.id,
        "name": experiment.name,
        "description": experiment.description,
        "tags": experiment.tags,
        "created_at": iso(experiment.created_at),
    }


def run_ids_of(session: Session, experiment_id: int) -> list[int]:
    return list(session.scalars(select(Run.id).where(Run.experiment_id == experiment_id).order_by(Run.id)))


def update_experiment(session: Session, experiment: Experiment, changes: dict[str, Any]) -> None:
    """Set the study's name, description or tags (those in ``changes``), its tag rows with its tags."""
    for key in ("name", "description"):
        if key in changes:
            setattr(experiment, key, changes[key])
    if "tags" in changes:
        tags = list(dict.fromkeys(changes["tags"]))
        experiment.tags = tags
        experiment.tag_rows = [ExperimentTag(tag=tag) for tag in tags]
    session.commit()


def experiment_detail(session: Session, experiment: Experiment, warnings: list[str] | None = None) -> dict[str, Any]:
    """The experiment with its base, grid, runs (list items) and spec warnings."""
    runs = run_items(session, run_ids_of(session, experiment.id))
    if warnings is None:
        specs = session.scalars(select(Run.spec).where(Run.experiment_id == experiment.id)).all()
        distinct = {repr(sorted(spec.items())): spec for spec in specs}.values()
        validated = [_spec_or_none(spec) for spec in distinct]
        warnings = grid_mod.distinct_warnings([spec for spec in validated if spec is not None])
    return {
        **experiment_dict(experiment),
        "base": experiment.base,
        "grid": experiment.grid,
        "replicates": experiment.replicates or ["training.seed"],
        "search": experiment.search,
        "pruner": experiment.pruner,
        "pruned_epochs_saved": sum(
            max(run["progress"]["epochs"] - run["progress"]["epoch"], 0) for run in runs if run["state"] == PRUNED
        ),
        "runs": runs,
        "warnings": warnings,
    }


def _spec_or_none(data: dict[str, Any]) -> RunSpec | None:
    try:
        return RunSpec.model_validate(data)
    except ValidationError:
        return None


def list_experiments(
    session: Session, *, limit: int, offset: int, tag: str | None = None, q: str | None = None
) -> dict[str, Any]:
    """One page of experiments, newest first, each with its run count per state."""
    conditions = []
    if tag is not None:
        conditions.append(Experiment.id.in_(select(ExperimentTag.experiment_id).where(ExperimentTag.tag == tag)))
    if q is not None:
        pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(func.lower(Experiment.name).like(pattern, escape="\\"))
    total = session.scalar(select(func.count()).select_from(Experiment).where(*conditions))
    experiments = session.scalars(
        select(Experiment).where(*conditions).order_by(Experiment.id.desc()).limit(limit).offset(offset)
    ).all()
    ids = [e.id for e in experiments]
    counts: dict[int, dict[str, int]] = {i: {} for i in ids}
    if ids:
        rows = session.execute(
            select(Run.experiment_id, Run.state, func.count())
            .where(Run.experiment_id.in_(ids))
            .group_by(Run.experiment_id, Run.state)
        )
        for experiment_id, state, count in rows:
            counts[experiment_id][state] = count
    items = [
        {**experiment_dict(e), "run_count": sum(counts[e.id].values()), "states": counts[e.id]} for e in experiments
    ]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def delete_experiment(session: Session, experiment: Experiment) -> None:
    """Delete an experiment with its runs, points and model files; running runs are cancelled first."""
    rows = session.execute(select(Run.id, Run.state, Run.artifact_path).where(Run.experiment_id == experiment.id)).all()
    for run_id, state, _ in rows:
        stop_if_running(run_id, state)
    session.execute(delete(Experiment).where(Experiment.id == experiment.id))
    session.commit()
    if experiment.search is not None or experiment.pruner is not None:
        delete_study(experiment.id)
    for _, _, artifact in rows:
        remove_artifact(artifact)
