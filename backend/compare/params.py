"""The spec fields (or an external run's params) whose values differ across runs.

Runs of a study differ in a few sections of their specs (the regularization, the
seed), so each distinct value of a top-level section is flattened once and
shared by every run holding it, instead of flattening every run's whole spec.
"""

from __future__ import annotations

from typing import Any

import orjson

from backend.trainer.external import params_root
from reglab.spec import flatten


def _token(value: Any) -> bytes:
    """A section's identity: its JSON (NaN and null alike, as the JSON answer shows them)."""
    try:
        return orjson.dumps(value)
    except TypeError:  # e.g. an integer beyond 64 bits in free-form params
        return repr(value).encode()


def params_diff(specs: dict[int, dict[str, Any]]) -> dict[str, dict[int, Any]]:
    """Flattened spec fields (an external run's params) whose values differ across runs: ``{field: {run_id: value}}``.

    A field one spec lacks (e.g. ``schedule.s`` of a constant schedule) shows as null,
    and counts as equal to a field that is null. Values compare by ``repr`` (0 and
    0.0 differ); fields come in order of first appearance, run by run, as in the
    runs' flattened specs.
    """
    run_ids = list(specs)
    flat_of: dict[tuple[str, bytes], dict[str, Any]] = {}
    variants: dict[str, list[dict[str, Any]]] = {}  # section -> its distinct flattened values
    held: list[dict[str, dict[str, Any]]] = []  # per run: section -> its flattened value
    first: dict[str, tuple[int, int]] = {}  # field -> (run, position in that run's flattened spec)
    for index, run_id in enumerate(run_ids):
        sections: dict[str, dict[str, Any]] = {}
        offset = 0
        for key, value in params_root(specs[run_id]).items():
            token = (key, _token(value))
            flat = flat_of.get(token)
            if flat is None:
                flat = flat_of[token] = flatten({key: value})
                variants.setdefault(key, []).append(flat)
                # A new value is the only place a field can appear for the first time.
                for position, field in enumerate(flat):
                    first.setdefault(field, (index, offset + position))
            sections[key] = flat
            offset += len(flat)
        held.append(sections)
    owners: dict[str, list[str]] = {}
    for key, flats in variants.items():
        for field in dict.fromkeys(field for flat in flats for field in flat):
            owners.setdefault(field, []).append(key)
    lacking = {key for key in variants if any(key not in sections for sections in held)}
    diff = {}
    for field in sorted(first, key=first.__getitem__):
        if len(owners[field]) == 1:
            key = owners[field][0]
            candidates = {repr(flat.get(field)) for flat in variants[key]}
            if key in lacking:
                candidates.add(repr(None))
            if len(candidates) > 1:
                diff[field] = {run_id: sections.get(key, {}).get(field) for run_id, sections in zip(run_ids, held, strict=True)}
            continue
        # Free-form params may name one field twice ({"a.b": 1} and {"a": {"b": 2}}): the later one wins, as in flatten.
        values = {run_id: _last_value(sections, field) for run_id, sections in zip(run_ids, held, strict=True)}
        if len({repr(v) for v in values.values()}) > 1:
            diff[field] = values
    return diff


def _last_value(sections: dict[str, dict[str, Any]], field: str) -> Any:
    value = None
    for flat in sections.values():
        value = flat.get(field, value)
    return value
