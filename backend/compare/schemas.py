"""The response of GET /api/compare."""

from typing import Any

from pydantic import BaseModel, Field

from backend.analysis.schemas import Analysis
from backend.metrics.schemas import Series
from backend.runs.schemas import RunItem


class CompareOut(BaseModel):
    runs: list[RunItem] = Field(description="In the order asked for")
    series: dict[str, dict[str, Series]] = Field(description="Run id -> metric name -> series")
    params_diff: dict[str, dict[str, Any]] = Field(
        description="Spec fields whose values differ: dotted path -> run id -> value (null where a run lacks it)"
    )
    analysis: Analysis | None = Field(
        None, description="With group_by other than none: the runs' groups, their statistics and per-epoch bands"
    )
