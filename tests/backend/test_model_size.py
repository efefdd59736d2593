"""The parameter bound: counted from the spec, refused above REGLAB_MAX_PARAMS on every way in."""

from backend.model_size import param_count
from backend.settings import get_settings
from reglab.spec import build_spec
from tests.backend.helpers import errors_by_field, make_experiment

HUGE = {"model": {"hidden_layers": [4096] * 16}}
# 784·4096 + 4096 = 3,215,360; fifteen 4096·4096 + 4096 = 251,719,680; the softmax 4096·10 + 10 = 40,970.
HUGE_COUNT = "254,976,010"


def test_counts_by_hand():
    # digits: 64 inputs; Dense(3) 195, PReLU 3, BatchNorm 12, output Dense(10) 40.
    spec = build_spec(
        {"dataset": {"name": "digits", "validation_samples": 100}, "model": {"hidden_layers": [3], "activation": "prelu", "batch_norm": "after_activation"}}
    )
    assert param_count(spec) == 250
    # Batch norm before the activation drops the Dense bias; input batch norm adds 4 per input.
    spec = build_spec(
        {"dataset": {"name": "digits", "validation_samples": 100}, "model": {"hidden_layers": [3], "batch_norm": "before_activation", "input_batch_norm": True}}
    )
    assert param_count(spec) == 256 + 192 + 12 + 40
    # imdb: num_words inputs and one sigmoid output.
    assert param_count(build_spec({"dataset": {"name": "imdb", "num_words": 100}, "model": {"hidden_layers": []}})) == 101


def test_huge_model_is_refused_naming_the_field_and_the_count(client):
    response = client.post("/api/experiments", json={"name": "too big", "base": HUGE})

    message = errors_by_field(response)["base.model.hidden_layers"]
    assert f"{HUGE_COUNT} parameters" in message and "20,000,000" in message and "REGLAB_MAX_PARAMS" in message
    assert client.get("/api/runs").json()["total"] == 0


def test_each_grid_combination_is_bounded(client):
    grid = {"model.hidden_layers": [[300, 100], [4096] * 16]}

    message = errors_by_field(client.post("/api/experiments", json={"name": "grid", "grid": grid}))["grid.model.hidden_layers"]

    assert "[4096," in message and "parameters" in message
    assert client.get("/api/runs").json()["total"] == 0


def test_clones_and_validation_are_bounded(client):
    run_id = make_experiment(client)["runs"][0]["id"]

    assert "parameters" in errors_by_field(client.post(f"/api/runs/{run_id}/clone", json=HUGE))["model.hidden_layers"]
    assert "parameters" in errors_by_field(client.post("/api/spec/validate", json=HUGE))["model.hidden_layers"]


def test_the_limit_is_a_setting(client, monkeypatch):
    monkeypatch.setenv("REGLAB_MAX_PARAMS", "1000")
    get_settings.cache_clear()

    message = errors_by_field(client.post("/api/experiments", json={"name": "default mlp"}))["base.model.hidden_layers"]

    # The default 300-100 MLP on Fashion-MNIST: 784·300 + 300 + 300·100 + 100 + 100·10 + 10.
    assert "266,610 parameters" in message and "1,000" in message


def test_the_notes_weight_decay_model_has_50890_parameters():
    # Seeds 000/001: Flatten(28x28) -> Dense(64) -> Dense(10): 784*64 + 64 + 64*10 + 10, as Keras' summary prints.
    spec = build_spec({"dataset": {"name": "fashion_mnist"}, "model": {"hidden_layers": [64], "activation": "linear"}})
    assert param_count(spec) == 50_890


def test_conv_blocks_are_counted():
    # digits 8x8x1: Conv(4, 3x3) = 3*3*1*4 + 4 = 40, pool -> 4x4x4 = 64 features, Dense(10) = 650.
    spec = build_spec({"dataset": {"name": "digits", "validation_samples": 100},
                       "model": {"conv": [{"filters": 4, "kernel_size": 3, "pool": 2}], "hidden_layers": []}})
    assert param_count(spec) == 40 + 650
