"""Every preset of the New study page is a study the server accepts, run for run."""

import pytest

from backend.experiments.grid import expand
from tests.frontend.node import evaluator


@pytest.fixture(scope="module")
def presets(tmp_path_factory):
    run = evaluator(tmp_path_factory.mktemp("presets"), "presets")
    return {preset["id"]: preset for preset in run("presets.PRESETS")}


def test_every_preset_expands_to_valid_runs(presets):
    for preset in presets.values():
        runs = expand(preset["base"], preset["grid"], preset["title"], max_epochs=1000)
        assert len(runs) >= 2, preset["id"]


def test_the_notes_recipes_are_presets(presets):
    weight_decay = expand(presets["weight-decay"]["base"], presets["weight-decay"]["grid"], "wd", 1000)
    last = weight_decay[-1].spec
    assert last.model.hidden_layers == [64] and last.model.activation == "linear"
    assert (last.regularization.kernel_l2, last.regularization.activity_l1) == (0.01, 0.01)
    assert (last.regularization.max_norm, last.regularization.dropout) == (2.0, 0.5)
    assert (last.optimizer.name, last.training.batch_size) == ("adam", 30)
    decays = expand(presets["keras-decays"]["base"], presets["keras-decays"]["grid"], "decays", 1000)
    exponential, restarts = (run.spec.schedule for run in decays)
    assert (exponential.decay_steps, exponential.decay_rate, exponential.s) == (10000, 0.9, None)
    assert restarts.first_decay_steps == 1000 and decays[0].spec.optimizer.learning_rate == 0.01
    imdb = expand(presets["imdb-l1-l2"]["base"], presets["imdb-l1-l2"]["grid"], "imdb", 1000)
    assert [run.spec.regularization.kernel_l1 for run in imdb] == [0, 0.001, 0]
    assert imdb[0].spec.dataset.num_words == 100 and imdb[0].spec.training.batch_size == 500
    assert "imdb.npz" in presets["imdb-l1-l2"]["summary"]


def test_seed_004_presets_compare_activations_initializers_and_batch_norm_through_depth(presets):
    depth = expand(presets["depth-init"]["base"], presets["depth-init"]["grid"], "depth", 1000)
    assert [(run.spec.model.activation, run.spec.model.initializer) for run in depth] == [
        ("selu", "lecun_normal"), ("relu", "he_normal"), ("sigmoid", "glorot_uniform")]
    assert all(run.spec.model.hidden_layers == [100] * 20 and run.spec.dataset.preprocessing == "standardize" for run in depth)
    norm = expand(presets["batch-norm-004"]["base"], presets["batch-norm-004"]["grid"], "bn", 1000)
    assert [(run.spec.model.batch_norm, run.spec.model.input_batch_norm) for run in norm] == [
        ("none", False), ("after_activation", True), ("before_activation", True)]
    assert all(run.spec.optimizer.name == "sgd" and run.spec.optimizer.learning_rate == 0.001 for run in norm)
