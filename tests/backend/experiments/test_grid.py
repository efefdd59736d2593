"""Run names and value formatting of the grid expansion (no database)."""

import pytest

from backend.errors import InvalidInput
from backend.experiments.grid import check_keys, expand, format_value, key_labels
from reglab.spec import default_spec


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.01, "0.01"),
        (1e-05, "1e-05"),
        (0, "0"),
        (True, "true"),
        (None, "none"),
        ([300, 100], "[300,100]"),
        ({"name": "exponential", "s": 20}, "exponential(s=20)"),
        ({"patience": 3}, "(patience=3)"),
    ],
)
def test_format_value(value, text):
    assert format_value(value) == text


def test_labels_use_the_section_for_name_and_the_path_on_a_clash():
    labels = key_labels(["optimizer.name", "regularization.kernel_l2", "dataset.name", "a.seed", "b.seed"])

    assert labels == {
        "optimizer.name": "optimizer",
        "regularization.kernel_l2": "kernel_l2",
        "dataset.name": "dataset",
        "a.seed": "a.seed",
        "b.seed": "b.seed",
    }


def test_keys_that_do_not_vary_stay_out_of_the_name():
    planned = expand(default_spec(), {"training.seed": [7], "optimizer.name": ["sgd", "adam"]}, "exp", 1000)

    assert [p.name for p in planned] == ["optimizer=sgd", "optimizer=adam"]
    assert all(p.spec.training.seed == 7 for p in planned)


def test_object_path_and_its_field_apply_in_order():
    grid = {"schedule.s": [5, 50], "schedule": [{"name": "exponential"}]}

    planned = expand(default_spec(), grid, "exp", 1000)

    assert [p.spec.schedule.s for p in planned] == [5, 50]


def test_spec_version_is_not_a_grid_key():
    with pytest.raises(InvalidInput):
        check_keys({"spec_version": [1]}, 256)
