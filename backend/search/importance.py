"""Hyperparameter importance of a study's varied fields, by Optuna's PED-ANOVA (or fANOVA).

The study's finished runs become trials of an in-memory Optuna study (the
stored one holds only search trials, and a grid has none), with one
distribution per varied field: a search's own space, or for a grid its values
(numbers as a range, anything else as choices).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.analysis.grouping import get_path
from backend.experiments.grid import format_value
from backend.experiments.models import Experiment
from backend.runs.models import Run
from backend.search import space
from backend.search.schemas import SearchIn
from reglab.spec import flatten
from reglab.states import COMPLETED

MIN_RUNS = 8
Method = Literal["ped_anova", "fanova"]


def _grid_distributions(experiment: Experiment) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    replicates = set(experiment.replicates or ["training.seed"])
    made: dict[str, Any] = {}
    for key, values in (experiment.grid or {}).items():
        if key in replicates or len(values) < 2:
            continue
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            made[key] = FloatDistribution(min(values), max(values))
        else:
            made[key] = CategoricalDistribution(sorted({format_value(v) for v in values}))
    return made


def _param(dist: Any, value: Any, search: SearchIn | None, path: str) -> Any:
    from optuna.distributions import CategoricalDistribution

    if search is not None:
        dim = search.space[path]
        if dim.kind == "choice":
            return space.choice_labels(dim.choice)[dim.choice.index(value)]
        return value
    return format_value(value) if isinstance(dist, CategoricalDistribution) else float(value)


def importance(session: Session, experiment: Experiment, metric: str, method: Method) -> dict[str, Any]:
    """``{metric, method, runs, importances: [{field, importance}], reason}``; reason says why there are none."""
    import optuna

    search = SearchIn.model_validate(experiment.search) if experiment.search else None
    distributions = space.distributions(search) if search else _grid_distributions(experiment)
    rows = session.execute(
        select(Run.spec, Run.summary).where(Run.experiment_id == experiment.id, Run.state == COMPLETED)
    ).all()
    trials = []
    for spec, summary in rows:
        value = (summary or {}).get(metric)
        params = {path: get_path(spec, path) for path in distributions}
        if not isinstance(value, (int, float)) or not math.isfinite(value) or any(v is None for v in params.values()):
            continue
        params = {path: _param(distributions[path], v, search, path) for path, v in params.items()}
        trials.append(optuna.trial.create_trial(params=params, distributions=distributions, value=float(value)))
    result: dict[str, Any] = {"metric": metric, "method": method, "runs": len(trials), "importances": [], "reason": None}
    if not distributions:
        result["reason"] = "no field varies in this study, so there is nothing to rank"
    elif len(trials) < MIN_RUNS:
        result["reason"] = (f"too few finished runs: {len(trials)} completed with {metric}, "
                            f"importance needs at least {MIN_RUNS}")  # fmt: skip
    if result["reason"]:
        return result
    direction = "minimize" if "loss" in metric else "maximize"
    study = optuna.create_study(direction=direction)
    study.add_trials(trials)
    if method == "fanova":
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    else:
        evaluator = optuna.importance.PedAnovaImportanceEvaluator()
    ranked = optuna.importance.get_param_importances(study, evaluator=evaluator)
    result["importances"] = [{"field": field, "importance": float(score)} for field, score in ranked.items()]
    return result
