"""Request dependencies as Annotated aliases: a session, and loaders that 404 on a missing id."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path
from sqlalchemy.orm import Session

from backend.db import get_sessionmaker
from backend.datasets.models import Dataset
from backend.errors import NotFound
from backend.experiments.models import Experiment
from backend.run_ids import MAX_ID
from backend.runs.models import Run



def get_session() -> Iterator[Session]:
    """A session per request; services commit what they change, anything else rolls back."""
    session = get_sessionmaker()()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def valid_run(run_id: Annotated[int, Path(ge=1, le=MAX_ID)], session: SessionDep) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise NotFound(f"run {run_id} not found")
    return run


def valid_experiment(experiment_id: Annotated[int, Path(ge=1, le=MAX_ID)], session: SessionDep) -> Experiment:
    experiment = session.get(Experiment, experiment_id)
    if experiment is None:
        raise NotFound(f"experiment {experiment_id} not found")
    return experiment


def valid_dataset(dataset_id: Annotated[int, Path(ge=1, le=MAX_ID)], session: SessionDep) -> Dataset:
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound(f"dataset {dataset_id} not found")
    return dataset


RunDep = Annotated[Run, Depends(valid_run)]
# A bare, bounded run id for the hot paths that check existence inside their own query.
RunId = Annotated[int, Path(ge=1, le=MAX_ID)]
ExperimentDep = Annotated[Experiment, Depends(valid_experiment)]
DatasetDep = Annotated[Dataset, Depends(valid_dataset)]
