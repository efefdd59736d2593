"""Run endpoints: thin wrappers over the service."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session
from starlette.convertors import StringConvertor, register_url_convertor

from backend.artifacts import artifact_file
from backend.bounds import PartialSpec, shallow
from backend.deps import RunDep, SessionDep
from backend.dispatch import dispatch_runs
from backend.errors import NotFound, error_responses
from backend.hot_routes import HotAnswer, HotCall
from backend.responses import OrjsonResponse
from backend.runs import service
from backend.runs.schemas import (
    CancelOut,
    CloneBatch,
    CloneBatchOut,
    IdFilter,
    Limit,
    ModelSummary,
    Offset,
    RunDetail,
    RunFilter,
    RunPage,
    RunPatch,
    StateName,
    TagFilter,
    TextFilter,
)
from backend.runs.sorting import SortParam
from backend.sender import send_soon

router = APIRouter(prefix="/api/runs", tags=["runs"])


class RunIdConvertor(StringConvertor):
    """A run id segment that is not ``external`` or ``clone``, so GET /api/runs/external (or /clone) is a 405, not a bad id."""

    regex = "(?!(?:external|clone)$)[^/]+"


register_url_convertor("run_id", RunIdConvertor())

Overrides = Annotated[
    PartialSpec,
    Body(
        description="Partial spec merged over the run's spec",
        examples=[{"regularization": {"dropout": 0.3}}],
    ),
]


@router.get("", response_class=OrjsonResponse, response_model=RunPage, responses=error_responses(422))
def list_runs(
    session: SessionDep,
    limit: Limit = 50,
    offset: Offset = 0,
    experiment_id: IdFilter = None,
    state: StateName | None = None,
    tag: TagFilter = None,
    q: TextFilter = None,
    sort: SortParam = "-created",
    filter: RunFilter = None,  # noqa: A002 - the query parameter's name
    with_spec: Annotated[bool, Query(description="Include each run's spec (as GET /api/runs/{id} has it)")] = False,
) -> OrjsonResponse:
    """A page of runs, newest first unless ``sort`` says otherwise: ``{"items", "total", "limit", "offset"}``."""
    page = service.list_runs(
        session, limit=limit, offset=offset, experiment_id=experiment_id, state=state, tag=tag, q=q, sort=sort,
        filter_text=filter, with_spec=with_spec,
    )
    return OrjsonResponse(page)


@router.get("/{run_id:run_id}", response_class=OrjsonResponse, response_model=RunDetail, responses=error_responses(404, 422))
def get_run(run: RunDep, session: SessionDep) -> OrjsonResponse:
    """One run with its complete spec."""
    return OrjsonResponse(service.run_detail(session, run))


@router.patch("/{run_id:run_id}", response_class=OrjsonResponse, response_model=RunDetail, responses=error_responses(404, 422))
def patch_run(run: RunDep, session: SessionDep, body: RunPatch) -> OrjsonResponse:
    """Rename a run, or set its tags or notes; fields left out stay as they are."""
    return OrjsonResponse(service.update_run(session, run, body.model_dump(exclude_unset=True, exclude_none=True)))


@router.post(
    "/{run_id}/cancel",
    response_class=OrjsonResponse,
    response_model=CancelOut,
    responses=error_responses(404, 409, 422, 503),
)
def cancel_run(run: RunDep, session: SessionDep) -> OrjsonResponse:
    """Cancel a queued run now, or ask a running run's worker to stop; 409 for a finished run."""
    return OrjsonResponse(service.cancel_run(session, run))


@router.post(
    "/{run_id}/clone",
    status_code=201,
    response_class=OrjsonResponse,
    response_model=RunDetail,
    responses=error_responses(404, 409, 422),
)
def clone_run(run: RunDep, overrides: Overrides = {}) -> OrjsonResponse:  # noqa: B006
    """A new queued run in the same experiment, with ``overrides`` merged over this run's spec.

    It is sent to the workers just after the answer, together with other clones of the same
    moment (so ``dispatched_at`` is null in the answer)."""
    return OrjsonResponse(clone_and_send_soon(run.id, overrides), status_code=201)


def clone_run_fast(run_id: int, body: Any) -> HotCall | None:
    """:func:`clone_run` for backend/hot_routes.py: the blocking call cloning for an overrides object
    the route would take, else None (the route then answers, its 422 included)."""
    if type(body) is not dict:
        return None
    try:
        shallow(body)
    except ValueError:
        return None

    return HotCall(lambda: HotAnswer(clone_and_send_soon(run_id, body), status=201))


def clone_and_send_soon(run_id: int, overrides: dict[str, Any]) -> dict[str, Any]:
    detail = service.clone_run(run_id, overrides)
    send_soon([detail["id"]])
    return detail


@router.post(
    "/clone",
    status_code=201,
    response_class=OrjsonResponse,
    response_model=CloneBatchOut,
    responses=error_responses(404, 409, 422),
)
def clone_many(batch: CloneBatch, session: SessionDep) -> OrjsonResponse:
    """Several clones at once (each a source run and its overrides): one transaction, one send to the
    workers, one announcement. Nothing is created unless every clone is valid."""
    sources = service.source_runs(session.connection(), [clone.run_id for clone in batch.clones])
    details = clone_and_send(session, [(sources[clone.run_id], clone.overrides) for clone in batch.clones])
    return OrjsonResponse({"runs": details}, status_code=201)


def clone_and_send(session: Session, requests: list[tuple[service.Source, dict[str, Any]]]) -> list[dict[str, Any]]:
    clones = service.clone_runs(session.connection(), requests)
    session.commit()  # before the send: the dispatcher claims them in its own transaction
    dispatch_runs([clone.row["id"] for clone in clones])
    return service.clone_details(session, clones)  # dispatched_at as the send left it


@router.delete("/{run_id:run_id}", status_code=204, response_class=Response, responses=error_responses(404, 422))
def delete_run(run: RunDep, session: SessionDep) -> Response:
    """Delete a run, its points and its model file (a running run is cancelled first)."""
    service.delete_run(session, run)
    return Response(status_code=204)


@router.get(
    "/{run_id}/model",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
        **error_responses(404, 422),
    },
)
def get_model(run: RunDep) -> FileResponse:
    """The trained model file the worker saved."""
    file = artifact_file(run.artifact_path)
    if file is None:
        raise NotFound(f"run {run.id} has no saved model (state: {run.state})")
    return FileResponse(file, filename=f"run-{run.id}{file.suffix}", media_type="application/octet-stream")


@router.get(
    "/{run_id}/summary", response_class=OrjsonResponse, response_model=ModelSummary, responses=error_responses(404, 422)
)
def get_model_summary(run: RunDep) -> OrjsonResponse:
    """The model's layers and parameter counts as the worker recorded them."""
    if run.model_summary is None:
        raise NotFound(f"run {run.id} has no model summary yet")
    return OrjsonResponse(run.model_summary)
