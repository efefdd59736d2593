"""Gathers the resource routers; each declares its own prefix and tags."""

from fastapi import APIRouter

from backend import health, spec_api, stream
from backend.analysis.router import router as analysis_router
from backend.compare.router import router as compare_router
from backend.experiments.router import router as experiments_router
from backend.metrics.router import router as metrics_router
from backend.runs.router import router as runs_router

api_router = APIRouter()
for router in (
    health.router,
    spec_api.router,
    experiments_router,
    analysis_router,
    runs_router,
    metrics_router,
    compare_router,
    stream.router,
):
    api_router.include_router(router)
