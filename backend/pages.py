"""The dashboard's HTML pages and static files (filled in by the dashboard work)."""

from fastapi import FastAPI


def install_frontend(app: FastAPI) -> None:
    """Mount the dashboard on ``app``."""
