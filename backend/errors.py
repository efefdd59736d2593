"""API errors and their JSON form.

Every client error answers ``{"detail": ...}``: a message for 400/401/403/
404/405/409/503, a list of ``{"field", "msg", "type"}`` for 422 where
``field`` is a dotted path (``base.regularization.dropout``) and ``msg``
states the allowed range ("must be ≥ 0 and < 1, got 1.5"). Bad input never
yields a 500 or a traceback.

Routes document these bodies with :func:`error_responses`, e.g.
``@router.get(..., responses=error_responses(404, 422))``;
:func:`backend.openapi.install_openapi` puts the 422 body in place of
FastAPI's default ``HTTPValidationError`` everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.responses import OrjsonResponse
from backend.spec_fields import FieldBounds, bounds_of, resolve

log = logging.getLogger(__name__)


class FieldError(BaseModel):
    """One invalid field: its dotted path, what is allowed and what was received, and pydantic's error type."""

    field: str = Field(examples=["base.regularization.dropout"])
    msg: str = Field(examples=["must be ≥ 0 and < 1, got 1.5"])
    type: str = Field(examples=["less_than"])


class ValidationErrorBody(BaseModel):
    """The body of every 422."""

    detail: list[FieldError]


class ErrorBody(BaseModel):
    """The body of every other client error (400, 404, 405, 409, 503, ...)."""

    detail: str


ERROR_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    409: "Conflicts with the resource's state",
    422: "Invalid input: each item names a field and its allowed range",
    429: "Too many failed attempts from this address; Retry-After says when to try again",
    503: "A service the request needs (database, Redis) is unreachable",
    507: "The server's disk refused the file (full, over quota or read-only)",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting the error bodies a route can return."""
    return {
        status: {
            "model": ValidationErrorBody if status == 422 else ErrorBody,
            "description": ERROR_DESCRIPTIONS[status],
        }
        for status in statuses
    }

NUMBER_ERRORS = {
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "float_parsing",
    "float_type",
    "int_parsing",
    "int_type",
    "int_from_float",
    "finite_number",
    "multiple_of",
}
LENGTH_ERRORS = {"too_short", "too_long", "string_too_short", "string_too_long"}


class ApiError(Exception):
    """An error with an HTTP status and a message meant for the person who sent the request."""

    status_code = 400

    def __init__(self, detail: Any):
        super().__init__(detail)
        self.detail = detail


class NotFound(ApiError):
    status_code = 404


class Conflict(ApiError):
    status_code = 409


class Unavailable(ApiError):
    status_code = 503


class InsufficientStorage(ApiError):
    """507: the server's disk refused a file (full, over quota, read-only)."""

    status_code = 507


class InvalidInput(ApiError):
    """422 with a list of ``{"field", "msg", "type"}`` entries."""

    status_code = 422

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__(errors)


def field_error(field: str, msg: str, type_: str = "value_error") -> dict[str, str]:
    return {"field": field, "msg": msg, "type": type_}


