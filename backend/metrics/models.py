from sqlalchemy import Float, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base


class MetricPoint(Base):
    """One value of one series of one run.

    The primary key (run_id, name, axis, x) makes writes idempotent (a retried
    batch overwrites, never duplicates) and is the index that serves "all
    series of these N runs" in one range scan per run.
    """

    __tablename__ = "metric_points"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    axis: Mapped[str] = mapped_column(String(8), primary_key=True)
    x: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)
    # Seconds since the run started, for wall-time x axes.
    t: Mapped[float | None] = mapped_column(Float)


class MetricBlock(Base):
    """Steps ``[block * 1024, (block + 1) * 1024)`` of one step series (backend/metrics/blocks.py).

    Step series are the bulk of the data: one row per 1,024 steps keeps them
    under 10 bytes a point, and its scalar columns (count, first, last, min,
    max) let a zoomed-out read draw whole blocks without opening a blob.
    """

    __tablename__ = "metric_blocks"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    axis: Mapped[str] = mapped_column(String(8), primary_key=True)
    block: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    first_x: Mapped[int] = mapped_column(Integer)
    last_x: Mapped[int] = mapped_column(Integer)
    first_y: Mapped[float | None] = mapped_column(Float)
    last_y: Mapped[float | None] = mapped_column(Float)
    first_t: Mapped[float | None] = mapped_column(Float)
    last_t: Mapped[float | None] = mapped_column(Float)
    # The block's min and max (None when it holds no valid value), their steps and t.
    lo: Mapped[float | None] = mapped_column(Float)
    hi: Mapped[float | None] = mapped_column(Float)
    lo_x: Mapped[int] = mapped_column(Integer)
    hi_x: Mapped[int] = mapped_column(Integer)
    lo_t: Mapped[float | None] = mapped_column(Float)
    hi_t: Mapped[float | None] = mapped_column(Float)
    # Small blobs first (see migration 0007): per-32-step minima and maxima, presence bits, then float32 values and t.
    summary: Mapped[bytes] = mapped_column(LargeBinary)
    present: Mapped[bytes] = mapped_column(LargeBinary)
    vals: Mapped[bytes] = mapped_column(LargeBinary)
    ts: Mapped[bytes] = mapped_column(LargeBinary)
