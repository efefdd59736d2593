"""Metric endpoints of one run: read (downsampled) and write (idempotent, for workers)."""

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from backend.deps import RunDep, RunId, SessionDep
from backend.metrics.downsample import downsample
from backend.metrics.schemas import MaxPoints, Names, PointsIn, parse_names
from backend.metrics.service import ingest, read_series
from backend.responses import OrjsonResponse

router = APIRouter(prefix="/api/runs", tags=["metrics"])


def shrink(series: dict[str, dict[str, Any]], max_points: int) -> dict[str, dict[str, Any]]:
    """Downsample the step series longer than ``max_points``; epoch series stay whole."""
    for data in series.values():
        if data["axis"] == "step" and len(data["x"]) > max_points:
            data["x"], data["y"], data["t"] = downsample(data["x"], data["y"], data["t"], max_points)
    return series


@router.get("/{run_id}/metrics", response_class=OrjsonResponse)
def get_metrics(run: RunDep, session: SessionDep, names: Names = None, max_points: MaxPoints = 1000) -> OrjsonResponse:
    """The run's series as columns: ``{"run_id", "series": {name: {"axis", "x", "y", "t"}}}``."""
    series = read_series(session, [run.id], parse_names(names))[run.id]
    return OrjsonResponse({"run_id": run.id, "series": shrink(series, max_points)})


@router.post("/{run_id}/metrics", response_class=OrjsonResponse)
async def post_metrics(run_id: RunId, body: PointsIn) -> OrjsonResponse:
    """Store a batch of points; a point sent again overwrites itself, never duplicates."""
    # The hot path of every worker: one hop to a thread for all the database work.
    points = [p.model_dump() for p in body.points]
    written = await run_in_threadpool(ingest, run_id, points)
    return OrjsonResponse({"run_id": run_id, "written": written})
