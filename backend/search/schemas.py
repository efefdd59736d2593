"""Bodies of a search study and of a pruner, as POST /api/experiments accepts them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from backend.bounds import shallow

# Summary figures a run reports when it ends, and so what an objective may name.
OBJECTIVE_METRICS = (
    "best_val_accuracy", "final_val_accuracy", "best_val_loss", "final_val_loss", "final_accuracy", "final_loss",
    "test_accuracy", "test_loss",
)  # fmt: skip
SpacePath = Annotated[str, Field(min_length=1, max_length=200)]
Number = Annotated[float, Field(allow_inf_nan=False)]


class Dimension(BaseModel):
    """Exactly one of: a log-uniform, uniform or integer range ``[low, high]``, or a list of choices."""

    model_config = ConfigDict(extra="forbid")

    log_uniform: tuple[Number, Number] | None = None
    uniform: tuple[Number, Number] | None = None
    int_uniform: tuple[int, int] | None = None
    choice: Annotated[list[Any], Field(min_length=1, max_length=64), AfterValidator(shallow)] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "Dimension":
        given = [name for name in ("log_uniform", "uniform", "int_uniform", "choice") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of log_uniform, uniform, int_uniform or choice")
        return self

    @property
    def kind(self) -> str:
        return next(name for name in ("log_uniform", "uniform", "int_uniform", "choice") if getattr(self, name) is not None)

    @property
    def values(self) -> Any:
        return getattr(self, self.kind)


class Objective(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: str = Field("best_val_accuracy", description="A summary figure: " + ", ".join(OBJECTIVE_METRICS))
    direction: Literal["maximize", "minimize"] = "maximize"


class SearchIn(BaseModel):
    """Sample configurations with Optuna instead of expanding a grid."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["tpe", "random", "qmc"] = "tpe"
    trials: int = Field(ge=1, description="Configurations to try (at most REGLAB_MAX_TRIALS_PER_EXPERIMENT)")
    parallel: int = Field(1, ge=1, le=64, description="Trials in flight at once")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="The sampler's seed")
    objective: Objective = Objective()
    space: dict[SpacePath, Dimension] = Field(min_length=1, max_length=16, description="Dotted spec path -> range")
    replicates: int = Field(1, ge=1, le=10, description="Seeds per configuration; their mean is told")


class PrunerIn(BaseModel):
    """An Optuna pruner on the objective's per-epoch series; other keys are the pruner's own arguments."""

    model_config = ConfigDict(extra="allow")

    name: Literal["median", "successive_halving", "hyperband", "none"]
    metric: str | None = Field(
        None, description="Per-epoch series to prune on (default: the objective's, e.g. val_accuracy)"
    )
    direction: Literal["maximize", "minimize"] | None = None


ImportanceMetric = Annotated[
    Literal[OBJECTIVE_METRICS], Query(description="The summary figure whose variation is explained")  # type: ignore[valid-type]
]
ImportanceMethod = Annotated[Literal["ped_anova", "fanova"], Query(description="Optuna's evaluator")]


class FieldImportance(BaseModel):
    field: str
    importance: float = Field(description="Share of the metric's variation (the importances sum to 1)")


class ImportanceOut(BaseModel):
    metric: str
    method: str
    runs: int = Field(description="Finished runs that reported the metric")
    importances: list[FieldImportance] = Field(description="Most important first; empty with a reason")
    reason: str | None = Field(description="Why there are no importances (too few runs, nothing varies)")
