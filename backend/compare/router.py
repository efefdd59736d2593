"""GET /api/compare: several runs in one response."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from backend.analysis import service as analysis
from backend.analysis.schemas import BandParam, BaselineParam, GroupByParam, MetricParam
from backend.compare import export, service
from backend.compare.schemas import CompareOut
from backend.errors import error_responses
from backend.metrics.schemas import MaxPoints, Names, XWindow, parse_names
from backend.responses import OrjsonResponse
from backend.run_ids import RunIds

router = APIRouter(prefix="/api/compare", tags=["compare"])

@router.get("", response_class=OrjsonResponse, response_model=CompareOut, responses=error_responses(404, 422))
async def compare_runs(
    ids: RunIds,
    window: XWindow,
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
    # One hop to a thread for all the database work, instead of one per sync dependency.
    if group_by.strip() == "none":
        return OrjsonResponse(await run_in_threadpool(service.compare_runs, ids, parse_names(names), max_points, **window))
    result = await run_in_threadpool(
        analysis.grouped_comparison, ids, parse_names(names), max_points, **window,
        group_by=group_by, metric=metric, baseline=baseline, band=band,
    )
    return OrjsonResponse(result)


CSV_RESPONSE = {"description": "Every stored point, never downsampled", "content": {"text/csv": {"schema": {"type": "string"}}}}
ExportFormat = Annotated[Literal["arrow", "csv"], Query(description="arrow (Arrow IPC stream) or csv")]


@router.get("/csv", response_class=StreamingResponse, responses={200: CSV_RESPONSE, **error_responses(404, 422)})
async def compare_csv(ids: RunIds, names: Names = None) -> StreamingResponse:
    """Every point of the runs as CSV: ``run_id, run_name, metric, axis, x, value, t``, formula-like text quoted."""
    return await export_response(ids, names, "csv")


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Every stored point, never downsampled, streamed one run at a time",
            "content": {export.ARROW_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}, **CSV_RESPONSE["content"]},
        },
        **error_responses(404, 422),
    },
)
async def compare_export(ids: RunIds, names: Names = None, format: ExportFormat = "arrow") -> StreamingResponse:  # noqa: A002
    """Every point of the runs, raw. ``arrow``: an Arrow IPC stream with columns ``run_id`` (int32),
    ``metric``, ``axis`` (dictionary-encoded text), ``x`` (int64), ``value`` (float32), ``t``
    (float64, null when not recorded), one record batch per run. ``csv``: as GET /api/compare/csv."""
    return await export_response(ids, names, format)


async def export_response(ids: list[int], names: str | None, kind: str) -> StreamingResponse:
    # Also the 404 for a missing run, before any byte is sent.
    run_names = await run_in_threadpool(export.run_names, ids)
    stem = "reglab-" + "-".join(map(str, ids[:10]))
    if kind == "arrow":
        chunks = iterate_in_threadpool(export.arrow_chunks(ids, parse_names(names)))
        media_type, filename = export.ARROW_MEDIA_TYPE, f"{stem}.arrows"
    else:
        chunks = iterate_in_threadpool(export.csv_rows(ids, parse_names(names), run_names))
        media_type, filename = "text/csv; charset=utf-8", f"{stem}.csv"
    return StreamingResponse(chunks, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
