"""Metric endpoints of one run: read (downsampled) and write (idempotent, for workers)."""

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from backend.deps import RunId
from backend.errors import error_responses
from backend.hot_routes import HotAnswer, HotCall
from backend.loop_writes import write_now
from backend.metrics.batch import checked
from backend.metrics.schemas import MaxPoints, MetricsOut, Names, PointsIn, WrittenOut, XWindow, parse_names
from backend.metrics.service import ingest, run_series, write_points
from backend.responses import OrjsonResponse

router = APIRouter(prefix="/api/runs", tags=["metrics"])

# Batches of up to this many points are first tried on the event loop (backend/loop_writes.py); a bigger one
# would hold the loop for milliseconds, and beside its write the hop to a thread costs nothing.
LOOP_POINTS = 100


@router.get(
    "/{run_id}/metrics", response_class=OrjsonResponse, response_model=MetricsOut, responses=error_responses(404, 422)
)
async def get_metrics(
    run_id: RunId, window: XWindow, names: Names = None, max_points: MaxPoints = 1000
) -> OrjsonResponse:
    """The run's series as columns: ``{"run_id", "series": {name: {"axis", "x", "y", "t"}}}``.

    Step series longer than ``max_points`` keep each bucket's min and max; inside a
    narrow ``x_min``..``x_max`` window they come at full resolution.
    """
    # Polled by every open chart: one hop to a thread for all the database work.
    series = await run_in_threadpool(run_series, run_id, parse_names(names), max_points=max_points, **window)
    return OrjsonResponse({"run_id": run_id, "series": series})


@router.post(
    "/{run_id}/metrics", response_class=OrjsonResponse, response_model=WrittenOut, responses=error_responses(404, 422)
)
async def post_metrics(run_id: RunId, body: PointsIn) -> OrjsonResponse:
    """Store a batch of points; a point sent again overwrites itself, never duplicates."""
    # The hot path of every worker: one hop to a thread for all the database work.
    # One dump of the whole body: dumping point by point costs more than storing them.
    points = body.model_dump()["points"]
    written = await run_in_threadpool(ingest, run_id, points)
    return OrjsonResponse({"run_id": run_id, "written": written})


def post_metrics_fast(run_id: int, body: Any) -> HotCall | None:
    """:func:`post_metrics` for backend/hot_routes.py: the blocking call storing a well-formed body, else None."""
    if type(body) is not dict or body.keys() != {"points"} or (batch := checked(body["points"])) is None:
        return None

    def now() -> HotAnswer | None:
        done = write_now(lambda connection: write_points(connection, run_id, batch))
        return None if done is None else HotAnswer({"run_id": run_id, "written": done[0]}, done[1])

    return HotCall(lambda: HotAnswer({"run_id": run_id, "written": ingest(run_id, batch)}),
                   now if len(batch) <= LOOP_POINTS else None)  # fmt: skip
