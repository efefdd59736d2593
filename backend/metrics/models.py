from sqlalchemy import Float, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base


class MetricSeries(Base):
    """The whole epoch series of one metric of one run (backend/metrics/epoch_series.py).

    One row per (run, name): a study's analysis reads a few thousand rows, not a
    row per point. ``xs`` int32, ``vals`` and ``ts`` float64 (exact), ``flags`` a
    byte a point telling a missing value or t from a logged NaN; sorted by x.
    """

    __tablename__ = "metric_series"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    # The last epoch: a resume drops from an epoch, and only rows reaching it are rewritten.
    last_x: Mapped[int] = mapped_column(Integer)
    # The blobs the analysis reads first: SQLite keeps a row's first bytes in its page.
    xs: Mapped[bytes] = mapped_column(LargeBinary)
    vals: Mapped[bytes] = mapped_column(LargeBinary)
    flags: Mapped[bytes] = mapped_column(LargeBinary)
    ts: Mapped[bytes] = mapped_column(LargeBinary)


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
