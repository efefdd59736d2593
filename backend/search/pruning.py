"""Pruning of grid and search studies with Optuna's own pruners, server side.

Each epoch a worker posts reports the run's value of the pruner's metric to
its Optuna trial (a grid run gets a trial on its first report) and asks the
pruner. A run to prune is stopped the way a cancel stops it (its cancel key,
marked as a prune with the reason), and :func:`backend.trainer.service.finish`
ends it ``pruned`` with that reason.
"""

from __future__ import annotations

import logging
import statistics
from typing import Any

from sqlalchemy import select, update

from backend import events
from backend.db import session_scope
from backend.errors import InvalidInput, field_error, shown
from backend.experiments.models import Experiment
from backend.runs.models import Run
from backend.search.schemas import PrunerIn, SearchIn
from reglab.states import COMPLETED, PRUNED

log = logging.getLogger(__name__)

# The per-epoch series every trained run records.
EPOCH_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")
PRUNERS = {"median": "MedianPruner", "successive_halving": "SuccessiveHalvingPruner",
           "hyperband": "HyperbandPruner", "none": "NopPruner"}  # fmt: skip


def _series_of(objective: str) -> str:
    """The per-epoch series behind a summary figure: best_val_accuracy -> val_accuracy."""
    for prefix in ("best_", "final_"):
        if objective.startswith(prefix):
            return objective[len(prefix) :]
    return objective.replace("test_", "val_", 1)


def resolve_pruner(pruner: PrunerIn, search: SearchIn | None) -> dict[str, Any]:
    """The stored pruner: name, metric, direction (filled from the objective) and Optuna's arguments."""
    metric = pruner.metric or (_series_of(search.objective.metric) if search else "val_accuracy")
    direction = pruner.direction or ("minimize" if "loss" in metric else "maximize")
    return {"name": pruner.name, "metric": metric, "direction": direction, **(pruner.model_extra or {})}


def make_pruner(stored: dict[str, Any]):
    import optuna

    kwargs = {k: v for k, v in stored.items() if k not in ("name", "metric", "direction")}
    return getattr(optuna.pruners, PRUNERS[stored["name"]])(**kwargs)


def check_pruner(pruner: PrunerIn, search: SearchIn | None) -> dict[str, Any]:
    """The stored pruner, or InvalidInput naming ``pruner.<field>``."""
    stored = resolve_pruner(pruner, search)
    if stored["metric"] not in EPOCH_METRICS:
        raise InvalidInput([field_error(
            "pruner.metric", f"no run records {shown(stored['metric'])} per epoch; prune on one of "
            + ", ".join(EPOCH_METRICS))])  # fmt: skip
    if search is not None and search.replicates > 1 and pruner.name != "none":
        raise InvalidInput([field_error("pruner", "pruning a search with replicates is not supported: a trial's "
                                        "replicates would report over each other; use replicates 1")])  # fmt: skip
    for key, value in (pruner.model_extra or {}).items():
        if not isinstance(value, (int, float, str, bool, type(None))):
            raise InvalidInput([field_error(f"pruner.{key}", f"must be a number, string, true/false or null, got {shown(value)}")])
    try:
        _dry_run(make_pruner(stored), stored["direction"])
    except (TypeError, ValueError, AttributeError, OverflowError) as exc:  # whatever Optuna says of odd arguments
        raise InvalidInput([field_error("pruner", f"Optuna's {PRUNERS[pruner.name]} refused its arguments: {exc}")]) from exc
    return stored


def _dry_run(pruner, direction: str) -> None:
    """Ask the pruner once on a throwaway in-memory study: some check their arguments only when they prune."""
    import optuna

    study = optuna.create_study(direction=direction, pruner=pruner)
    trial = study.ask()
    trial.report(0.5, 0)
    trial.should_prune()


def study_direction(experiment_search: dict | None, pruner: dict) -> str:
    return experiment_search["objective"]["direction"] if experiment_search else pruner["direction"]


