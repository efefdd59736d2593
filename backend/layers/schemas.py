"""Bodies and answers of the layer endpoints (the per-layer snapshot contract)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from backend.trainer.schemas import Attempt
from reglab.spec import BoundedInt

# Statistics are stored as float32: anything beyond its range could not be read back.
F32_MAX = 3.4e38
MAX_SNAPSHOTS = 100
MAX_LAYERS = 200
MAX_BINS = 4096
MAX_EPOCH = 100_000
QUANTILE_COUNT = 9

Stat = Annotated[float | None, Field(ge=-F32_MAX, le=F32_MAX, description="null when not finite")]
NonNegative = Annotated[float | None, Field(ge=0, le=F32_MAX)]
Fraction = Annotated[float | None, Field(ge=0, le=1)]
Edge = Annotated[float, Field(ge=-F32_MAX, le=F32_MAX)]
LayerName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")]
Epoch = BoundedInt(ge=-1, le=MAX_EPOCH)


class Strict(BaseModel):
    # Strict like the trainer's bodies: JSON types as the schema states them (no "5" for 5, no false for 0).
    model_config = ConfigDict(extra="forbid", strict=True)


class Hist(Strict):
    """A histogram: ``counts[i]`` values in ``[edges[i], edges[i + 1])``, edges increasing."""

    edges: list[Edge] = Field(min_length=2, max_length=MAX_BINS + 1)
    counts: list[BoundedInt(ge=0, le=2**32 - 1)] = Field(min_length=1, max_length=MAX_BINS)

    @model_validator(mode="after")
    def _edges_bound_the_counts(self) -> Hist:
        if len(self.edges) != len(self.counts) + 1:
            raise ValueError(f"edges must hold one more value than counts ({len(self.counts) + 1}), got {len(self.edges)}")
        if any(b <= a for a, b in zip(self.edges, self.edges[1:])):
            raise ValueError("edges must be strictly increasing")
        return self


class TensorStats(Strict):
    mean: Stat
    std: NonNegative
    l2: NonNegative
    abs_max: NonNegative
    zero_fraction: Fraction
    quantiles: list[Stat] | None = Field(
        None, min_length=QUANTILE_COUNT, max_length=QUANTILE_COUNT,
        description="At 0, 6.68, 15.87, 30.85, 50, 69.15, 84.13, 93.32 and 100 %",
    )  # fmt: skip
    hist: Hist | None = None


class WeightStats(TensorStats):
    max_col_norm: NonNegative = Field(None, description="The largest L2 norm of one output unit's incoming weights")


class ActivationStats(TensorStats):
    saturated_fraction: Fraction = Field(None, description="Sigmoid and tanh layers: within 1 % of a bound")


class LayerStats(Strict):
    weights: WeightStats | None = None
    activations: ActivationStats | None = None
    gradients: TensorStats | None = None


class SnapshotIn(Strict):
    epoch: Epoch = Field(description="-1 before the first batch, else the 0-based epoch just finished")
    layers: dict[LayerName, LayerStats] = Field(max_length=MAX_LAYERS, description="By the Keras layer's name")


class LayerDescription(Strict):
    index: BoundedInt(ge=0, le=100_000)
    name: LayerName
    type: str = Field(min_length=1, max_length=64)
    units: BoundedInt(ge=0, le=10**9) | None = None
    activation: str | None = Field(None, max_length=64)
    params: BoundedInt(ge=0, le=10**13) | None = None


class LayersIn(Strict):
    """Snapshots of one run; an epoch sent again replaces the stored one."""

    attempt: Attempt
    layers: list[LayerDescription] | None = Field(
        None, max_length=MAX_LAYERS, description="The layer descriptions; may be omitted after the first post"
    )
    snapshots: list[SnapshotIn] = Field(default_factory=list, max_length=MAX_SNAPSHOTS)


class LayersWrittenOut(BaseModel):
    run_id: int
    written: int


class RunLayersOut(BaseModel):
    layers: list[dict[str, Any]] = Field(description="index, name, type, units, activation, params; from the input side")
    snapshots: list[dict[str, Any]] = Field(description="``{epoch, layers: {name: {tensor: STATS}}}`` sorted by epoch")


class LayerRef(BaseModel):
    index: int
    name: str
    type: str | None


class Profile(BaseModel):
    key: str
    label: str
    run_ids: list[int]
    epoch: int | None
    values: list[float | None]
    low: list[float | None] | None = None
    high: list[float | None] | None = None


class HistEntry(BaseModel):
    key: str
    label: str
    counts: list[float]


class CompareHistograms(BaseModel):
    edges: list[float] | None
    by_layer: dict[str, list[HistEntry]]


class CompareLayersOut(BaseModel):
    tensor: Literal["weights", "activations", "gradients"]
    stat: str
    epoch: str
    layers: list[LayerRef]
    epochs: list[int]
    profiles: list[Profile]
    histograms: CompareHistograms
