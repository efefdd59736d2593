"""deep_merge, which every clone, grid combination and partial spec goes through: a copy, never a view."""

import copy

from reglab.spec import deep_merge


def test_the_merge_shares_nothing_mutable_with_its_inputs():
    base = {"model": {"hidden_layers": [300, 100], "conv": [{"filters": 8}]}, "training": {"seed": 1}}
    override = {"regularization": {"dropout": 0.3, "tags": ["a"]}, "training": {"epochs": 2}}
    base_before, override_before = copy.deepcopy(base), copy.deepcopy(override)

    merged = deep_merge(base, override)
    merged["model"]["hidden_layers"].append(10)
    merged["model"]["conv"][0]["filters"] = 16
    merged["regularization"]["tags"].append("b")
    merged["training"]["seed"] = 2

    assert base == base_before and override == override_before


def test_keys_merge_in_order_and_a_new_schedule_kind_replaces_the_old():
    base = {"dataset": {"name": "digits"}, "schedule": {"name": "step", "every": 5}, "training": {"seed": 1}}
    override = {"training": {"epochs": 2}, "schedule": {"name": "cosine"}, "evaluation": {"mc_samples": 0}}

    merged = deep_merge(base, override)

    assert merged == {
        "dataset": {"name": "digits"},
        "schedule": {"name": "cosine"},
        "training": {"seed": 1, "epochs": 2},
        "evaluation": {"mc_samples": 0},
    }
    assert list(merged) == ["dataset", "schedule", "training", "evaluation"]
    assert deep_merge(base, {"schedule": {"every": 3}})["schedule"] == {"name": "step", "every": 3}


def test_values_that_are_not_json_are_still_copied():
    marker = {"nested": [1]}
    base = {"extra": (marker,)}

    merged = deep_merge(base, {})
    merged["extra"][0]["nested"].append(2)

    assert marker == {"nested": [1]}
