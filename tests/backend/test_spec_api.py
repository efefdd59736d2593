"""The run-spec endpoints: schema, defaults, datasets and validation messages (no database)."""

import pytest

from reglab.spec import DATASET_TRAIN_SIZES, RunSpec, default_spec


@pytest.fixture(scope="module")
def spec_client():
    """A client without the lifespan: these endpoints need neither database nor broker."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from backend.main import create_app

    return TestClient(create_app())


def test_schema_default_and_datasets(spec_client):
    assert spec_client.get("/api/spec/schema").json() == RunSpec.model_json_schema()
    assert spec_client.get("/api/spec/default").json() == default_spec()
    datasets = spec_client.get("/api/spec/datasets").json()
    assert datasets["digits"] == {"train": 1437, "test": 360, "classes": 10}
    assert set(datasets) == set(DATASET_TRAIN_SIZES)


def test_validate_returns_the_full_spec_and_warnings(spec_client):
    body = spec_client.post("/api/spec/validate", json={"model": {"activation": "selu"}}).json()

    assert body["spec"]["model"]["activation"] == "selu" and body["spec"]["training"]["epochs"] == 10
    assert any("standardize" in w for w in body["warnings"])


@pytest.mark.parametrize(
    ("partial", "field", "msg"),
    [
        ({"regularization": {"dropout": 1.5}}, "regularization.dropout", "must be ≥ 0 and < 1, got 1.5"),
        ({"training": {"epochs": 0}}, "training.epochs", "must be an integer ≥ 1 and ≤ 1000, got 0"),
        ({"model": {"hidden_layers": [10, 0]}}, "model.hidden_layers.1", "must be an integer ≥ 1 and ≤ 4096, got 0"),
        ({"optimizer": {"name": "lbfgs"}}, "optimizer.name", "must be one of sgd, adagrad"),
        ({"schedule": {"name": "warp"}}, "schedule.name", "name must be one of"),
        ({"schedule": {"name": "plateau", "factor": 1}}, "schedule.factor", "must be > 0 and < 1, got 1"),
        ({"regularization": {"droput": 0.1}}, "regularization.droput", "is not a known field"),
        ({"schedule": {"name": "piecewise", "values": [0.1, 0.2]}}, "schedule", "len(values) = len(boundaries) + 1"),
        ({"dataset": {"num_words": 500}}, "dataset", "num_words applies only to the imdb dataset"),
        ({"training": {"early_stopping": {"patience": -1}}}, "training.early_stopping.patience", "≥ 0 and ≤ 1000"),
        (
            {"dataset": {"name": "imdb"}, "model": {"conv": [{"filters": 8}]}},
            "model.conv",
            "needs an image dataset (fashion_mnist, mnist, cifar10, digits or uploaded images); imdb is not one",
        ),
        (
            {"dataset": {"name": "digits", "validation_samples": 100}, "model": {"conv": [{"pool": 2}] * 4}},
            "model.conv",
            "4 poolings shrink the 8x8 images of digits below 1 pixel; at most 3 fit",
        ),
        ({"model": {"conv": [{"pool": 3}]}}, "model.conv.0.pool", "must be one of 2"),
        ({"regularization": {"spatial_dropout": True}}, "regularization.spatial_dropout", "only to model.conv"),
        (
            {"schedule": {"name": "exponential", "s": 20, "decay_steps": 10000, "decay_rate": 0.9}},
            "schedule",
            "set s (the notes' form) or decay_steps and decay_rate (Keras' form), not both",
        ),
        ({"schedule": {"name": "exponential", "decay_steps": 100}}, "schedule", "needs both decay_steps and decay_rate"),
        (
            {"schedule": {"name": "exponential", "decay_steps": 10, "decay_rate": 0.5, "per": "epoch"}},
            "schedule",
            "Keras' form counts steps",
        ),
    ],
)
def test_invalid_fields_name_the_path_and_the_allowed_range(spec_client, partial, field, msg):
    response = spec_client.post("/api/spec/validate", json=partial)

    assert response.status_code == 422
    errors = {e["field"]: e["msg"] for e in response.json()["detail"]}
    assert field in errors and msg in errors[field], errors


def test_cosine_restarts_periods_may_not_shrink(client):
    """t_mul < 1 makes the periods' sum converge and Keras' rate NaN past it: refused up front."""
    response = client.post("/api/spec/validate", json={"schedule": {"name": "cosine_restarts", "t_mul": 0.8}})
    assert response.status_code == 422
    fields = [error["field"] for error in response.json()["detail"]]
    assert any(field.endswith("t_mul") for field in fields)


def test_the_notes_recipes_validate_as_written(spec_client):
    keras_form = {"name": "exponential", "decay_steps": 10000, "decay_rate": 0.9}
    body = spec_client.post("/api/spec/validate", json={"schedule": keras_form, "model": {"activation": "linear"}})
    assert body.status_code == 200, body.text
    schedule = body.json()["spec"]["schedule"]
    assert schedule["s"] is None and schedule["per"] == "step" and schedule["staircase"] is None
    notes_form = spec_client.post("/api/spec/validate", json={"schedule": {"name": "exponential"}}).json()
    assert notes_form["spec"]["schedule"]["s"] == 20.0 and notes_form["spec"]["schedule"]["decay_steps"] is None
    conv = {"conv": [{"filters": 16, "kernel_size": 3, "pool": 2}]}
    body = spec_client.post("/api/spec/validate", json={"dataset": {"name": "cifar10"}, "model": conv}).json()
    assert body["spec"]["model"]["conv"] == [{"filters": 16, "kernel_size": 3, "pool": 2}]
    warnings = spec_client.post(
        "/api/spec/validate", json={"model": {"activation": "linear"}, "regularization": {"dropout_kind": "alpha"}}
    ).json()["warnings"]
    assert any("meant for SELU" in w and "linear" in w for w in warnings)
