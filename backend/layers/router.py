"""The layer endpoints: a trainer's snapshots in, one run's history out, and the comparison across runs."""

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from backend.deps import RunId
from backend.errors import error_responses
from backend.layers import service
from backend.layers.schemas import LayersIn, LayersWrittenOut, RunLayersOut
from backend.responses import OrjsonResponse

router = APIRouter(prefix="/api/runs", tags=["layers"])

Epochs = Annotated[
    str | None,
    Query(max_length=10_000, description="Comma-separated epochs (-1: before training); all when omitted",
          examples=["-1,0,9"]),
]  # fmt: skip


@router.post(
    "/{run_id}/layers", response_class=OrjsonResponse, response_model=LayersWrittenOut,
    responses=error_responses(404, 409, 422),
)  # fmt: skip
async def post_layers(run_id: RunId, body: LayersIn) -> OrjsonResponse:
    """Store per-layer snapshots of the attempt's run (an epoch sent again replaces the stored one); each stored
    epoch is announced live as an SSE ``layers`` event. 409 once the run is not this attempt's."""
    snapshots = [snapshot.model_dump(exclude_unset=True) for snapshot in body.snapshots]
    descriptions = None if body.layers is None else [layer.model_dump() for layer in body.layers]
    written = await run_in_threadpool(service.ingest, run_id, body.attempt, snapshots, descriptions)
    return OrjsonResponse({"run_id": run_id, "written": written})


@router.get("/{run_id}/layers", response_class=OrjsonResponse, response_model=RunLayersOut, responses=error_responses(404, 422))
async def get_layers(run_id: RunId, epochs: Epochs = None) -> OrjsonResponse:
    """The run's layer descriptions and snapshots, sorted by epoch; empty lists for a run without any."""
    wanted = service.parse_epochs(epochs)
    return OrjsonResponse(await run_in_threadpool(service.run_layers, run_id, wanted))
