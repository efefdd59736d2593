"""Expanding an experiment's grid into named, validated run specs."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from backend.errors import InvalidInput, describe_error, field_error, shown
from backend.limits import Breach, breaches
from reglab.spec import RunSpec, set_path, spec_warnings
from backend.spec_fields import object_paths, resolve

MAX_NAME = 500
# One bad grid value tends to fail many combinations the same way.
MAX_ERRORS = 20


@dataclass
class PlannedRun:
    name: str
    spec: RunSpec


def check_keys(grid: dict[str, list[Any]], max_runs: int) -> None:
    """Raise InvalidInput unless every key is a spec field and the product fits ``max_runs``."""
    errors = [
        field_error(f"grid.{key}", "is not a run spec field (use a dotted path like regularization.dropout)")
        for key in grid
        if key not in object_paths() or key == "spec_version"
    ]
    if errors:
        raise InvalidInput(errors)
    total = math.prod(len(values) for values in grid.values())
    if total > max_runs:
        sizes = " × ".join(str(len(values)) for values in grid.values())
        raise InvalidInput(
            [
                field_error(
                    "grid", f"expands to {sizes} = {total} runs, more than the limit of {max_runs} per experiment"
                )
            ]
        )


def check_replicates(replicates: list[str] | None) -> None:
    """Raise InvalidInput unless every replicate field is a run spec field."""
    errors = [
        field_error(f"replicates.{i}", f"is not a run spec field (use a dotted path like training.seed), got {shown(key)}")
        for i, key in enumerate(replicates or [])
        if key not in object_paths() or key == "spec_version"
    ]
    if errors:
        raise InvalidInput(errors)


def _related(path: str, key: str) -> bool:
    """Whether an error at ``path`` comes from the grid ``key`` (one contains the other)."""
    return path == key or path.startswith(key + ".") or key.startswith(path + ".")


def expand(
    base: dict[str, Any],
    grid: dict[str, list[Any]],
    experiment_name: str,
    max_epochs: int | None = None,
    max_params: int | None = None,
) -> list[PlannedRun]:
    """Validate every combination of ``grid`` over the complete ``base`` spec and name it.

    Raises InvalidInput naming the grid key and value of each invalid combination,
    or of each one beyond this server's limits (epochs, parameters).
    """
    # Whole objects (e.g. "schedule") go in before their own fields ("schedule.s").
    keys = sorted(grid, key=lambda k: k.count("."))
    varying = [k for k in grid if len(grid[k]) > 1]
    labels = key_labels(varying)
    planned: list[PlannedRun] = []
    errors: list[dict[str, str]] = []
    for values in itertools.product(*(grid[k] for k in keys)):
        combo = dict(zip(keys, values, strict=True))
        spec_data = base
        for key in keys:
            spec_data = set_path(spec_data, key, combo[key])
        try:
            spec = RunSpec.model_validate(spec_data)
        except ValidationError as exc:
            errors.extend(_combo_errors(exc, combo))
            if len(errors) >= MAX_ERRORS:
                break
            continue
        if found := breaches(spec, max_epochs, max_params):
            errors.extend(_limit_error(breach, combo) for breach in found)
            if len(errors) >= MAX_ERRORS:
                break
            continue
        planned.append(PlannedRun(name=run_name(combo, varying, labels, experiment_name), spec=spec))
    if errors:
        unique = list({(e["field"], e["msg"]): e for e in errors}.values())
        raise InvalidInput(unique[:MAX_ERRORS])
    return planned


def _combo_errors(exc: ValidationError, combo: dict[str, Any]) -> list[dict[str, str]]:
    errors = []
    for error in exc.errors(include_url=False):
        path, bounds = resolve(error["loc"])
        msg = describe_error(error, bounds)
        key = next((k for k in combo if _related(path, k)), None)
        if key is None:
            setting = ", ".join(f"{k}={shown(v)}" for k, v in combo.items())
            errors.append(field_error(f"base.{path}", f"{msg} (with grid {setting})", error["type"]))
        elif path == key:
            errors.append(field_error(f"grid.{key}", f"value {shown(combo[key])}: {msg}", error["type"]))
        else:
            errors.append(field_error(f"grid.{key}", f"value {shown(combo[key])}: {path} {msg}", error["type"]))
    return errors


def _limit_error(breach: Breach, combo: dict[str, Any]) -> dict[str, str]:
    """A limit breach named after the grid key that caused it, else the base field (with the combination)."""
    key = next((k for k in combo if _related(breach.field, k)), None)
    if key is not None:
        return field_error(f"grid.{key}", f"value {shown(combo[key])}: {breach.field} {breach.msg}", breach.type)
    if combo:
        setting = ", ".join(f"{k}={shown(v)}" for k, v in combo.items())
        return field_error(f"base.{breach.field}", f"{breach.msg} (with grid {setting})", breach.type)
    return field_error(f"base.{breach.field}", breach.msg, breach.type)


def key_labels(keys: list[str]) -> dict[str, str]:
    """Short labels for grid keys: the leaf name, the section for ``*.name``, the full path on a clash."""
    labels = {}
    for key in keys:
        parts = key.split(".")
        labels[key] = parts[-2] if parts[-1] == "name" and len(parts) > 1 else parts[-1]
    clashes = {label for label in labels.values() if list(labels.values()).count(label) > 1}
    return {key: key if label in clashes else label for key, label in labels.items()}


def format_value(value: Any) -> str:
    """A value as it reads in a run name: ``0.01``, ``exponential(s=20)``, ``[300,100]``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{k}={format_value(v)}" for k, v in value.items() if k != "name")
        head = str(value.get("name", ""))
        return f"{head}({inner})" if inner else (head or "{}")
    return str(value)


def run_name(combo: dict[str, Any], varying: list[str], labels: dict[str, str], experiment_name: str) -> str:
    """``kernel_l2=0.01, dropout=0.2`` from the grid keys that vary; the experiment's name if none do."""
    if not varying:
        return experiment_name[:MAX_NAME]
    name = ", ".join(f"{labels[key]}={format_value(combo[key])}" for key in varying)
    return name if len(name) <= MAX_NAME else name[: MAX_NAME - 1] + "…"


def distinct_warnings(specs: list[RunSpec]) -> list[str]:
    """spec_warnings of every spec, each message once, in first-seen order."""
    seen: dict[str, None] = {}
    for spec in specs:
        for warning in spec_warnings(spec):
            seen.setdefault(warning, None)
    return list(seen)
