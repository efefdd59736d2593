"""Experiment endpoints: thin wrappers over the service."""

from fastapi import APIRouter, BackgroundTasks, Response
from starlette.convertors import StringConvertor, register_url_convertor

from backend.deps import ExperimentDep, SessionDep
from backend.dispatch import dispatch_runs
from backend.experiments import service
from backend.search.coordinator import settle_study, start_trials
from backend.search.importance import importance
from backend.search.schemas import ImportanceMethod, ImportanceMetric, ImportanceOut
from backend.errors import error_responses
from backend.experiments.schemas import ExperimentCreate, ExperimentDetail, ExperimentPage, ExperimentPatch, PlanOut
from backend.responses import OrjsonResponse
from backend.runs.schemas import Limit, Offset, TagFilter, TextFilter

router = APIRouter(prefix="/api/experiments", tags=["experiments"])


class ExperimentIdConvertor(StringConvertor):
    """An experiment id segment that is not ``plan``, so GET /api/experiments/plan is a 405, not a bad id."""

    regex = "(?!plan$)[^/]+"


register_url_convertor("experiment_id", ExperimentIdConvertor())


@router.post(
    "", status_code=201, response_class=OrjsonResponse, response_model=ExperimentDetail, responses=error_responses(422)
)
def create_experiment(body: ExperimentCreate, session: SessionDep, background: BackgroundTasks) -> OrjsonResponse:
    """Create an experiment and queue one run per grid combination."""
    experiment, warnings = service.create_experiment(session, body)
    # After the commit, so a worker that picks the task up at once finds the row.
    if experiment.search is not None:
        dispatch_runs(start_trials(experiment.id))  # the first `parallel` trials
        background.add_task(settle_study, experiment.id)  # the next trial, asked ahead after the answer
    else:
        dispatch_runs(service.run_ids_of(session, experiment.id))
    return OrjsonResponse(service.experiment_detail(session, experiment, warnings), status_code=201)


@router.post("/plan", response_class=OrjsonResponse, response_model=PlanOut, responses=error_responses(422))
def plan_experiment(body: ExperimentCreate) -> OrjsonResponse:
    """The runs ``POST /api/experiments`` would queue for this body (names, specs, sizes, planned rates); creates nothing."""
    return OrjsonResponse(service.plan_experiment(body))


@router.get("", response_class=OrjsonResponse, response_model=ExperimentPage, responses=error_responses(422))
def list_experiments(
    session: SessionDep, limit: Limit = 50, offset: Offset = 0, tag: TagFilter = None, q: TextFilter = None
) -> OrjsonResponse:
    """Experiments, newest first, with run counts per state."""
    return OrjsonResponse(service.list_experiments(session, limit=limit, offset=offset, tag=tag, q=q))


@router.get(
    "/{experiment_id:experiment_id}", response_class=OrjsonResponse, response_model=ExperimentDetail, responses=error_responses(404, 422)
)
def get_experiment(experiment: ExperimentDep, session: SessionDep) -> OrjsonResponse:
    """One experiment with its runs."""
    return OrjsonResponse(service.experiment_detail(session, experiment))


@router.patch(
    "/{experiment_id:experiment_id}", response_class=OrjsonResponse, response_model=ExperimentDetail, responses=error_responses(404, 422)
)
def patch_experiment(experiment: ExperimentDep, session: SessionDep, body: ExperimentPatch) -> OrjsonResponse:
    """Rename a study, or set its description or tags; fields left out stay as they are."""
    service.update_experiment(session, experiment, body.model_dump(exclude_unset=True, exclude_none=True))
    return OrjsonResponse(service.experiment_detail(session, experiment))


@router.get(
    "/{experiment_id:experiment_id}/importance", response_class=OrjsonResponse, response_model=ImportanceOut,
    responses=error_responses(404, 422),
)
def get_importance(
    experiment: ExperimentDep, session: SessionDep, metric: ImportanceMetric = "best_val_accuracy",
    method: ImportanceMethod = "ped_anova",
) -> OrjsonResponse:
    """How much each varied field matters to ``metric``, by Optuna's PED-ANOVA (or fANOVA); needs 8 finished runs."""
    return OrjsonResponse(importance(session, experiment, metric, method))


@router.delete("/{experiment_id:experiment_id}", status_code=204, response_class=Response, responses=error_responses(404, 422))
def delete_experiment(experiment: ExperimentDep, session: SessionDep) -> Response:
    """Delete an experiment, its runs, their points and model files."""
    service.delete_experiment(session, experiment)
    return Response(status_code=204)
