"""What a study's report shows, gathered from the services the Study page reads.

Every number comes from an existing service function (the experiment's detail,
its analysis, its importance): the report recomputes nothing, so it says what
the dashboard says.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections import Counter
from typing import Any

from sqlalchemy.orm import Session

from backend.analysis import service as analysis_service
from backend.experiments import service as experiment_service
from backend.experiments.models import Experiment
from reglab.states import PRUNED
from backend.search.importance import importance
from backend.search.schemas import OBJECTIVE_METRICS
from backend.timeutil import iso

# The keys `reglab submit` reads from a study file (backend/cli/main.py STUDY_KEYS).
SUBMIT_KEYS = ("name", "description", "tags", "base", "grid")


def reglab_version() -> str:
    try:
        return importlib.metadata.version("reglab")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def study_body(experiment: Experiment) -> dict[str, Any]:
    """The POST /api/experiments body that creates this study again: the complete base, the grid, the search."""
    body: dict[str, Any] = {
        "name": experiment.name,
        "description": experiment.description or "",
        "tags": list(experiment.tags or []),
        "base": experiment.base,
        "grid": experiment.grid or {},
    }
    if experiment.replicates:
        body["replicates"] = experiment.replicates
    if experiment.search is not None:
        body["search"] = experiment.search
    if experiment.pruner is not None:
        # The stored pruner is the resolved one (its direction added); the request takes the given fields.
        body["pruner"] = {key: value for key, value in experiment.pruner.items() if key != "direction"}
    return body


def environment(detail: dict[str, Any], experiment: Experiment) -> dict[str, Any]:
    """When and where the runs trained, as each run recorded it (backend, device, host)."""
    runs = detail["runs"]
    started = sorted(run["started_at"] for run in runs if run["started_at"])
    finished = sorted(run["finished_at"] for run in runs if run["finished_at"])
    places = Counter((run["backend"] or "not recorded", run["device"] or "not recorded", run["worker_host"] or "not recorded")
                     for run in runs if run["backend"] or run["device"] or run["worker_host"])
    dataset = (experiment.base or {}).get("dataset", {})
    varied = {key: values for key, values in (experiment.grid or {}).items() if key.startswith("dataset.")}
    return {
        "created_at": iso(experiment.created_at),
        "first_start": started[0] if started else None,
        "last_finish": finished[-1] if finished else None,
        "places": [{"backend": b, "device": d, "host": h, "runs": n} for (b, d, h), n in places.most_common()],
        "dataset": {"name": dataset.get("name"), "sha256": dataset.get("sha256"), "varied": varied},
        "reglab_version": reglab_version(),
    }


def report_data(
    session: Session, experiment: Experiment, *, metric: str, baseline: str | None, band: str
) -> dict[str, Any]:
    """Everything the report draws, as the dashboard's endpoints answer it."""
    analysis_service.check_metric(metric)
    detail = experiment_service.experiment_detail(session, experiment)
    analysis = analysis_service.experiment_analysis(session, experiment, metric=metric, baseline=baseline, band=band)
    ranked_on = metric if metric in OBJECTIVE_METRICS else "best_val_accuracy"
    ranking = importance(session, experiment, ranked_on, "ped_anova")
    pruned = sum(1 for run in detail["runs"] if run["state"] == PRUNED)
    body = study_body(experiment)
    return {
        "experiment": {key: detail[key] for key in ("id", "name", "description", "tags", "created_at", "base", "grid",
                                                      "replicates", "search", "pruner", "warnings")},
        "runs": [{key: run[key] for key in ("id", "name", "state", "epoch", "epochs")} for run in detail["runs"]],
        "environment": environment(detail, experiment),
        "analysis": analysis,
        "importance": ranking,
        "pruning": {"pruned_runs": pruned, "epochs_saved": detail["pruned_epochs_saved"]} if experiment.pruner else None,
        "reproduce": {
            "body": body,
            "json": json.dumps(body, indent=2, ensure_ascii=False),
            "submit_ok": set(body) <= set(SUBMIT_KEYS),
        },
    }
