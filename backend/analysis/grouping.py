"""Runs grouped by condition: a run's spec minus its replicate fields.

Groups are labelled by what differs between them (``kernel_l1=0.001``), as
run names are; the baseline is the least regularized group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backend.experiments.grid import format_value, key_labels

DEFAULT_REPLICATES = ("training.seed",)
_MISSING = object()
# Fields whose non-zero (or non-null) value switches a regularizer on.
_OFF_VALUES: dict[str, Any] = {
    "regularization.kernel_l1": 0,
    "regularization.kernel_l2": 0,
    "regularization.bias_l1": 0,
    "regularization.bias_l2": 0,
    "regularization.activity_l1": 0,
    "regularization.activity_l2": 0,
    "regularization.dropout": 0,
    "regularization.input_dropout": 0,
    "regularization.max_norm": None,
    "optimizer.weight_decay": None,
}


@dataclass
class Group:
    key: dict[str, Any]
    label: str
    run_ids: list[int] = field(default_factory=list)


def covered(path: str, fields: list[str] | tuple[str, ...]) -> bool:
    """Whether ``path`` is one of ``fields`` or lies inside one (``schedule.s`` inside ``schedule``)."""
    return any(path == f or path.startswith(f + ".") for f in fields)


def get_path(spec: dict[str, Any], path: str) -> Any:
    node: Any = spec
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def factor_fields(diff: dict[str, dict[int, Any]], replicates: list[str]) -> list[str]:
    """The differing fields that make a condition: every field of ``diff`` outside the replicate fields."""
    return [f for f in diff if not covered(f, replicates)]


def group_runs(run_ids: list[int], values: dict[str, dict[int, Any]], factors: list[str]) -> list[Group]:
    """Runs with equal values of every factor form one group, in order of first appearance."""
    labels = key_labels(factors)
    groups: dict[str, Group] = {}
    for run_id in run_ids:
        key = {f: values[f].get(run_id) for f in factors}
        token = repr([key[f] for f in factors])
        if token not in groups:
            label = ", ".join(f"{labels[f]}={format_value(key[f])}" for f in factors) or "all runs"
            groups[token] = Group(key=key, label=label)
        groups[token].run_ids.append(run_id)
    return list(groups.values())


def _regularization_score(key: dict[str, Any]) -> tuple[int, float]:
    """(regularizers switched on, the sum of their factors): smaller is less regularized."""
    on, total = 0, 0.0
    for path, value in key.items():
        if path not in _OFF_VALUES or value == _OFF_VALUES[path] or value is None:
            continue
        on += 1
        total += float(value) if isinstance(value, int | float) else 1.0
    return on, total


def default_baseline(groups: list[Group]) -> Group:
    """The least regularized group; on a tie the first (a grid's first value of each factor)."""
    return min(groups, key=lambda g: _regularization_score(g.key))


def replicate_key(spec: dict[str, Any], replicates: list[str]) -> str:
    """What tells a run's replicates apart (its seed), for pairing runs across groups."""
    return repr([get_path(spec, f) for f in replicates])
