"""A search space: checking it against the spec's bounds, and translating between Optuna and specs.

Pure functions (Optuna's distributions are plain objects): the coordinator
asks Optuna with :func:`distributions`, turns a trial's params into a run spec
with :func:`trial_spec`, and names the run with :func:`trial_name`.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from backend.errors import InvalidInput, describe_error, field_error, shown
from backend.experiments.grid import MAX_ERRORS, format_value, key_labels
from backend.limits import breaches
from backend.search.schemas import OBJECTIVE_METRICS, Dimension, SearchIn
from backend.spec_fields import FieldBounds, object_paths, resolve
from reglab.spec import RunSpec, set_path

SCALARS = (str, int, float, bool, type(None))


def _num(value: float) -> str:
    return format(value, ".4g") if isinstance(value, float) else str(value)


def _range_error(path: str, dim: Dimension, bounds: FieldBounds | None) -> str | None:
    """Why a numeric range does not fit the field, or None."""
    low, high = dim.values
    shown_range = f"[{_num(low)}, {_num(high)}]"
    if bounds is None or bounds.kind not in ("number", "integer"):
        allowed = bounds.describe() if bounds is not None else "not a number"
        return f"{dim.kind} needs a number field, and {path} is {allowed}; use choice"
    if bounds.kind == "integer" and dim.kind != "int_uniform":
        return f"is an integer field ({bounds.describe()}): use int_uniform"
    if low >= high:
        return f"range {shown_range} is empty: the low end must be below the high end"
    if dim.kind == "log_uniform" and low <= 0:
        return f"a log range must lie above 0, got {shown_range}"
    outside = (
        (bounds.ge is not None and low < bounds.ge)
        or (bounds.gt is not None and low <= bounds.gt)
        or (bounds.le is not None and high > bounds.le)
        or (bounds.lt is not None and high >= bounds.lt)
    )
    if outside:
        return f"range {shown_range} leaves the allowed range: {path} must be {bounds.describe()}"
    return None


def check_search(search: SearchIn, base: dict[str, Any], max_trials: int) -> None:
    """Raise InvalidInput naming ``search.<field>`` unless the search fits the spec and this server's limits."""
    errors = []
    if search.trials > max_trials:
        errors.append(field_error(
            "search.trials", f"must be ≤ {max_trials} (this server's REGLAB_MAX_TRIALS_PER_EXPERIMENT), "
            f"got {search.trials}", "less_than_equal"))  # fmt: skip
    if search.objective.metric not in OBJECTIVE_METRICS:
        errors.append(field_error(
            "search.objective.metric", f"must be one of {', '.join(OBJECTIVE_METRICS)}, got {shown(search.objective.metric)}"
        ))  # fmt: skip
    for path, dim in search.space.items():
        field = f"search.space.{path}"
        if path not in object_paths() or path == "spec_version":
            errors.append(field_error(field, "is not a run spec field (use a dotted path like regularization.dropout)"))
        elif dim.kind != "choice" and (why := _range_error(path, dim, resolve(path.split("."))[1])):
            errors.append(field_error(field, why))
    if errors:
        raise InvalidInput(errors)
    errors = []
    for params in _corners(search):
        errors.extend(_spec_errors(search, base, params))
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        unique = list({(e["field"], e["msg"]): e for e in errors}.values())
        raise InvalidInput(unique[:MAX_ERRORS])


def _corners(search: SearchIn) -> list[dict[str, Any]]:
    """Param sets that cover every range end and every choice, to validate whole specs before any trial."""
    ranged = {p: d for p, d in search.space.items() if d.kind != "choice"}
    first = {p: choice_labels(d.choice)[0] for p, d in search.space.items() if d.kind == "choice"}
    corners = [{**first, **{p: d.values[end] for p, d in ranged.items()}} for end in (0, 1)]
    for path, dim in search.space.items():
        if dim.kind == "choice":
            corners.extend({**corners[0], path: label} for label in choice_labels(dim.choice)[1:])
    return corners


def _spec_errors(search: SearchIn, base: dict[str, Any], params: dict[str, Any]) -> list[dict[str, str]]:
    try:
        spec = RunSpec.model_validate(apply(base, search, params))
    except ValidationError as exc:
        found = []
        for error in exc.errors(include_url=False):
            path, bounds = resolve(error["loc"])
            key = next((k for k in params if path == k or path.startswith(k + ".") or k.startswith(path + ".")), None)
            value = decode(search.space[key], params[key]) if key else None
            field = f"search.space.{key}" if key else f"base.{path}"
            where = "" if path == key else f"{path} "
            found.append(field_error(field, f"value {shown(value)}: {where}{describe_error(error, bounds)}", error["type"]))
        return found
    return [field_error(f"base.{b.field}", b.msg, b.type) for b in breaches(spec)]


def choice_labels(values: list[Any]) -> list[Any]:
    """What Optuna stores for each choice: scalars as they are, objects by a readable unique label."""
    if all(isinstance(v, SCALARS) for v in values) and len({repr(v) for v in values}) == len(values):
        return list(values)
    labels = [format_value(v) for v in values]
    return [label if labels.count(label) == 1 else f"{i}: {label}" for i, label in enumerate(labels)]


def decode(dim: Dimension, param: Any) -> Any:
    """The spec value of an Optuna param."""
    if dim.kind == "choice":
        return dim.choice[choice_labels(dim.choice).index(param)]
    return int(param) if dim.kind == "int_uniform" else float(param)


def distributions(search: SearchIn) -> dict[str, Any]:
    """Optuna distributions of the space, named by spec path."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    made: dict[str, Any] = {}
    for path, dim in search.space.items():
        if dim.kind == "choice":
            made[path] = CategoricalDistribution(choice_labels(dim.choice))
        elif dim.kind == "int_uniform":
            made[path] = IntDistribution(*dim.int_uniform)
        else:
            made[path] = FloatDistribution(*dim.values, log=dim.kind == "log_uniform")
    return made


def apply(base: dict[str, Any], search: SearchIn, params: dict[str, Any]) -> dict[str, Any]:
    """``base`` with each param set at its path; whole objects (``schedule``) before their own fields."""
    spec = base
    for path in sorted(params, key=lambda p: p.count(".")):
        spec = set_path(spec, path, decode(search.space[path], params[path]))
    return spec


def trial_spec(base: dict[str, Any], search: SearchIn, params: dict[str, Any], replicate: int) -> dict[str, Any]:
    """The run spec of one replicate of a trial: replicates after the first shift the seed by their index."""
    spec = apply(base, search, params)
    if replicate:
        spec = set_path(spec, "training.seed", spec["training"]["seed"] + replicate)
    return RunSpec.model_validate(spec).model_dump(mode="json")


def trial_name(number: int, search: SearchIn, params: dict[str, Any], seed: int | None = None) -> str:
    """``trial 3: kernel_l2=0.00123, dropout=0.312`` (``, seed=43`` for a replicate)."""
    labels = key_labels(list(search.space))
    parts = []
    for path in search.space:
        value = decode(search.space[path], params[path])
        parts.append(f"{labels[path]}={format(value, '.3g') if isinstance(value, float) else format_value(value)}")
    name = f"trial {number}: " + ", ".join(parts) + (f", seed={seed}" if seed is not None else "")
    return name[:500]


def within(dim: Dimension, value: Any) -> bool:
    """Whether a spec value lies in the dimension's range or choices."""
    if dim.kind == "choice":
        return value in dim.choice
    low, high = dim.values
    return low <= value <= high
