"""Server-Sent Events for live charts (filled in by the dashboard work)."""

from fastapi import APIRouter

router = APIRouter(prefix="/api", tags=["stream"])
