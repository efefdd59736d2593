"""How access refusals look in the OpenAPI document (the middleware in backend.auth.access sends them)."""

from typing import Any

from backend.errors import ErrorBody


# Documented on every route the policy can refuse (all but /api/health and the session routes).
ACCESS_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no token, or an invalid or revoked one (REGLAB_AUTH write or all)"},
    403: {"model": ErrorBody, "description": "the token's scope does not allow this route, or a cross-site write"},
    429: {"model": ErrorBody, "description": "too many failed tokens from this address; see Retry-After"},
}
