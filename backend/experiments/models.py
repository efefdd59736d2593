from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, JSONType


class Experiment(Base):
    """A study: a base spec and a grid whose cartesian product gives its runs."""

    __tablename__ = "experiments"
    # Ids are never reused on SQLite either: a deleted experiment's links must not lead to another.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    base: Mapped[dict[str, Any]] = mapped_column(JSONType)
    grid: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Spec fields that only replicate a condition (seeds); null means ["training.seed"].
    replicates: Mapped[list[str] | None] = mapped_column(JSONType, nullable=True)
    # A search study (backend/search): method, trials, space...; null for a grid study.
    search: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    # Optuna pruner of a grid or search study; null means no pruning.
    pruner: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    # Set once every trial of a search was told, so the coordinator skips the study.
    study_done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)

    runs: Mapped[list["Run"]] = relationship(  # noqa: F821
        back_populates="experiment", cascade="all, delete-orphan", passive_deletes=True, order_by="Run.id"
    )
    tag_rows: Mapped[list["ExperimentTag"]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class ExperimentTag(Base):
    """One row per tag, so "runs with tag X" is an indexed join on any database."""

    __tablename__ = "experiment_tags"

    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
