from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, JSONType


class Dataset(Base):
    """An uploaded dataset: its identity, shape and where its arrays live (by content hash)."""

    __tablename__ = "datasets"
    # Ids are never reused on SQLite either: a deleted dataset's links must not lead to another.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    format: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(255), default="")
    example_shape: Mapped[list[int]] = mapped_column(JSONType)
    classes: Mapped[int] = mapped_column(Integer)
    class_names: Mapped[list[str]] = mapped_column(JSONType)
    train_size: Mapped[int] = mapped_column(Integer)
    test_size: Mapped[int] = mapped_column(Integer)
    dtype: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def ref(self) -> str:
        """How a spec names it: ``upload:<id>``."""
        return f"upload:{self.id}"

    def summary(self) -> dict[str, Any]:
        return {"train": self.train_size, "test": self.test_size, "classes": self.classes}
