"""The pure parts of a search: checking a space against the spec's bounds, and Optuna <-> spec translation."""

import pytest

from backend.errors import InvalidInput
from backend.search.schemas import SearchIn
from backend.search.space import check_search, choice_labels, decode, distributions, trial_name, trial_spec
from reglab.spec import default_spec

SPACE = {
    "regularization.kernel_l2": {"log_uniform": [1e-6, 1e-1]},
    "regularization.dropout": {"uniform": [0, 0.6]},
    "optimizer.name": {"choice": ["nadam", "sgd"]},
    "schedule": {"choice": [{"name": "one_cycle", "max_rate": 0.05}, {"name": "constant"}]},
    "training.batch_size": {"int_uniform": [16, 128]},
}


def search(space=None, **extra) -> SearchIn:
    return SearchIn.model_validate({"trials": 8, "space": space or SPACE, **extra})


def errors(space, **extra) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        check_search(search(space, **extra), default_spec(), max_trials=50)
    return {e["field"]: e["msg"] for e in caught.value.args[0]}


def test_the_issue_space_is_accepted():
    check_search(search(), default_spec(), max_trials=50)


@pytest.mark.parametrize(
    ("space", "field", "words"),
    [
        ({"regularization.no_such": {"uniform": [0, 1]}}, "search.space.regularization.no_such", "not a run spec field"),
        ({"regularization.dropout": {"uniform": [0.5, 0.2]}}, "search.space.regularization.dropout", "is empty"),
        ({"regularization.dropout": {"uniform": [0.3, 0.3]}}, "search.space.regularization.dropout", "is empty"),
        ({"regularization.kernel_l2": {"log_uniform": [0, 0.1]}}, "search.space.regularization.kernel_l2", "above 0"),
        ({"regularization.dropout": {"uniform": [0, 1.5]}}, "search.space.regularization.dropout", "< 1"),
        ({"training.batch_size": {"uniform": [16, 64]}}, "search.space.training.batch_size", "int_uniform"),
        ({"optimizer.name": {"uniform": [0, 1]}}, "search.space.optimizer.name", "use choice"),
        ({"optimizer.name": {"choice": ["nadam", "adamw2"]}}, "search.space.optimizer.name", "adamw2"),
    ],
)
def test_a_bad_dimension_is_refused_naming_its_path_and_the_allowed_range(space, field, words):
    found = errors(space)
    assert field in found and words in found[field], found


def test_trials_above_the_cap_are_refused_with_the_cap():
    found = errors(SPACE, trials=51)
    assert "≤ 50" in found["search.trials"]


def test_an_objective_no_run_reports_is_refused():
    found = errors(SPACE, objective={"metric": "val_accuracy_typo"})
    assert "best_val_accuracy" in found["search.objective.metric"]


def test_optuna_params_become_spec_values_and_back():
    s = search()
    dists = distributions(s)
    assert dists["regularization.kernel_l2"].log and dists["training.batch_size"].low == 16
    labels = choice_labels(SPACE["schedule"]["choice"])
    assert labels == ["one_cycle(max_rate=0.05)", "constant"]
    params = {"regularization.kernel_l2": 0.001, "regularization.dropout": 0.25, "optimizer.name": "sgd",
              "schedule": labels[0], "training.batch_size": 32}  # fmt: skip
    spec = trial_spec(default_spec(), s, params, replicate=2)
    assert spec["regularization"]["kernel_l2"] == 0.001 and spec["optimizer"]["name"] == "sgd"
    assert spec["schedule"]["name"] == "one_cycle" and spec["schedule"]["max_rate"] == 0.05
    assert spec["training"]["seed"] == default_spec()["training"]["seed"] + 2
    assert decode(s.space["schedule"], labels[1]) == {"name": "constant"}
    assert trial_name(3, s, params).startswith("trial 3: kernel_l2=0.001, dropout=0.25, optimizer=sgd")
