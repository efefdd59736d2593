from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, JSONType
from reglab.states import QUEUED


class Run(Base):
    """One training run: a complete spec, its state and its summary."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_experiment_id_id", "experiment_id", "id"),
        Index("ix_runs_state_id", "state", "id"),
        # Ids are never reused on SQLite either: a deleted run's links and queued tasks
        # must not lead to a newer run.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(500))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    state: Mapped[str] = mapped_column(String(16), default=QUEUED)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Set when the task reached the broker; a queued run without it is dispatched again.
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    worker_host: Mapped[str | None] = mapped_column(String(255))
    device: Mapped[str | None] = mapped_column(String(255))
    backend: Mapped[str | None] = mapped_column(String(32))
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    epochs: Mapped[int] = mapped_column(Integer, default=0)
    # Seconds per epoch so far, for the dashboard's ETA.
    epoch_seconds: Mapped[float | None] = mapped_column(Float)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    artifact_path: Mapped[str | None] = mapped_column(String(1024))
    model_summary: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # Times a worker started the run (each start is one attempt; a worker's writes
    # carry its attempt number, so an attempt taken over can no longer write).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Why each earlier attempt ended without finishing (its worker died), oldest first.
    attempt_errors: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default="[]")

    # What a person wrote about the run (plain text) and the tags they gave it; an external run starts with its logged tags.
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default="[]")

    # The Optuna trial number of a search or pruned study's run (replicates share one).
    trial: Mapped[int | None] = mapped_column(Integer, nullable=True)

    experiment: Mapped["Experiment"] = relationship(back_populates="runs")  # noqa: F821
