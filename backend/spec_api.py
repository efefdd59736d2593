"""Run-spec endpoints for the dashboard's form: schema, defaults, datasets, validation."""

from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, ValidationError

from backend.bounds import PartialSpec
from backend.errors import InvalidInput, error_responses, spec_errors
from backend.limits import spec_limit_errors
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


class DatasetInfo(BaseModel):
    train: int
    test: int
    classes: int


class ValidatedSpec(BaseModel):
    spec: RunSpec
    warnings: list[str]


@router.get("/schema")
def schema() -> dict[str, Any]:
    """The RunSpec JSON Schema."""
    return RunSpec.model_json_schema()


@router.get("/default", response_model=RunSpec)
def default() -> dict[str, Any]:
    """A complete default spec."""
    return default_spec()


@router.get("/datasets")
def datasets() -> dict[str, DatasetInfo]:
    """Per dataset: training examples (before the validation cut), test examples and classes."""
    return {
        name: {"train": DATASET_TRAIN_SIZES[name], "test": DATASET_TEST_SIZES[name], "classes": DATASET_CLASSES[name]}
        for name in DATASET_TRAIN_SIZES
    }


@router.post("/validate", response_class=OrjsonResponse, response_model=ValidatedSpec, responses=error_responses(422))
def validate(partial: PartialSpecBody) -> OrjsonResponse:
    """``{"spec": complete spec, "warnings": [...]}``, or 422 naming each bad field and its range."""
    try:
        spec = build_spec(partial)
    except ValidationError as exc:
        raise InvalidInput(spec_errors(exc)) from exc
    if errors := spec_limit_errors(spec):
        raise InvalidInput(errors)
    return OrjsonResponse({"spec": spec.model_dump(mode="json"), "warnings": spec_warnings(spec)})
