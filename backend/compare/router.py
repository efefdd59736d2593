"""GET /api/compare: several runs in one response."""

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from backend.compare import service
from backend.metrics.schemas import MaxPoints, Names, parse_names
from backend.responses import OrjsonResponse

router = APIRouter(prefix="/api/compare", tags=["compare"])

RunIds = Annotated[str, Query(min_length=1, max_length=1200, description="Comma-separated run ids (at most 100)")]


@router.get("", response_class=OrjsonResponse)
async def compare_runs(run_ids: RunIds, names: Names = None, max_points: MaxPoints = 1000) -> OrjsonResponse:
    """``{"runs": [...], "series": {run_id: {name: {...}}}, "params_diff": {field: {run_id: value}}}``."""
    ids = service.parse_run_ids(run_ids)
    # One hop to a thread for all the database work, instead of one per sync dependency.
    return OrjsonResponse(await run_in_threadpool(service.compare_runs, ids, parse_names(names), max_points))
