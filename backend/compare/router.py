"""GET /api/compare: several runs in one response."""

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from backend.analysis import service as analysis
from backend.analysis.schemas import BandParam, BaselineParam, GroupByParam, MetricParam
from backend.compare import service
from backend.metrics.schemas import MaxPoints, Names, parse_names
from backend.responses import OrjsonResponse

router = APIRouter(prefix="/api/compare", tags=["compare"])

RunIds = Annotated[str, Query(min_length=1, max_length=1200, description="Comma-separated run ids (at most 100)")]


@router.get("", response_class=OrjsonResponse)
async def compare_runs(
    run_ids: RunIds,
    names: Names = None,
    max_points: MaxPoints = 1000,
    group_by: GroupByParam = "none",
    metric: MetricParam = analysis.DEFAULT_METRIC,
    baseline: BaselineParam = None,
    band: BandParam = "ci95",
) -> OrjsonResponse:
    """``{"runs": [...], "series": {run_id: {name: {...}}}, "params_diff": {field: {run_id: value}}}``.

    With ``group_by`` other than none, also ``analysis``: the runs' groups, their
    statistics and per-epoch bands, as GET /api/experiments/{id}/analysis gives them.
    """
    ids = service.parse_run_ids(run_ids)
    # One hop to a thread for all the database work, instead of one per sync dependency.
    if group_by.strip() == "none":
        return OrjsonResponse(await run_in_threadpool(service.compare_runs, ids, parse_names(names), max_points))
    result = await run_in_threadpool(
        analysis.grouped_comparison, ids, parse_names(names), max_points,
        group_by=group_by, metric=metric, baseline=baseline, band=band,
    )
    return OrjsonResponse(result)
