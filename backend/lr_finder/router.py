"""POST /api/lr-finder: a thin wrapper over the service."""

from fastapi import APIRouter

from backend.deps import SessionDep
from backend.dispatch import dispatch_runs
from backend.errors import error_responses
from backend.lr_finder import service
from backend.lr_finder.schemas import LrFinderIn
from backend.responses import OrjsonResponse
from backend.runs.schemas import RunDetail
from backend.runs.service import run_detail

router = APIRouter(prefix="/api/lr-finder", tags=["lr-finder"])


@router.post("", status_code=201, response_class=OrjsonResponse, response_model=RunDetail, responses=error_responses(422))
def find_learning_rate(body: LrFinderIn, session: SessionDep) -> OrjsonResponse:
    """Queue a finder run: loss against an exponentially growing rate; its summary suggests a learning rate."""
    run = service.create_finder_run(session, body)
    dispatch_runs([run.id])
    return OrjsonResponse(run_detail(session, run), status_code=201)
