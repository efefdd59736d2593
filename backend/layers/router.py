"""The layer endpoints: a trainer's snapshots in, one run's history out, and the comparison across runs."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from backend.analysis.schemas import GroupByParam
from backend.deps import RunId
from backend.errors import error_responses
from backend.layers import compare, service
from backend.layers.schemas import CompareLayersOut, LayersIn, LayersWrittenOut, RunLayersOut
from backend.responses import OrjsonResponse
from backend.run_ids import RunIds

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


compare_router = APIRouter(prefix="/api/compare", tags=["compare"])

EpochParam = Annotated[str, Query(min_length=1, max_length=16, description="last (each run's last snapshot), -1 "
                                  "(before training) or an epoch", examples=["last"])]  # fmt: skip
Tensor = Annotated[Literal["weights", "activations", "gradients"], Query(description="Which tensor's statistics")]
Stat = Annotated[str, Query(min_length=1, max_length=32, description="mean, std, l2, abs_max, zero_fraction; "
                            "max_col_norm (weights), saturated_fraction (activations)")]  # fmt: skip
LayerParam = Annotated[str | None, Query(min_length=1, max_length=200, description="Only this layer's histograms, on "
                                         "edges common to its runs (finer than those common to every layer)")]  # fmt: skip


@compare_router.get(
    "/layers", response_class=OrjsonResponse, response_model=CompareLayersOut, responses=error_responses(404, 422)
)
async def compare_layers(
    ids: RunIds,
    epoch: EpochParam = "last",
    tensor: Tensor = "weights",
    stat: Stat = "std",
    group_by: GroupByParam = "none",
    layer: LayerParam = None,
) -> OrjsonResponse:
    """Depth profiles (the statistic of each layer, matched by name) per run or per group (mean and 95 % t band
    over its runs), and each layer's histograms at that epoch on common edges; one query for all runs."""
    result = await run_in_threadpool(compare.compare_layers, ids, epoch, tensor, stat, group_by, layer)
    return OrjsonResponse(result)
