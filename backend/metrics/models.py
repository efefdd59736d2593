from sqlalchemy import Float, ForeignKey, Integer, String
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
