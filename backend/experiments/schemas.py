"""Bodies and responses of the experiment endpoints."""

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from backend.bounds import PartialSpec, shallow
from backend.runs.schemas import RunItem
from backend.search.schemas import PrunerIn, SearchIn
from reglab.spec import RunSpec
from backend.spec_fields import object_paths


def grid_keys() -> list[str]:
    """The dotted spec paths a grid may vary."""
    return sorted(object_paths() - {"spec_version"})

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
GridKey = Annotated[str, StringConstraints(min_length=1, max_length=200)]
GridValues = Annotated[list[Any], Field(min_length=1, max_length=256), AfterValidator(shallow)]


class ExperimentCreate(BaseModel):
    """A study: a partial base spec merged over the defaults and an optional grid."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Shown in the dashboard")
    description: str = Field("", max_length=10_000)
    tags: list[Tag] = Field(default_factory=list, max_length=32)
    base: PartialSpec = Field(default_factory=dict, description="Partial run spec merged over the defaults")
    grid: dict[GridKey, GridValues] = Field(
        default_factory=dict,
        max_length=16,
        description='Dotted spec path -> values, e.g. {"regularization.kernel_l2": [0, 0.001]}; runs are the product',
        json_schema_extra={
            "examples": [{"regularization.kernel_l2": [0, 0.001, 0.01], "training.seed": [1, 2]}],
            "propertyNames": {"enum": grid_keys()},
        },
    )
    replicates: list[GridKey] | None = Field(
        None,
        max_length=16,
        description='Spec fields that only repeat a condition, e.g. ["training.seed"] (the default when omitted)',
    )
    search: SearchIn | None = Field(None, description="Sample configurations with Optuna instead of a grid")
    pruner: PrunerIn | None = Field(None, description="Stop hopeless runs early (grid and search studies)")


class ExperimentPatch(BaseModel):
    """What a person may change on a study: the fields of ExperimentOut of the same names; those left out stay."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=10_000, description="Plain text, shown as text")
    tags: list[Tag] | None = Field(None, max_length=32, description="Replaces the study's tags")


class ExperimentOut(BaseModel):
    id: int
    name: str
    description: str
    tags: list[str]
    created_at: str | None = Field(description="ISO 8601, UTC")


class ExperimentItem(ExperimentOut):
    run_count: int
    states: dict[str, int] = Field(description="Runs per state")


class ExperimentPage(BaseModel):
    items: list[ExperimentItem]
    total: int
    limit: int
    offset: int


class ExperimentDetail(ExperimentOut):
    """An experiment with its base spec, grid, runs and spec warnings."""

    base: dict[str, Any] = Field(description="The complete base spec")
    grid: dict[str, list[Any]]
    replicates: list[str] = Field(description="Spec fields that only repeat a condition (training.seed by default)")
    search: dict[str, Any] | None = Field(None, description="The search study's settings; null for a grid")
    pruner: dict[str, Any] | None = None
    pruned_epochs_saved: int = Field(0, description="Epochs pruned runs did not train (planned minus trained)")
    runs: list[RunItem]
    warnings: list[str]


class PlannedRates(BaseModel):
    """The planned learning rate of one run, downsampled for a chart (reglab/schedule_math.py)."""

    axis: Literal["step", "epoch"] = Field(description="Whether x counts global steps or epochs")
    steps_per_epoch: int
    epochs: int
    x: list[int]
    y: list[float]
    adaptive: bool = Field(description="plateau: the rate reacts to the metrics, only its start value is planned")


class PlannedRun(BaseModel):
    name: str = Field(description="The name the server gives the run")
    spec: RunSpec
    warnings: list[str]
    param_count: int = Field(description="Parameters of the model, as Keras counts them")
    planned_rates: PlannedRates


class PlanOut(BaseModel):
    """What POST /api/experiments would queue; nothing is created."""

    runs: list[PlannedRun]
    warnings: list[str]
