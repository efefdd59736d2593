"""Run-spec endpoints for the dashboard's form: schema, defaults, datasets, validation."""

from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import ValidationError

from backend.bounds import PartialSpec
from backend.errors import InvalidInput, field_error, spec_errors
from backend.responses import OrjsonResponse
from backend.settings import get_settings
from reglab.spec import (
    DATASET_CLASSES,
    DATASET_TEST_SIZES,
    DATASET_TRAIN_SIZES,
    RunSpec,
    build_spec,
    default_spec,
    spec_warnings,
)

router = APIRouter(prefix="/api/spec", tags=["spec"])

PartialSpecBody = Annotated[PartialSpec, Body(description="Partial spec merged over the defaults")]


@router.get("/schema")
def schema() -> dict[str, Any]:
    """The RunSpec JSON Schema."""
    return RunSpec.model_json_schema()


@router.get("/default")
def default() -> dict[str, Any]:
    """A complete default spec."""
    return default_spec()


@router.get("/datasets")
def datasets() -> dict[str, dict[str, int]]:
    """Per dataset: training examples (before the validation cut), test examples and classes."""
    return {
        name: {"train": DATASET_TRAIN_SIZES[name], "test": DATASET_TEST_SIZES[name], "classes": DATASET_CLASSES[name]}
        for name in DATASET_TRAIN_SIZES
    }


@router.post("/validate", response_class=OrjsonResponse)
def validate(partial: PartialSpecBody) -> OrjsonResponse:
    """``{"spec": complete spec, "warnings": [...]}``, or 422 naming each bad field and its range."""
    try:
        spec = build_spec(partial)
    except ValidationError as exc:
        raise InvalidInput(spec_errors(exc)) from exc
    max_epochs = get_settings().MAX_EPOCHS
    if spec.training.epochs > max_epochs:
        raise InvalidInput(
            [
                field_error(
                    "training.epochs",
                    f"must be ≤ {max_epochs} (this server's REGLAB_MAX_EPOCHS), got {spec.training.epochs}",
                )
            ]
        )
    return OrjsonResponse({"spec": spec.model_dump(mode="json"), "warnings": spec_warnings(spec)})