def _trial_of(study, run_id: int, number: int | None) -> int | None:
    """The run's trial number, asking for one on a grid run's first report."""
    if number is not None:
        return number
    trial = study.ask()
    with session_scope() as session:
        done = session.execute(update(Run).where(Run.id == run_id, Run.trial.is_(None)).values(trial=trial.number))
    if done.rowcount != 1:  # a duplicate report got there first
        study.tell(trial.number, state=__import__("optuna").trial.TrialState.FAIL)
        with session_scope() as session:
            return session.scalar(select(Run.trial).where(Run.id == run_id))
    return trial.number


def report_epoch(run_id: int, points: list[dict[str, Any]]) -> str | None:
    """Report the run's new epoch values to its trial; the prune reason when the pruner stops it."""
    with session_scope() as session:
        row = session.execute(
            select(Run.experiment_id, Run.trial, Experiment.pruner, Experiment.search).join(Experiment)
            .where(Run.id == run_id)
        ).one_or_none()  # fmt: skip
    if row is None or row.pruner is None or row.pruner["name"] == "none":
        return None
    metric = row.pruner["metric"]
    values = sorted((p["x"], p["value"]) for p in points
                    if p.get("axis", "epoch") == "epoch" and p["name"] == metric and p.get("value") is not None)  # fmt: skip
    if not values:
        return None
    import optuna

    from backend.search.coordinator import load_study

    sign = 1.0 if row.pruner["direction"] == study_direction(row.search, row.pruner) else -1.0
    study = load_study(row.experiment_id, pruner=make_pruner(row.pruner))
    number = _trial_of(study, run_id, row.trial)
    trial_id = study._storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
    trial = optuna.trial.Trial(study, trial_id)
    reported = study._storage.get_trial(trial_id).intermediate_values
    for step, value in values:
        if step not in reported:  # a resumed run posts its epochs again
            trial.report(sign * value, step)
    if not trial.should_prune():
        return None
    reason = explain(study, number, values[-1][0], row.pruner, sign)
    events.request_cancel(run_id, prune=reason)
    log.info("run %s pruned: %s", run_id, reason)
    return reason


def explain(study, number: int, step: int, pruner: dict[str, Any], sign: float) -> str:
    """The prune decision in words, from the same figures the pruner looked at."""
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    maximize = study.direction == StudyDirection.MAXIMIZE
    trials = study.get_trials(deepcopy=False)
    own = trials[number].intermediate_values
    upto = [v for s, v in own.items() if s <= step]
    current = (max(upto) if maximize else min(upto)) * sign
    metric, epoch = pruner["metric"], step + 1
    if pruner["name"] == "median":
        others = [t.intermediate_values[step] for t in trials
                  if t.state == TrialState.COMPLETE and step in t.intermediate_values]  # fmt: skip
        median = statistics.median(others) * sign if others else float("nan")
        word = "below" if pruner["direction"] == "maximize" else "above"  # pruned means worse
        return (f"{metric} {current:.3f} at epoch {epoch} is {word} the median {median:.3f} "
                f"of {len(others)} runs at that epoch")  # fmt: skip
    reached = [t for t in trials if step in t.intermediate_values and t.number != number]
    kind = pruner["name"].replace("_", " ")
    return (f"{metric} {current:.3f} at epoch {epoch} is not among the best of the {len(reached) + 1} runs "
            f"that reached that epoch ({kind})")  # fmt: skip


def tell_grid_run(run_id: int) -> None:
    """Tell a pruned grid study how one of its runs ended, so the pruner compares with finished runs."""
    with session_scope() as session:
        row = session.execute(
            select(Run.experiment_id, Run.trial, Run.state, Experiment.pruner, Experiment.search).join(Experiment)
            .where(Run.id == run_id)
        ).one_or_none()  # fmt: skip
    if row is None or row.trial is None or row.pruner is None or row.search is not None:
        return
    from backend.search.coordinator import Outcome, load_study, tell

    study = load_study(row.experiment_id)
    trial = study.get_trials(deepcopy=False)[row.trial]
    last = trial.intermediate_values[max(trial.intermediate_values)] if trial.intermediate_values else None
    if row.state == COMPLETED and last is not None:
        tell(study, row.trial, Outcome("COMPLETE", last))
    else:
        tell(study, row.trial, Outcome("PRUNED" if row.state == PRUNED else "FAIL"))
