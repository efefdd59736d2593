"""The dashboard's HTML pages and static files.

No build step: the pages are plain HTML files in ``frontend/`` that load ES
modules from ``/static/js/``. Plotly.js comes from the ``plotly`` Python
package's bundled ``plotly.min.js`` (no CDN), served under a path that carries
its version so browsers may cache it forever.

Every page has a JSON twin: the REST endpoint whose data it shows (the page
links it with ``<link rel="alternate" type="application/json">``):

    /                       -> /api/experiments and /api/runs?state=&experiment_id=&tag=&q=
    /new                    -> /api/spec/schema, /api/spec/default (+ POST /api/experiments/plan for the preview)
    /compare?run_ids=1,2,3  -> /api/compare?run_ids=1,2,3 (+ /api/runs/{id}/metrics for step series, /api/compare/csv)
    /runs/{id}              -> /api/runs/{id} (+ /api/runs/{id}/metrics, /api/runs/{id}/summary)
    /experiments/{id}       -> /api/experiments/{id}/analysis (+ /api/experiments/{id})
    /signin                 -> /api/session (paste a token once; it is kept in an HttpOnly cookie)
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import plotly
from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

FRONTEND_DIR = Path(__file__).resolve().parent.parent / "frontend"
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
PLOTLY_PLACEHOLDER = "/static/vendor/plotly.min.js"
PAGES = {"/": "index.html", "/new": "new.html", "/compare": "compare.html", "/signin": "signin.html"}
# Pages change with the code; let browsers revalidate rather than cache them stale.
NO_CACHE = {"Cache-Control": "no-cache"}


@lru_cache
def plotly_js_version() -> str:
    """The plotly.js version in the bundled file's header (``* plotly.js v4.1.1``)."""
    with PLOTLY_JS.open(encoding="utf-8") as handle:
        match = re.search(r"plotly\.js v(\d+\.\d+\.\d+)", handle.read(400))
    return match.group(1) if match else plotly.__version__


def plotly_js_url() -> str:
    return f"/static/vendor/plotly-{plotly_js_version()}.min.js"


# What every page's <head> and top bar share, written once; a page asks for
# them with <!-- reglab:head --> and <!-- reglab:topbar --> (or
# <!-- reglab:topbar live --> for a page with the live-stream indicator).
HEAD = """<meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="color-scheme" content="light dark">
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/static/css/reglab.css">"""
NAV = (("/", "Runs"), ("/new", "New study"), ("/compare", "Compare"))
SIGNIN_PATH = "/signin"
LIVE_INDICATOR = '\n    <span class="live-indicator" id="live" data-state="off">offline</span>'
TOPBAR_PLACEHOLDER = re.compile(r"<!-- reglab:topbar( live)? -->")


def topbar(current: str | None, live: bool) -> str:
    marks = {href: ' aria-current="page"' if href == current else "" for href, _ in NAV}
    links = "\n".join(f'      <a href="{href}"{marks[href]}>{label}</a>' for href, label in NAV)
    signin_mark = ' aria-current="page"' if current == SIGNIN_PATH else ""
    return (
        '<header class="topbar">\n    <a class="brand" href="/">RegLab</a>\n'
        f'    <nav aria-label="Main">\n{links}\n    </nav>{LIVE_INDICATOR if live else ""}'
        f'\n    <a href="{SIGNIN_PATH}"{signin_mark}>Sign in</a>\n  </header>'
    )


def render_page(filename: str, current: str | None = None) -> str:
    """The page with the shared head, the top bar and the versioned Plotly URL filled in.

    Read on every request (a few kB), so an edited page shows without a restart.
    """
    html = (FRONTEND_DIR / filename).read_text(encoding="utf-8")
    html = html.replace("<!-- reglab:head -->", HEAD)
    html = TOPBAR_PLACEHOLDER.sub(lambda match: topbar(current, bool(match.group(1))), html)
    return html.replace(PLOTLY_PLACEHOLDER, plotly_js_url())


def page_route(path: str, filename: str):
    async def serve_page() -> Response:
        return Response(render_page(filename, path), media_type="text/html; charset=utf-8", headers=NO_CACHE)

    serve_page.__name__ = f"page_{filename.split('.')[0]}"
    return serve_page


async def serve_run_page(run_id: int) -> Response:
    return Response(render_page("run.html"), media_type="text/html; charset=utf-8", headers=NO_CACHE)


async def serve_study_page(experiment_id: int) -> Response:
    return Response(render_page("study.html"), media_type="text/html; charset=utf-8", headers=NO_CACHE)


async def serve_plotly() -> FileResponse:
    return FileResponse(
        PLOTLY_JS,
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


def install_frontend(app: FastAPI) -> None:
    """Mount the dashboard on ``app``: the four pages, ``/static/`` and Plotly."""
    for path, filename in PAGES.items():
        app.add_api_route(path, page_route(path, filename), methods=["GET"], include_in_schema=False)
    app.add_api_route("/runs/{run_id}", serve_run_page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/experiments/{experiment_id}", serve_study_page, methods=["GET"], include_in_schema=False)
    app.add_api_route(plotly_js_url(), serve_plotly, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=FRONTEND_DIR), name="static")
