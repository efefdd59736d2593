"""Query parameters and bodies of the run endpoints."""

from typing import Annotated, Literal

from fastapi import Query

from backend.run_ids import MAX_ID
from backend.runs.states import ALL_STATES

StateName = Literal["queued", "running", "completed", "failed", "cancelled", "diverged"]
assert set(StateName.__args__) == set(ALL_STATES)  # noqa: S101 - a drift check at import

Limit = Annotated[int, Query(ge=1, le=500, description="Page size (1 to 500)")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip")]
IdFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]
TagFilter = Annotated[str | None, Query(min_length=1, max_length=64)]
TextFilter = Annotated[
    str | None, Query(min_length=1, max_length=200, description="Case-insensitive text in the run name")
]
