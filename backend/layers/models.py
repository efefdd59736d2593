from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, JSONType


class LayerSnapshot(Base):
    """One snapshot of a run's layers at one epoch (-1: before training), in backend/layers/codec.py's encoding.

    ``epoch`` is a key column, so a comparison at one epoch reads (and decodes)
    only those rows; ``layers`` counts the layers without opening the blob.
    """

    __tablename__ = "layer_snapshots"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer, primary_key=True)
    layers: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class RunLayers(Base):
    """The run's layer descriptions (index, name, type, units, activation, params), from the input side."""

    __tablename__ = "run_layers"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    layers: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
