"""What the dataset endpoints answer."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class DatasetOut(BaseModel):
    id: int
    ref: str = Field(description="How a spec names it in dataset.name: upload:<id>")
    name: str
    format: Literal["npz", "csv", "images"]
    filename: str
    shape: list[int] = Field(description="Shape of one example")
    classes: int
    class_names: list[str]
    train: int = Field(description="Training examples (the validation head is cut from these)")
    test: int = Field(description="Test examples; without a test set in the upload, the last 20 % of the training rows")
    dtype: Literal["uint8", "float32"]
    size_bytes: int
    sha256: str = Field(description="sha256 of the stored arrays; runs record it in spec.dataset.sha256")
    created_at: datetime | None


class DatasetPage(BaseModel):
    items: list[DatasetOut]
