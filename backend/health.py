"""GET /api/health: the database and the broker, each checked within a short deadline."""

import asyncio
from collections.abc import Callable

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import text

from backend.db import get_engine
from backend.dispatch import broker_answers

router = APIRouter(prefix="/api", tags=["health"])

# Both checks run side by side, so the answer comes within about this long.
CHECK_TIMEOUT_S = 1.0


def _database() -> str:
    with get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))
    return "ok"


def _broker() -> str:
    return "ok" if broker_answers() else "unreachable"


async def _within_deadline(check: Callable[[], str]) -> str:
    """The check's answer, or ``error: ...`` if it raised or did not answer in time."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(check), CHECK_TIMEOUT_S)
    except TimeoutError:
        return f"error: no answer within {CHECK_TIMEOUT_S:g} s"
    except Exception as exc:  # any driver error means the same thing here
        return f"error: {type(exc).__name__}: {str(exc)[:200]}"


class HealthOut(BaseModel):
    status: str = Field(description="ok or degraded", examples=["ok"])
    database: str = Field(description="ok, or error: ... saying why", examples=["ok"])
    broker: str = Field(description="ok or unreachable", examples=["ok"])


@router.get("/health", response_model=HealthOut)
async def health() -> dict[str, str]:
    """``{"status": "ok"|"degraded", "database": "ok"|"error: ...", "broker": "ok"|"unreachable"}``."""
    database, broker = await asyncio.gather(_within_deadline(_database), _within_deadline(_broker))
    if broker != "ok":
        broker = "unreachable"
    status = "ok" if database == "ok" and broker == "ok" else "degraded"
    return {"status": status, "database": database, "broker": broker}
