"""Every table, imported in one place for Alembic and for mapper configuration."""

from backend.auth.models import Token
from backend.datasets.models import Dataset
from backend.db import Base
from backend.experiments.models import Experiment, ExperimentTag
from backend.layers.models import LayerSnapshot, RunLayers
from backend.metrics.models import MetricBlock, MetricSeries
from backend.runs.models import Run

__all__ = [
    "Base", "Dataset", "Experiment", "ExperimentTag", "LayerSnapshot", "MetricBlock", "MetricSeries", "Run", "RunLayers",
    "Token",
]
