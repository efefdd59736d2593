"""Bounds on free-form JSON bodies (partial specs, grid values), checked before any recursion."""

from typing import Annotated, Any

from pydantic import AfterValidator, WithJsonSchema

MAX_DEPTH = 16
MAX_NODES = 20_000


def shallow(value: Any) -> Any:
    """Reject JSON nested deeper than MAX_DEPTH or larger than MAX_NODES values; iterative, never recursive."""
    stack = [(value, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            raise ValueError(f"must nest at most {MAX_DEPTH} levels deep")
        if nodes > MAX_NODES:
            raise ValueError(f"must hold at most {MAX_NODES} values")
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    return value


# Documented as the run spec with every field optional and no unknown fields
# (backend.openapi adds that schema), which is what the server accepts.
PARTIAL_SPEC_REF = "#/components/schemas/PartialRunSpec"
PartialSpec = Annotated[dict[str, Any], AfterValidator(shallow), WithJsonSchema({"allOf": [{"$ref": PARTIAL_SPEC_REF}]})]