def shown(value: Any, limit: int = 80) -> str:
    """A received value as JSON text, shortened."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_error(error: dict[str, Any], bounds: FieldBounds | None, raw_text: bool = False) -> str:
    """A message for one pydantic error that says what is allowed and what was received.

    ``raw_text`` shows a string input as typed (query parameters), not as JSON.
    """
    kind, ctx = error["type"], error.get("ctx") or {}
    value = error.get("input")
    got = value[:80] if raw_text and isinstance(value, str) else shown(value)
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = ctx.get("expected_tags", "")
        if kind == "union_tag_not_found":
            return f"needs a 'name', one of {tags}"
        return f"name must be one of {tags}, got {shown(ctx.get('tag'))}"
    if kind == "value_error":
        return str(ctx.get("error") or error["msg"]).removeprefix("Value error, ")
    bounded = NUMBER_ERRORS | LENGTH_ERRORS | {"literal_error", "bool_parsing", "bool_type", "string_type"}
    if bounds is not None and bounds.kind != "other" and kind in bounded:
        return f"must be {bounds.describe()}, got {got}"
    if kind == "string_pattern_mismatch":
        return f"must match the pattern {ctx.get('pattern')}, got {got}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"must be an object, got {got}"
    if kind in NUMBER_ERRORS and ctx:
        for key, symbol in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            if key in ctx:
                return f"must be {symbol} {ctx[key]}, got {got}"
    if kind in LENGTH_ERRORS and ctx:
        noun = "characters" if kind.startswith("string") else "items"
        if "max_length" in ctx:
            return f"must have at most {ctx['max_length']} {noun}, got {got}"
        if "min_length" in ctx:
            return f"must have at least {ctx['min_length']} {noun}, got {got}"
    return f"{error['msg'].rstrip('.')}, got {got}"


def spec_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """Turn a RunSpec ValidationError into field errors; ``prefix`` is e.g. ``"base."``."""
    errors = []
    for error in exc.errors(include_url=False):
        path, bounds = resolve(error["loc"])
        field = (prefix + path).rstrip(".") or "spec"
        if error["type"] == "union_tag_invalid":
            field += ".name"
        errors.append(field_error(field, describe_error(error, bounds), error["type"]))
    return errors


def _params(dependant: Any, where: str) -> Iterator[Any]:
    """Query or path parameters of a route, its sub-dependencies included."""
    yield from dependant.query_params if where == "query" else dependant.path_params
    for sub in dependant.dependencies:
        yield from _params(sub, where)


def _request_bounds(request: Request, loc: tuple[Any, ...]) -> FieldBounds | None:
    """Bounds of the request parameter or body field at ``loc``, from the matched route."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None or len(loc) < 2:
        return None
    where, name, rest = loc[0], loc[1], loc[2:]
    if where in ("query", "path"):
        param = next((p for p in _params(dependant, where) if p.alias == name), None)
        if param is None or rest:
            return None
        return bounds_of(str(name), param.field_info.annotation, param.field_info.metadata)
    body_field = getattr(request.scope.get("route"), "body_field", None)
    model = getattr(getattr(body_field, "field_info", None), "annotation", None)
    if where == "body" and isinstance(model, type) and issubclass(model, BaseModel):
        return resolve(loc[1:], root=model)[1]
    return None


def request_errors(request: Request, exc: RequestValidationError) -> list[dict[str, str]]:
    """FastAPI's request errors with the ``body``/``query`` prefix dropped from the path."""
    errors = []
    for error in exc.errors():
        loc = tuple(error.get("loc", ()))
        shown_loc = [str(part) for part in (loc[1:] if loc and loc[0] in ("body", "query", "path") else loc)]
        field = ".".join(shown_loc) or "body"
        if error.get("type") == "json_invalid":
            # The loc's second part is a character position, not a field.
            field = "body"
            msg = f"is not valid JSON: {error.get('ctx', {}).get('error', error.get('msg'))}"
        else:
            bounds = _request_bounds(request, loc)
            msg = describe_error(error, bounds, raw_text=bool(loc) and loc[0] in ("query", "path"))
        errors.append(field_error(field, msg, error.get("type", "value_error")))
    return errors


async def reject_unknown_query(request: Request) -> None:
    """422 for a query parameter the route does not declare: a misspelt filter must not silently list everything.

    Async, so the check costs no hop to a thread on the hot async routes.
    """
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None:
        return
    known = {param.alias for param in _params(dependant, "query")}
    unknown = [name for name in dict.fromkeys(request.query_params.keys()) if name not in known]
    if unknown:
        allowed = ", ".join(sorted(known)) or "none"
        raise InvalidInput(
            [
                field_error(name or "(empty name)", f"is not a query parameter of this route (known: {allowed})", "extra_forbidden")
                for name in unknown
            ]
        )


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app serves at the request's path."""
    path = request.url.path
    matching = [
        route
        for route in iter_route_contexts(request.app.routes)
        if getattr(route, "methods", None) and getattr(route, "path_regex", None) and route.path_regex.match(path)
    ]
    # /api/experiments/plan is its own resource, though /api/experiments/{experiment_id} matches it too.
    literal = [route for route in matching if getattr(route, "path_format", None) == path]
    return sorted({method for route in literal or matching for method in route.methods})


def install_error_handlers(app: FastAPI) -> None:
    """Register the JSON error handlers on ``app``."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> OrjsonResponse:
        return OrjsonResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _request_error(request: Request, exc: RequestValidationError) -> OrjsonResponse:
        return OrjsonResponse({"detail": request_errors(request, exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> OrjsonResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the first route that matched the path; list them all.
            headers["Allow"] = ", ".join(allowed_methods(request))
        return OrjsonResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> OrjsonResponse:
        # Logged in full here, never sent: the client gets no traceback.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return OrjsonResponse({"detail": "internal error; see the server log"}, status_code=500)
