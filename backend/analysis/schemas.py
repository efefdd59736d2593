"""Query parameters and response models of the analysis endpoints."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, Field

from backend.analysis.summaries import SUMMARY_METRICS

Band = Literal["ci95", "std"]
MetricParam = Annotated[
    str,
    Query(max_length=64, description="Summary metric the groups are ranked by: " + ", ".join(SUMMARY_METRICS)),
]
BaselineParam = Annotated[
    str | None, Query(min_length=1, max_length=500, description="Label of the baseline group; least regularized when omitted")
]
BandParam = Annotated[Band, Query(description="Band around each group's mean: 95 % t interval or ± one std")]
GroupByParam = Annotated[
    str,
    Query(
        min_length=1,
        max_length=2000,
        description="none, auto (what differs except the replicate fields) or comma-separated spec fields",
    ),
]

Num = float | None


class MetricStats(BaseModel):
    n: int
    mean: Num
    std: Num
    sem: Num
    ci95: list[Num] = Field(min_length=2, max_length=2)
    min: Num
    max: Num


class VsBaseline(BaseModel):
    diff: Num = Field(description="mean(group) − mean(baseline)")
    ci95: list[Num] = Field(min_length=2, max_length=2)
    hedges_g: Num
    p_value: Num
    p_adjusted: Num = Field(description="Holm-adjusted across the groups of this comparison")
    test: Literal["paired", "welch"] | None
    verdict: Literal["better", "worse", "higher", "lower", "no detectable difference"] | None
    reason: str | None


class GroupOut(BaseModel):
    key: dict[str, Any]
    label: str
    run_ids: list[int]
    n: int
    running: int = Field(description="Runs of the group still running")
    metrics: dict[str, MetricStats]
    vs_baseline: dict[str, VsBaseline] = Field(description="Empty for the baseline group itself")


class BandSeries(BaseModel):
    x: list[float]
    mean: list[Num]
    lo: list[Num]
    hi: list[Num]
    n: list[int]


class RunValues(BaseModel):
    id: int
    name: str
    state: str
    group: str
    key: dict[str, Any]
    metrics: dict[str, Num]


class MetricInfo(BaseModel):
    name: str
    direction: Literal["higher", "lower", "diagnostic"]


class Analysis(BaseModel):
    """Groups of runs by condition, their statistics against the baseline and their per-epoch bands."""

    replicate_fields: list[str]
    factors: list[str]
    metric: str
    band: Band
    baseline: str | None
    reason: str | None = Field(description="Why there is nothing to compare, when there is not")
    run_count: int
    running: int = Field(description="Runs still running, counted with the epochs they have")
    queued: int = Field(description="Runs not started yet (no values)")
    metric_info: list[MetricInfo]
    groups: list[GroupOut]
    series: dict[str, dict[str, BandSeries]]
    runs: list[RunValues]


class ExperimentAnalysis(Analysis):
    experiment_id: int
    experiment_name: str
