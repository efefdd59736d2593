"""GET /api/compare: several runs in one response."""

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from backend.compare import service
from backend.compare.schemas import CompareOut
from backend.errors import error_responses
from backend.metrics.schemas import MaxPoints, Names, parse_names
from backend.responses import OrjsonResponse
from backend.run_ids import RunIds

router = APIRouter(prefix="/api/compare", tags=["compare"])

@router.get("", response_class=OrjsonResponse, response_model=CompareOut, responses=error_responses(404, 422))
async def compare_runs(ids: RunIds, names: Names = None, max_points: MaxPoints = 1000) -> OrjsonResponse:
    """``{"runs": [...], "series": {run_id: {name: {...}}}, "params_diff": {field: {run_id: value}}}``."""
    # One hop to a thread for all the database work, instead of one per sync dependency.
    return OrjsonResponse(await run_in_threadpool(service.compare_runs, ids, parse_names(names), max_points))
