"""Seed 004's 100-layer network fits the spec; one layer more does not, and the error names the field."""

import pytest
from pydantic import ValidationError

from reglab.spec import RunSpec


def test_up_to_100_hidden_layers_are_accepted():
    spec = RunSpec.model_validate({"model": {"hidden_layers": [300] + [100] * 99, "activation": "selu", "initializer": "lecun_normal"}})
    assert len(spec.model.hidden_layers) == 100


def test_101_hidden_layers_are_rejected_naming_the_field():
    with pytest.raises(ValidationError) as caught:
        RunSpec.model_validate({"model": {"hidden_layers": [10] * 101}})
    (error,) = caught.value.errors()
    assert error["loc"] == ("model", "hidden_layers") and error["type"] == "too_long"
