"""Gathers the resource routers; each declares its own prefix and tags."""

from fastapi import APIRouter

from backend import health, spec_api, stream
from backend.auth.router import router as session_router
from backend.auth.schemas import ACCESS_RESPONSES
from backend.compare.router import router as compare_router
from backend.experiments.router import router as experiments_router
from backend.metrics.router import router as metrics_router
from backend.runs.router import router as runs_router

api_router = APIRouter()
# Health and the session routes are open in every mode; the rest may answer 401/403/429.
api_router.include_router(health.router)
api_router.include_router(session_router)
for router in (
    spec_api.router,
    experiments_router,
    runs_router,
    metrics_router,
    compare_router,
    stream.router,
):
    api_router.include_router(router, responses=ACCESS_RESPONSES)
