"""GET /api/experiments/{id}/analysis: a study's groups, statistics and bands."""

from fastapi import APIRouter

from backend.analysis import service
from backend.analysis.schemas import BandParam, BaselineParam, ExperimentAnalysis, MetricParam
from backend.deps import ExperimentDep, SessionDep
from backend.errors import error_responses
from backend.responses import OrjsonResponse

router = APIRouter(prefix="/api/experiments", tags=["analysis"])


@router.get(
    "/{experiment_id}/analysis",
    response_model=ExperimentAnalysis,
    response_class=OrjsonResponse,
    responses=error_responses(404, 422),
)
def experiment_analysis(
    experiment: ExperimentDep,
    session: SessionDep,
    metric: MetricParam = service.DEFAULT_METRIC,
    baseline: BaselineParam = None,
    band: BandParam = "ci95",
) -> OrjsonResponse:
    """Runs grouped by condition (spec minus replicate fields), each summary metric against the baseline."""
    return OrjsonResponse(
        service.experiment_analysis(session, experiment, metric=metric, baseline=baseline, band=band)
    )
