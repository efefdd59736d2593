"""Look up a run-spec field by dotted path: its bounds, choices and nullability.

The 422 messages quote a field's whole allowed range from here, the grid
checks that its keys are real fields, and the property tests derive
out-of-range values from the same bounds.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from reglab.spec import RunSpec


@dataclass
class FieldBounds:
    """What a spec field accepts."""

    path: str
    kind: str  # number | integer | boolean | choice | list | object | string | mapping | other
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    choices: tuple[Any, ...] = ()
    nullable: bool = False
    item: FieldBounds | None = None
    models: tuple[type[BaseModel], ...] = field(default_factory=tuple)

    def describe(self) -> str:
        """The allowed values in words, e.g. ``≥ 0 and < 1`` or ``one of a, b``."""
        if self.kind == "choice":
            text = "one of " + ", ".join(str(c) for c in self.choices)
        elif self.kind == "boolean":
            text = "true or false"
        elif self.kind == "list":
            text = "a list " + _length_words(self.min_length, self.max_length, "items")
            if self.item is not None and self.item.kind in ("number", "integer"):
                text += f", each {self.item.describe()}"
        elif self.kind == "object":
            text = "an object"
        elif self.kind == "string":
            text = "a string " + _length_words(self.min_length, self.max_length, "characters")
        elif self.kind == "mapping":
            text = "an object " + _length_words(self.min_length, self.max_length, "keys")
        else:
            parts = []
            if self.ge is not None:
                parts.append(f"≥ {_num(self.ge)}")
            if self.gt is not None:
                parts.append(f"> {_num(self.gt)}")
            if self.le is not None:
                parts.append(f"≤ {_num(self.le)}")
            if self.lt is not None:
                parts.append(f"< {_num(self.lt)}")
            text = " and ".join(parts) or ("an integer" if self.kind == "integer" else "a number")
            if parts and self.kind == "integer":
                text = "an integer " + text
        if self.nullable:
            text += " (or null)"
        return text


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def _length_words(low: int | None, high: int | None, noun: str) -> str:
    if low and high:
        return f"from {low} to {high} {noun}"
    if high is not None:
        return f"with at most {high} {noun}"
    if low:
        return f"with at least {low} {noun}"
    return f"with any number of {noun}"


_CONSTRAINTS = {"ge": at.Ge, "gt": at.Gt, "le": at.Le, "lt": at.Lt, "min_length": at.MinLen, "max_length": at.MaxLen}


def _unwrap(annotation: Any, metadata: list[Any]) -> tuple[list[Any], list[Any], bool]:
    """Split an annotation into its non-None member types, its constraints and nullability."""
    metadata = list(metadata)
    while get_origin(annotation) is Annotated:
        annotation, *extra = get_args(annotation)
        for item in extra:
            metadata.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    if get_origin(annotation) in (Union, types.UnionType):
        members, nullable = [], False
        for member in get_args(annotation):
            if member is type(None):
                nullable = True
                continue
            inner, inner_meta, inner_null = _unwrap(member, [])
            members.extend(inner)
            metadata.extend(inner_meta)
            nullable = nullable or inner_null
        return members, metadata, nullable
    return [annotation], metadata, False


def _bounds(path: str, annotation: Any, metadata: list[Any]) -> FieldBounds:
    members, metadata, nullable = _unwrap(annotation, metadata)
    result = FieldBounds(path=path, kind="other", nullable=nullable)
    for constraint in metadata:
        for name, kind in _CONSTRAINTS.items():
            if isinstance(constraint, kind):
                setattr(result, name, getattr(constraint, name))
    models = tuple(m for m in members if isinstance(m, type) and issubclass(m, BaseModel))
    first = members[0] if members else None
    if models:
        result.kind, result.models = "object", models
    elif get_origin(first) is Literal:
        result.kind, result.choices = "choice", get_args(first)
    elif first is bool:
        result.kind = "boolean"
    elif first is int:
        result.kind = "integer"
    elif first is float:
        result.kind = "number"
    elif first is str:
        result.kind = "string"
    elif get_origin(first) is dict or first is dict:
        result.kind = "mapping"
    elif get_origin(first) is list:
        result.kind = "list"
        result.item = _bounds(path + ".*", get_args(first)[0], [])
    return result


def bounds_of(path: str, annotation: Any, metadata: list[Any]) -> FieldBounds:
    """Bounds of any annotated field (e.g. a query parameter), not only spec fields."""
    return _bounds(path, annotation, metadata)


def _tag(model: type[BaseModel]) -> str | None:
    info = model.model_fields.get("name")
    if info is not None and get_origin(info.annotation) is Literal and len(get_args(info.annotation)) == 1:
        return get_args(info.annotation)[0]
    return None


def resolve(loc: tuple[Any, ...] | list[Any], root: type[BaseModel] = RunSpec) -> tuple[str, FieldBounds | None]:
    """Return the readable dotted path of a pydantic ``loc`` and the field's bounds (None if unknown).

    Discriminator tags in the loc (``schedule.piecewise.values``) are dropped
    from the path, since a person never writes them.
    """
    shown: list[str] = []
    current = FieldBounds(path="", kind="object", models=(root,))
    for position, token in enumerate(loc):
        text = str(token)
        if current.kind == "list" and isinstance(token, int):
            shown.append(text)
            current = current.item or FieldBounds(path=".".join(shown), kind="other")
            continue
        if current.kind == "object" and len(current.models) > 1:
            narrowed = tuple(m for m in current.models if _tag(m) == token)
            if narrowed:
                current = FieldBounds(path=current.path, kind="object", models=narrowed, nullable=current.nullable)
                continue
        info = next((m.model_fields[text] for m in current.models if text in m.model_fields), None)
        shown.append(text)
        if info is None:
            return ".".join(shown + [str(t) for t in loc[position + 1 :]]), None
        current = _bounds(".".join(shown), info.annotation, info.metadata)
    return ".".join(shown), current


@lru_cache
def object_paths() -> frozenset[str]:
    """Every dotted path that names a spec field or section, across all schedule kinds."""
    paths: set[str] = set()

    def walk(models: tuple[type[BaseModel], ...], prefix: str) -> None:
        for model in models:
            for name, info in model.model_fields.items():
                path = prefix + name
                paths.add(path)
                bounds = _bounds(path, info.annotation, info.metadata)
                if bounds.kind == "object":
                    walk(bounds.models, path + ".")

    walk((RunSpec,), "")
    return frozenset(paths)


def leaf_bounds(model: type[BaseModel] = RunSpec, prefix: str = "") -> dict[str, FieldBounds]:
    """Bounds of every scalar field of ``model`` (schedules are left to the caller)."""
    leaves: dict[str, FieldBounds] = {}
    for name, info in model.model_fields.items():
        bounds = _bounds(prefix + name, info.annotation, info.metadata)
        if bounds.kind == "object":
            if len(bounds.models) == 1:
                leaves.update(leaf_bounds(bounds.models[0], prefix + name + "."))
            continue
        leaves[prefix + name] = bounds
    return leaves
