"""The OpenAPI document: RegLab's own error bodies, the partial-spec schema and the links between operations.

FastAPI documents a default ``HTTPValidationError`` (a ``loc`` list) under
422; RegLab answers :class:`backend.errors.ValidationErrorBody` instead, so
every such reference is pointed at it. Request bodies that take a partial run
spec refer to ``PartialRunSpec``: the run spec's JSON Schema with every field
optional, unknown fields refused and schedule kinds as ``anyOf`` (a partial
schedule may omit its ``name`` and match several kinds). The ``links`` let a
client (and schemathesis' stateful phase) go from a created experiment to its
runs and their metrics.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from backend.errors import ERROR_DESCRIPTIONS, ErrorBody, ValidationErrorBody
from reglab.spec import RunSpec

COMPONENTS = "#/components/schemas/"
PARTIAL_PREFIX = "PartialRunSpec."
# (method, path, status) -> the links of that response.
LINKS: dict[tuple[str, str, str], dict[str, Any]] = {
    ("post", "/api/experiments", "201"): {
        "GetExperiment": {"operationId": "get_experiment", "parameters": {"experiment_id": "$response.body#/id"}},
        "ListExperimentRuns": {"operationId": "list_runs", "parameters": {"experiment_id": "$response.body#/id"}},
        "GetFirstRun": {"operationId": "get_run", "parameters": {"run_id": "$response.body#/runs/0/id"}},
        "GetFirstRunMetrics": {"operationId": "get_metrics", "parameters": {"run_id": "$response.body#/runs/0/id"}},
        "PostFirstRunMetrics": {"operationId": "post_metrics", "parameters": {"run_id": "$response.body#/runs/0/id"}},
        "CompareFirstRun": {"operationId": "compare_runs", "parameters": {"run_ids": "$response.body#/runs/0/id"}},
        "CancelFirstRun": {"operationId": "cancel_run", "parameters": {"run_id": "$response.body#/runs/0/id"}},
        "CloneFirstRun": {"operationId": "clone_run", "parameters": {"run_id": "$response.body#/runs/0/id"}},
        "DeleteExperiment": {"operationId": "delete_experiment", "parameters": {"experiment_id": "$response.body#/id"}},
    },
    ("get", "/api/runs/{run_id}", "200"): {
        "GetRunMetrics": {"operationId": "get_metrics", "parameters": {"run_id": "$response.body#/id"}},
        "PostRunMetrics": {"operationId": "post_metrics", "parameters": {"run_id": "$response.body#/id"}},
        "GetRunSummary": {"operationId": "get_model_summary", "parameters": {"run_id": "$response.body#/id"}},
        "GetRunModel": {"operationId": "get_model", "parameters": {"run_id": "$response.body#/id"}},
        "CloneRun": {"operationId": "clone_run", "parameters": {"run_id": "$response.body#/id"}},
        "CancelRun": {"operationId": "cancel_run", "parameters": {"run_id": "$response.body#/id"}},
        "DeleteRun": {"operationId": "delete_run", "parameters": {"run_id": "$response.body#/id"}},
    },
    ("post", "/api/runs/{run_id}/clone", "201"): {
        "GetClone": {"operationId": "get_run", "parameters": {"run_id": "$response.body#/id"}},
        "GetCloneMetrics": {"operationId": "get_metrics", "parameters": {"run_id": "$response.body#/id"}},
    },
    ("post", "/api/runs/{run_id}/metrics", "200"): {
        "GetWrittenMetrics": {"operationId": "get_metrics", "parameters": {"run_id": "$response.body#/run_id"}},
        "CompareWrittenRun": {"operationId": "compare_runs", "parameters": {"run_ids": "$response.body#/run_id"}},
        "ExportWrittenRun": {"operationId": "compare_csv", "parameters": {"run_ids": "$response.body#/run_id"}},
    },
}


def _rewrite(node: Any, old: str, new: str) -> None:
    """Point every ``$ref`` equal to ``old`` at ``new``, in place."""
    if isinstance(node, dict):
        if node.get("$ref") == old:
            node["$ref"] = new
        for value in node.values():
            _rewrite(value, old, new)
    elif isinstance(node, list):
        for value in node:
            _rewrite(value, old, new)


def _any_of(node: Any) -> Any:
    """``oneOf`` -> ``anyOf`` and discriminators dropped: a partial schedule may match several kinds."""
    if isinstance(node, dict):
        node.pop("discriminator", None)
        if "oneOf" in node:
            node["anyOf"] = node.pop("oneOf")
        for value in node.values():
            _any_of(value)
    elif isinstance(node, list):
        for value in node:
            _any_of(value)
    return node


def partial_spec_schemas() -> dict[str, dict[str, Any]]:
    """``PartialRunSpec`` and its sections, as OpenAPI components."""
    schema = RunSpec.model_json_schema(ref_template=COMPONENTS + PARTIAL_PREFIX + "{model}")
    definitions = schema.pop("$defs", {})
    components = {PARTIAL_PREFIX + name: _any_of(definition) for name, definition in definitions.items()}
    schema["title"] = "PartialRunSpec"
    schema["description"] = "A run spec with any field left out (it takes its default); unknown fields are refused"
    components["PartialRunSpec"] = _any_of(schema)
    for component in components.values():
        component.pop("required", None)
    return components


def build_openapi(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in (ValidationErrorBody, ErrorBody):
        body = model.model_json_schema(ref_template=COMPONENTS + "{model}")
        schemas.update(body.pop("$defs", {}))
        schemas[model.__name__] = body
    _rewrite(document["paths"], COMPONENTS + "HTTPValidationError", COMPONENTS + ValidationErrorBody.__name__)
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(partial_spec_schemas())
    for operations in document["paths"].values():
        for operation in operations.values():
            if "requestBody" in operation:
                # A body that is not JSON at all (bad bytes, wrong encoding) gets FastAPI's 400.
                operation["responses"].setdefault(
                    "400",
                    {
                        "description": ERROR_DESCRIPTIONS[400],
                        "content": {"application/json": {"schema": {"$ref": COMPONENTS + ErrorBody.__name__}}},
                    },
                )
    for (method, path, status), links in LINKS.items():
        response = document["paths"].get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is not None:
            response["links"] = links
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve :func:`build_openapi` (built once) at ``/openapi.json``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
