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
    """Steps ``[block * 992, (block + 1) * 992)`` of one step series (backend/metrics/blocks.py).

    Step series are the bulk of the data: one row per 992 steps keeps them
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
    # The block's min and max, None when it holds no valid value.
    lo: Mapped[float | None] = mapped_column(Float)
    hi: Mapped[float | None] = mapped_column(Float)
    # Small blobs first (see migration 0007): every scalar with the steps and t of the min and max
    # (blocks.STATS), per-32-step minima and maxima, presence bits, then float32 values and t.
    stats: Mapped[bytes] = mapped_column(LargeBinary)
    summary: Mapped[bytes] = mapped_column(LargeBinary)
    present: Mapped[bytes] = mapped_column(LargeBinary)
    vals: Mapped[bytes] = mapped_column(LargeBinary)
    ts: Mapped[bytes] = mapped_column(LargeBinary)
