"""The FastAPI application: ``uvicorn backend.main:create_app --factory``."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from backend import loop_writes, sender
from backend.api import api_router
from backend.datasets import catalog
from backend.auth.access import AccessMiddleware
from backend.auth.headers import SecurityHeadersMiddleware
from backend.dispatch import dispatch_pass
from backend.errors import install_error_handlers
from backend.hot_routes import HotRoutes
from backend.metrics.router import post_metrics_fast
from backend.migrate import upgrade_head
from backend.openapi import install_openapi
from backend.pages import install_frontend
from backend.runs.router import clone_run_fast
from backend.settings import get_settings
from backend.trainer.router import epoch_fast

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024
RUN_ID = "[0-9]{1,10}"  # a run id in a hot route's path; HotRoutes leaves ids past MAX_ID to the route


async def dispatcher_loop(interval_s: float) -> None:
    """Every ``interval_s``: reap runs whose worker went silent, send runs the broker missed."""
    while True:
        try:
            # Blocking database and broker calls stay off the event loop.
            await asyncio.to_thread(dispatch_pass)
        except Exception:
            log.exception("dispatcher pass failed; retrying in %s s", interval_s)
        await asyncio.sleep(interval_s)


@contextlib.asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    await asyncio.to_thread(upgrade_head)
    # The app's long-lived objects (modules, routes, models, mappers) leave the collector's generations: a full
    # collection, which a 1,000-point batch's dicts set off, no longer walks them all (bench/step_series.py).
    gc.collect()
    gc.freeze()
    task = asyncio.create_task(dispatcher_loop(get_settings().DISPATCH_INTERVAL_S), name="reglab-dispatcher")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # Send the clones answered a moment ago; any still unsent go with the next start's dispatcher pass.
        await asyncio.to_thread(sender.flush)
        await asyncio.to_thread(loop_writes.final_checkpoint)
        gc.unfreeze()  # an app made and stopped again (tests) leaves nothing uncollectable


def create_app() -> FastAPI:
    """Build the app: API routers, JSON error handlers, the dashboard, access control and the startup migration."""
    app = FastAPI(
        title="RegLab",
        summary="Compare neural-network regularization runs",
        version="0.1.0",
        lifespan=lifespan,
        # The largest legitimate body, a 100,000-point batch, is under 10 MB.
        max_body_size=MAX_BODY_BYTES,
        # Operation ids are the handlers' names (get_run, compare_runs), which the OpenAPI links name.
        generate_unique_id_function=lambda route: route.name,
    )
    install_error_handlers(app)
    catalog.forget()
    catalog.install()
    app.include_router(api_router)
    install_frontend(app)
    install_openapi(app)
    # Outermost last: the security headers go on every answer, the access check's refusals included.
    app.add_middleware(HotRoutes, routes={
        rf"/api/runs/(?P<run_id>{RUN_ID})/metrics": post_metrics_fast,
        rf"/api/trainer/runs/(?P<run_id>{RUN_ID})/epoch": epoch_fast,
        rf"/api/runs/(?P<run_id>{RUN_ID})/clone": clone_run_fast,
    })  # fmt: skip
    app.add_middleware(AccessMiddleware, mode=get_settings().AUTH, cache_s=get_settings().AUTH_CACHE_S)
    app.add_middleware(SecurityHeadersMiddleware)
    return app
