"""Bodies and query parameters of the metric endpoints."""

from typing import Annotated, Literal

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from backend.errors import InvalidInput, field_error
from backend.metrics.batch import MAX_POINTS, NAME_CHARS, NAME_MAX, T_MAX
from backend.metrics.blocks import X_LIMIT
from reglab.spec import Int

MetricName = Annotated[str, Field(min_length=1, max_length=NAME_MAX, pattern=f"^{NAME_CHARS}+$")]

MaxPoints = Annotated[int, Query(ge=10, le=100_000, description="Step series longer than this are downsampled")]
XMin = Annotated[
    int | None,
    Query(ge=0, le=X_LIMIT, description="First step drawn of the step series (inclusive; epoch series come whole)"),
]
XMax = Annotated[
    int | None,
    Query(ge=0, le=X_LIMIT, description="Last step drawn of the step series (inclusive), at least x_min"),
]


def x_window(x_min: XMin = None, x_max: XMax = None) -> dict[str, int | None]:
    """``{"x_min", "x_max"}`` of a zoomed chart; 422 on ``x_max`` when it lies before ``x_min``."""
    if x_min is not None and x_max is not None and x_max < x_min:
        raise InvalidInput([field_error("x_max", f"must be in [{x_min}, {X_LIMIT}] (at least x_min), got {x_max}")])
    return {"x_min": x_min, "x_max": x_max}


# A route parameter: ``window: XWindow`` reads ``?x_min=&x_max=``, inside which step series come at full resolution.
XWindow = Annotated[dict, Depends(x_window)]
Names = Annotated[
    str | None,
    Query(max_length=4096, description="Comma-separated metric names; all when omitted", examples=["loss,val_loss"]),
]


class PointIn(BaseModel):
    """One value of one series, as a worker logs it."""

    # Strict: JSON types as the schema states them (no "5" for 5, no false for 0).
    model_config = ConfigDict(extra="forbid", strict=True)

    name: MetricName
    axis: Literal["epoch", "step"] = "epoch"
    x: Int = Field(ge=0, le=X_LIMIT, description="Epoch or step index")
    value: float | None = Field(None, description="null (or NaN) for a missing or diverged value")
    t: float | None = Field(None, ge=0, le=T_MAX, description="Seconds since the run started")


class PointsIn(BaseModel):
    """A batch of points for one run; writing it twice stores it once."""

    model_config = ConfigDict(extra="forbid")

    points: list[PointIn] = Field(max_length=MAX_POINTS)


def parse_names(names: str | None) -> list[str] | None:
    """``"loss, val_loss"`` -> ``["loss", "val_loss"]``; None or blank -> None (all)."""
    if names is None:
        return None
    parsed = list(dict.fromkeys(n.strip() for n in names.split(",") if n.strip()))
    return parsed[:64] or None


class Series(BaseModel):
    """One series as columns: ``x[i]`` (epoch or step), ``y[i]`` (null where missing), ``t[i]`` (seconds)."""

    axis: Literal["epoch", "step"]
    x: list[int]
    y: list[float | None]
    t: list[float | None]


class MetricsOut(BaseModel):
    run_id: int
    series: dict[str, Series] = Field(description="By metric name; a name logged per step too has `name@step`")


class WrittenOut(BaseModel):
    run_id: int
    written: int
