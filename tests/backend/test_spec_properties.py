"""Property tests of spec validation through POST /api/spec/validate (no database).

Strategies come from the same field bounds the 422 messages quote, so a field
added to the spec is covered without touching this file.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.model_size import param_count
from backend.settings import Settings
from reglab.spec import DATASET_TRAIN_SIZES, DATASETS, SCHEDULES, RunSpec, build_spec, set_path
from backend.spec_fields import FieldBounds, leaf_bounds, object_paths

PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@pytest.fixture(scope="module")
def spec_client():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from backend.main import create_app

    return TestClient(create_app())


def _schedule_fields() -> dict[str, tuple[str, FieldBounds]]:
    """``schedule.<field>`` bounds of every schedule kind, keyed ``kind:path``."""
    from reglab import spec

    fields = {}
    for model in (
        spec.PowerSchedule,
        spec.ExponentialSchedule,
        spec.PiecewiseSchedule,
        spec.PlateauSchedule,
        spec.OneCycleSchedule,
        spec.CosineSchedule,
        spec.CosineRestartsSchedule,
    ):
        kind = model.model_fields["name"].default
        for path, bounds in leaf_bounds(model, "schedule.").items():
            if path != "schedule.name":
                fields[f"{kind}:{path}"] = (kind, bounds)
    return fields


# dataset.sha256 is the server's to set (from the uploaded dataset), never drawn.
LEAVES = {p: b for p, b in leaf_bounds().items() if p not in ("spec_version", "dataset.sha256")}
SCHEDULE_FIELDS = _schedule_fields()


def valid_values(bounds: FieldBounds) -> st.SearchStrategy:
    if bounds.path == "dataset.name":
        strategy = st.sampled_from(DATASETS)  # or upload:<id>, which needs an uploaded dataset
    elif bounds.kind == "boolean":
        strategy = st.booleans()
    elif bounds.kind == "choice":
        strategy = st.sampled_from(bounds.choices)
    elif bounds.kind == "integer":
        low = bounds.ge if bounds.ge is not None else (bounds.gt + 1 if bounds.gt is not None else -(10**6))
        high = bounds.le if bounds.le is not None else (bounds.lt - 1 if bounds.lt is not None else 10**6)
        strategy = st.integers(int(low), int(high))
    elif bounds.kind == "number":
        strategy = st.floats(
            min_value=bounds.ge if bounds.ge is not None else bounds.gt,
            max_value=bounds.le if bounds.le is not None else bounds.lt,
            exclude_min=bounds.gt is not None,
            exclude_max=bounds.lt is not None,
            allow_nan=False,
        )
    elif bounds.kind == "list":
        size = {"min_size": bounds.min_length or 0, "max_size": min(bounds.max_length or 4, 4)}
        strategy = st.lists(valid_values(bounds.item), **size)
    elif bounds.kind == "object" and len(bounds.models) == 1:
        fields = leaf_bounds(bounds.models[0], "")
        strategy = st.fixed_dictionaries({}, optional={path: valid_values(b) for path, b in fields.items()})
    else:
        raise AssertionError(f"no strategy for {bounds}")
    return st.one_of(st.none(), strategy) if bounds.nullable else strategy


@st.composite
def accepted_partials(draw) -> dict:
    """A partial spec the schema accepts: random leaves and a random schedule, cross-field rules repaired."""
    chosen = draw(st.fixed_dictionaries({}, optional={path: valid_values(b) for path, b in LEAVES.items()}))
    kind = draw(st.sampled_from(SCHEDULES))
    partial: dict = {"schedule": {"name": kind}}
    for path, value in chosen.items():
        partial = set_path(partial, path, value)
    for field_kind, bounds in SCHEDULE_FIELDS.values():
        # Piecewise lists must agree in length: drawn together below.
        if field_kind == kind != "piecewise" and draw(st.booleans()):
            partial = set_path(partial, bounds.path, draw(valid_values(bounds)))
    if kind == "piecewise":
        boundaries = sorted(set(draw(st.lists(st.integers(1, 100_000), min_size=1, max_size=5))))
        rate = valid_values(SCHEDULE_FIELDS["piecewise:schedule.values"][1].item)
        values = draw(st.lists(rate, min_size=len(boundaries) + 1, max_size=len(boundaries) + 1))
        partial = set_path(set_path(partial, "schedule.boundaries", boundaries), "schedule.values", values)
    dataset = partial.setdefault("dataset", {})
    if "num_words" in dataset:
        dataset["name"] = "imdb"
    name = dataset.get("name", "fashion_mnist")
    if dataset.get("validation_samples", 5000) >= DATASET_TRAIN_SIZES[name]:
        dataset["validation_samples"] = DATASET_TRAIN_SIZES[name] - 1
    optimizer = partial.get("optimizer", {})
    if optimizer.get("clipnorm") is not None:
        optimizer.pop("clipvalue", None)
    model, regularization = partial.get("model", {}), partial.get("regularization", {})
    if model.get("conv"):
        # Conv blocks need an image dataset, and no more poolings than its side allows.
        dataset["name"] = "digits" if name == "imdb" else name
        dataset.pop("num_words", None)
        name = dataset["name"]
        dataset["validation_samples"] = min(dataset.get("validation_samples", 5000), DATASET_TRAIN_SIZES[name] - 1)
        for block in model["conv"][3:]:
            block["pool"] = None
    elif regularization.get("spatial_dropout"):
        regularization["spatial_dropout"] = False
    schedule = partial["schedule"]
    if kind == "exponential":
        if schedule.get("decay_steps") is not None or schedule.get("decay_rate") is not None:
            schedule.pop("s", None)
            schedule["decay_steps"] = schedule.get("decay_steps") or 1000
            schedule["decay_rate"] = schedule.get("decay_rate") or 0.5
            schedule["per"] = "step"
        else:
            schedule.pop("staircase", None)
    # The server's parameter bound (REGLAB_MAX_PARAMS, default 20 M) is a rule too: drop layers to fit.
    # Layers left out take the spec's default (300-100), which alone exceeds the bound on a wide imdb.
    model = partial.setdefault("model", {})
    model.setdefault("hidden_layers", list(build_spec({}).model.hidden_layers))
    while param_count(build_spec(partial)) > Settings().MAX_PARAMS:
        if model.get("hidden_layers"):
            model["hidden_layers"].pop()
        else:
            model["conv"].pop()
            if not model["conv"] and partial.get("regularization", {}).get("spatial_dropout"):
                partial["regularization"]["spatial_dropout"] = False  # it needs a conv block
    return partial


@PROPERTY_SETTINGS
@given(partial=accepted_partials())
def test_any_accepted_spec_round_trips_through_json_unchanged(spec_client, partial):
    spec = build_spec(partial)
    data = spec.model_dump(mode="json")

    assert RunSpec.model_validate_json(spec.model_dump_json()) == spec
    headers = {"content-type": "application/json"}
    response = spec_client.post("/api/spec/validate", content=json.dumps(data), headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["spec"] == data
    assert spec_client.post("/api/spec/validate", json=response.json()["spec"]).json()["spec"] == data


def _bounded(bounds: FieldBounds) -> bool:
    return bounds.kind in ("number", "integer") and any(
        v is not None for v in (bounds.ge, bounds.gt, bounds.le, bounds.lt)
    )


OUT_OF_RANGE_TARGETS = [(None, b) for b in LEAVES.values() if _bounded(b) or b.kind == "choice"] + [
    (kind, b) for kind, b in SCHEDULE_FIELDS.values() if _bounded(b) or (b.kind == "choice")
]


@st.composite
def out_of_range(draw) -> tuple[str, dict]:
    """A partial spec with exactly one field outside its bounds, and that field's path."""
    kind, bounds = draw(st.sampled_from(OUT_OF_RANGE_TARGETS))
    if bounds.kind == "choice":
        value = draw(st.text(min_size=1, max_size=12).filter(lambda s: s not in bounds.choices))
    else:
        sides = []
        low = bounds.ge if bounds.ge is not None else bounds.gt
        high = bounds.le if bounds.le is not None else bounds.lt
        # Just past an inclusive bound, or at an exclusive one, up to far beyond it.
        if low is not None:
            if bounds.kind == "number":
                sides.append(st.floats(low - 1e6, low, exclude_max=bounds.ge is not None, allow_nan=False))
            else:
                sides.append(st.integers(int(low) - 10**6, int(low) - (1 if bounds.ge is not None else 0)))
        if high is not None:
            if bounds.kind == "number":
                sides.append(st.floats(high, high + 1e6, exclude_min=bounds.le is not None, allow_nan=False))
            else:
                sides.append(st.integers(int(high) + (1 if bounds.le is not None else 0), int(high) + 10**6))
        value = draw(st.one_of(sides))
    partial = set_path({"schedule": {"name": kind}} if kind else {}, bounds.path, value)
    return bounds.path, partial


@PROPERTY_SETTINGS
@given(case=out_of_range())
def test_any_out_of_range_field_gets_a_422_naming_it(spec_client, case):
    path, partial = case

    response = spec_client.post("/api/spec/validate", json=partial)

    assert response.status_code == 422, (partial, response.text)
    errors = {e["field"]: e["msg"] for e in response.json()["detail"]}
    assert path in errors, errors
    assert "must be" in errors[path] and "got" in errors[path]


def test_every_leaf_path_is_a_valid_grid_key():
    assert set(LEAVES) <= object_paths()
