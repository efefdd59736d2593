"""The spec fields of per-layer snapshots, and seed 004's 100-layer network within the bounds."""

from backend.model_size import param_count
from reglab.spec import build_spec
from tests.backend.helpers import errors_by_field

DEEP_SELU = {"model": {"hidden_layers": [100] * 100, "activation": "selu", "initializer": "lecun_normal"},
             "dataset": {"preprocessing": "standardize"}}  # fmt: skip


def test_defaults_record_every_epoch_on_256_validation_examples():
    evaluation = build_spec({}).evaluation
    assert (evaluation.layer_stats_every, evaluation.probe_examples) == (1, 256)


def test_a_100_layer_network_is_valid_and_under_the_parameter_bound(client):
    # 784·100 + 100, ninety-nine 100·100 + 100, the softmax 100·10 + 10.
    assert param_count(build_spec(DEEP_SELU)) == 78_500 + 99 * 10_100 + 1_010
    assert client.post("/api/spec/validate", json=DEEP_SELU).status_code == 200


def test_out_of_range_values_are_refused_naming_the_field_and_the_range(client):
    for partial, field, words in (
        ({"model": {"hidden_layers": [10] * 101}}, "model.hidden_layers", "100"),
        ({"evaluation": {"layer_stats_every": -1}}, "evaluation.layer_stats_every", "0"),
        ({"evaluation": {"layer_stats_every": 1001}}, "evaluation.layer_stats_every", "1000"),
        ({"evaluation": {"probe_examples": 0}}, "evaluation.probe_examples", "1"),
        ({"evaluation": {"probe_examples": 5000}}, "evaluation.probe_examples", "1024"),
    ):
        response = client.post("/api/spec/validate", json=partial)
        assert response.status_code == 422, partial
        assert words in errors_by_field(response)[field], (partial, response.json())
