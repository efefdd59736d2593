"""Tiny specs that train in well under a second on two CPU cores."""

from __future__ import annotations

from typing import Any

from reglab.spec import RunSpec, build_spec, deep_merge

# digits: 300 validation examples, then 200 training examples = 4 batches of 64
# (the last one partial, 8 examples), which exercises the partial-batch paths.
TINY = {
    "dataset": {"name": "digits", "validation_samples": 300, "train_samples": 200, "preprocessing": "scale"},
    "model": {"hidden_layers": [16]},
    "optimizer": {"name": "nadam", "learning_rate": 0.01},
    "training": {"epochs": 3, "batch_size": 64},
    "evaluation": {"test_set": False, "mc_samples": 0},
}
TINY_STEPS_PER_EPOCH = 4


def tiny_spec(overrides: dict[str, Any] | None = None) -> RunSpec:
    return build_spec(deep_merge(TINY, overrides or {}))


def fit(overrides: dict[str, Any] | None = None, **kwargs):
    """Train a tiny spec in-process with an in-memory sink: (result, sink)."""
    from worker.training.tracking import MemorySink
    from worker.training.trainer import train

    sink = MemorySink()
    return train(tiny_spec(overrides), sink, **kwargs), sink
