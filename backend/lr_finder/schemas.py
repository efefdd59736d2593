"""The body of POST /api/lr-finder."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from backend.bounds import PartialSpec
from reglab.spec import LR_FINDER  # noqa: F401  (the finder service reads it from here)


class LrFinderIn(BaseModel):
    """Train one epoch (or ``batches`` steps) with the rate growing from ``min_rate`` to ``max_rate``."""

    model_config = ConfigDict(extra="forbid")

    spec: PartialSpec = Field(default_factory=dict, description="Partial run spec merged over the defaults")
    min_rate: float = Field(1e-5, ge=1e-10, le=10, description="Rate of the first batch")
    max_rate: float = Field(10.0, gt=0, le=100, description="Rate of the last batch (above min_rate)")
    batches: int | None = Field(None, ge=2, le=100_000, description="Steps to sweep over (default: one epoch)")
