"""Queue an LR finder run: the form's spec with a constant rate, one epoch, and the sweep's settings."""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy.orm import Session

from backend.errors import InvalidInput, field_error, spec_errors
from backend.experiments.models import Experiment
from backend.limits import breaches
from backend.lr_finder.schemas import LrFinderIn
from backend.runs.models import Run
from reglab.spec import LR_FINDER, build_spec, deep_merge
from reglab.states import QUEUED


def create_finder_run(session: Session, body: LrFinderIn) -> Run:
    """The queued finder run in an experiment of its own; InvalidInput naming the field otherwise."""
    if body.max_rate <= body.min_rate:
        raise InvalidInput([field_error("max_rate", f"must be above min_rate ({body.min_rate:g}), got {body.max_rate:g}")])
    # The finder sets the rate itself, batch by batch: any schedule would fight it. The form's spec is
    # checked as given first, so a bad value the overrides would replace is still a 422.
    overrides = {"schedule": {"name": "constant"}, "training": {"epochs": 1, "early_stopping": None}}
    try:
        spec = build_spec(deep_merge(build_spec(body.spec).model_dump(mode="json"), overrides))
    except ValidationError as exc:
        raise InvalidInput(spec_errors(exc, prefix="spec.")) from exc
    if found := breaches(spec):
        raise InvalidInput([field_error(f"spec.{b.field}", b.msg, b.type) for b in found])
    stored = spec.model_dump(mode="json")
    experiment = Experiment(name="LR finder", description="", tags=["lr-finder"], base=stored, grid={})
    session.add(experiment)
    session.flush()
    finder = {"min_rate": body.min_rate, "max_rate": body.max_rate, "batches": body.batches}
    run = Run(
        experiment_id=experiment.id, name=f"LR finder {body.min_rate:g} to {body.max_rate:g}",
        spec={**stored, LR_FINDER: finder}, state=QUEUED, epoch=0, epochs=1, summary={},
    )  # fmt: skip
    session.add(run)
    session.commit()
    return run
