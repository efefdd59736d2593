"""GET /api/experiments/{id}/report: the study as one self-contained HTML file."""

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from backend.analysis.schemas import BandParam, BaselineParam, MetricParam
from backend.analysis.service import DEFAULT_METRIC
from backend.deps import ExperimentDep, SessionDep
from backend.errors import error_responses
from backend.report import service, template

router = APIRouter(prefix="/api/experiments", tags=["report"])

HTML_RESPONSE = {
    "description": "One HTML file: Plotly.js, the styles and the data inlined; it makes no request when opened",
    "content": {"text/html": {"schema": {"type": "string"}}},
}


@router.get(
    "/{experiment_id}/report",
    # Response, not HTMLResponse: the documented error bodies stay application/json.
    response_class=Response,
    responses={200: HTML_RESPONSE, **error_responses(404, 422)},
)
def experiment_report(
    experiment: ExperimentDep,
    session: SessionDep,
    metric: MetricParam = DEFAULT_METRIC,
    baseline: BaselineParam = None,
    band: BandParam = "ci95",
) -> HTMLResponse:
    """The study's report, as the Study page shows it: setup, results and verdicts, path, curves, a reproduce block."""
    data = service.report_data(session, experiment, metric=metric, baseline=baseline, band=band)
    headers = {
        # The file's own policy, also as the header: served by the API it is just as closed.
        "Content-Security-Policy": template.CSP,
        "Content-Disposition": f'inline; filename="reglab-study-{experiment.id}.html"',
        "Cache-Control": "no-store",
    }
    return HTMLResponse(template.render(data), headers=headers)
