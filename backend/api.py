"""Gathers the resource routers; each declares its own prefix and tags.

Conventions every router follows (the schemathesis test holds them):
each route declares a ``response_model`` (or, for files and streams, its
``responses[200]`` content) and documents its errors with
``responses=error_responses(404, 422, ...)`` from backend.errors; unknown
query parameters are refused here, for all of them.
"""

from fastapi import APIRouter, Depends

from backend import health, spec_api, stream
from backend.analysis.router import router as analysis_router
from backend.auth.router import router as session_router
from backend.auth.schemas import ACCESS_RESPONSES
from backend.compare.router import router as compare_router
from backend.datasets.router import router as datasets_router
from backend.errors import reject_unknown_query
from backend.experiments.router import router as experiments_router
from backend.layers.router import compare_router as compare_layers_router, router as layers_router
from backend.lr_finder.router import router as lr_finder_router
from backend.metrics.router import router as metrics_router
from backend.runs.router import router as runs_router
from backend.trainer.router import external_router, router as trainer_router

api_router = APIRouter()
# Health and the session routes are open in every mode; the rest may answer 401/403/429.
api_router.include_router(health.router)
api_router.include_router(session_router)
for router in (
    spec_api.router,
    experiments_router,
    lr_finder_router,
    analysis_router,
    external_router,
    runs_router,
    metrics_router,
    layers_router,
    compare_router,
    compare_layers_router,
    datasets_router,
    trainer_router,
    stream.router,
):
    api_router.include_router(router, dependencies=[Depends(reject_unknown_query)], responses=ACCESS_RESPONSES)
