"""Bodies and answers of the trainer endpoints: the typed contract between the API and any trainer."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from backend.errors import error_responses
from reglab.spec import BoundedInt, Int

from backend.metrics.schemas import PointIn

Attempt = Annotated[BoundedInt(ge=1, le=1_000_000), Field(description="The attempt number the claim returned")]
AttemptQuery = Annotated[int, Query(ge=1, le=1_000_000, description="The attempt number the claim returned")]
EpochQuery = Annotated[int, Query(ge=1, le=1_000_000, description="Complete epochs in the checkpoint")]
FinalState = Literal["completed", "failed", "cancelled", "diverged"]


class Strict(BaseModel):
    # Strict like the spec: JSON types as the schema states them (false is no number).
    model_config = ConfigDict(extra="forbid", strict=True)


# 404: no such run; 409: the run is not this attempt's (or anyone's) to train.
ERRORS = error_responses(404, 409, 422)


class ClaimIn(Strict):
    worker_host: str = Field(min_length=1, max_length=255, description="Who trains it, e.g. 'gpu1 (pid 42)'")


class ResumeOut(BaseModel):
    epoch: int = Field(description="Complete epochs in the latest checkpoint: training continues at this epoch")
    history: list[dict[str, float | None]] = Field(description="Stored loss/accuracy values of the epochs before")
    t_offset: float = Field(description="The last stored t: seconds trained before the interruption")


class ClaimOut(BaseModel):
    run_id: int
    attempt: int
    restarted: bool = Field(description="Taken over from a worker that stopped responding")
    spec: dict[str, Any]
    epochs: int
    resume: ResumeOut | None = Field(description="Set when a checkpoint exists (GET .../checkpoint downloads it)")
    stop: Literal["cancel", "requeue"] | None = Field(description="A stop already requested")


class AttemptIn(Strict):
    attempt: Attempt


class HeartbeatOut(BaseModel):
    run_id: int
    attempt: int
    cancel: bool = Field(description="Stop training at the next batch")
    requeue: bool = Field(description="The stop is a pause (reglab up stopping): keep the checkpoint")


class ProgressIn(Strict):
    attempt: Attempt
    epochs: BoundedInt(ge=0, le=100_000) | None = Field(None)
    epoch: BoundedInt(ge=0, le=100_000) | None = Field(None)
    device: str | None = Field(None, max_length=255)
    backend: str | None = Field(None, max_length=32)


class OkOut(BaseModel):
    run_id: int
    ok: bool = True


class EpochProgress(Strict):
    epoch: BoundedInt(ge=0, le=100_000) | None = Field(None, description="Complete epochs so far")
    epoch_seconds: float | None = Field(None, ge=0, le=1e9, description="Mean seconds per epoch")


class DropFrom(Strict):
    epoch: Int = Field(ge=0, le=2**31 - 1)
    step: BoundedInt(ge=0, le=2**31 - 1) | None = Field(None)


class EpochIn(Strict):
    """One epoch's points with the run's progress; sending it again stores it once."""

    attempt: Attempt
    points: list[PointIn] = Field(max_length=100_000)
    progress: EpochProgress = EpochProgress()
    drop_from: DropFrom | None = Field(
        None, description="First write of an attempt: drop what an interrupted attempt stored from here on"
    )


class EpochOut(BaseModel):
    run_id: int
    written: int


class FinishIn(Strict):
    attempt: Attempt
    state: FinalState
    summary: dict[str, Any] = Field(default_factory=dict)
    error: str | None = Field(None, max_length=20_000)
    model_summary: dict[str, Any] | None = None


class FinishOut(BaseModel):
    run_id: int
    state: str
    epoch: int
    epochs: int
    summary: dict[str, Any]


class UploadOut(BaseModel):
    run_id: int
    key: str
    size: int
    epoch: int | None = None


class ExternalIn(Strict):
    """A run trained outside RegLab (a notebook, the Keras callback), tracked through the API."""

    experiment: str = Field(min_length=1, max_length=200, description="Named experiment, created on first use")
    name: str = Field(min_length=1, max_length=500)
    params: dict[str, Any] = Field(default_factory=dict, description="Free-form parameters, compared like spec fields")
    tags: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list, max_length=50)
    epochs: Int = Field(0, ge=0, le=100_000, description="Planned epochs, for progress (0: unknown)")
    worker_host: str | None = Field(None, max_length=255)
    source: Literal["api", "keras", "tensorboard"] = "api"
    source_key: str | None = Field(
        None, max_length=200, description="Identifies an imported source: importing it again returns the same run"
    )


class ExternalOut(BaseModel):
    run_id: int
    experiment_id: int
    attempt: int
    state: str
    created: bool
