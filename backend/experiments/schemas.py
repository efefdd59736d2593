"""Request bodies of the experiment endpoints."""

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from backend.bounds import PartialSpec, shallow

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
        json_schema_extra={"examples": [{"regularization.kernel_l2": [0, 0.001, 0.01], "training.seed": [1, 2]}]},
    )
    replicates: list[GridKey] | None = Field(
        None,
        max_length=16,
        description='Spec fields that only repeat a condition, e.g. ["training.seed"] (the default when omitted)',
    )
