"""Query parameters and responses of the run endpoints."""

from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from backend.bounds import PartialSpec
from backend.run_ids import MAX_ID
from reglab.states import ALL_STATES

StateName = Literal["queued", "running", "completed", "failed", "cancelled", "diverged", "pruned"]
assert set(StateName.__args__) == set(ALL_STATES)  # noqa: S101 - a drift check at import

Limit = Annotated[int, Query(ge=1, le=500, description="Page size (1 to 500)")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip")]
IdFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]
TagFilter = Annotated[str | None, Query(min_length=1, max_length=64)]
TextFilter = Annotated[
    str | None, Query(min_length=1, max_length=200, description="Case-insensitive text in the run name")
]

RunFilter = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=2000,
        description="An expression of the run filter language, e.g. "
        "`metrics.best_val_accuracy > 0.9 and params.regularization.dropout >= 0.3` (docs/filter.md)",
    ),
]


class Progress(BaseModel):
    epoch: int
    epochs: int


class RunItem(BaseModel):
    """A run as lists show it: everything but its spec and model summary."""

    id: int
    experiment_id: int
    experiment_name: str
    name: str
    state: StateName
    created_at: str | None = Field(description="ISO 8601, UTC")
    dispatched_at: str | None
    started_at: str | None
    finished_at: str | None
    heartbeat_at: str | None
    epoch: int = Field(description="Epochs finished")
    epochs: int = Field(description="Epochs planned")
    progress: Progress
    epoch_seconds: float | None = Field(description="Seconds per epoch so far, for an ETA")
    summary: dict[str, Any] = Field(description="Best and final metrics, filled in as the run trains")
    error: str | None
    device: str | None
    worker_host: str | None
    backend: str | None
    notes: str = Field(description="What a person wrote about the run, plain text")
    tags: list[str]
    spec: dict[str, Any] | None = Field(None, description="Only with ?with_spec=true in lists; always in a run's detail")


class RunPage(BaseModel):
    """One page of runs, newest first."""

    items: list[RunItem]
    total: int
    limit: int
    offset: int


class RunDetail(RunItem):
    """One run with its complete spec and what its worker left."""

    spec: dict[str, Any] = Field(description="The complete run spec (GET /api/spec/schema)")
    warnings: list[str]
    has_model: bool
    has_model_summary: bool


RunTag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
MAX_NOTES = 10_000


class RunPatch(BaseModel):
    """What a person may change on a run: the fields of RunItem of the same names; those left out stay."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=500)
    tags: list[RunTag] | None = Field(None, max_length=32, description="Replaces the run's tags")
    notes: str | None = Field(None, max_length=MAX_NOTES, description="Plain text, shown as text")


class CancelOut(RunDetail):
    cancel_requested: bool = Field(description="True when a running run's worker was asked to stop")


class LayerRow(BaseModel):
    name: str
    class_name: str
    output_shape: list[int | None] | None
    params: int


class ModelSummary(BaseModel):
    """The model's layer table, as the worker recorded it."""

    layers: list[LayerRow]
    total_params: int
    trainable_params: int


# One batch at most fills an experiment (REGLAB_MAX_RUNS_PER_EXPERIMENT's default).
MAX_CLONES_PER_REQUEST = 256


class CloneRequest(BaseModel):
    """One clone: a source run and the partial spec merged over its spec."""

    model_config = ConfigDict(extra="forbid")
    run_id: int = Field(ge=1, le=MAX_ID, description="The run whose spec (and experiment) the clone takes")
    overrides: PartialSpec = Field(default_factory=dict, description="Partial spec merged over the run's spec")


class CloneBatch(BaseModel):
    """Several clones in one request: validated together, inserted in one transaction, sent and announced once."""

    model_config = ConfigDict(extra="forbid")
    clones: list[CloneRequest] = Field(min_length=1, max_length=MAX_CLONES_PER_REQUEST)


class CloneBatchOut(BaseModel):
    runs: list[RunDetail] = Field(description="The new queued runs, in request order")
