"""Gathers the resource routers; each declares its own prefix and tags."""

from fastapi import APIRouter

from backend import health, spec_api, stream
from backend.compare.router import router as compare_router
from backend.experiments.router import router as experiments_router
from backend.metrics.router import router as metrics_router
from backend.runs.router import router as runs_router
from backend.trainer.router import external_router, router as trainer_router

api_router = APIRouter()
for router in (
    health.router,
    spec_api.router,
    experiments_router,
    external_router,
    runs_router,
    metrics_router,
    compare_router,
    trainer_router,
    stream.router,
):
    api_router.include_router(router)
