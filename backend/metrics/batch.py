"""A batch of points as columns, and a bulk check of a parsed JSON batch that accepts exactly what ``PointIn`` does.

The ingest routes' fast path (backend/hot_routes.py) checks a body here, a
column at a time, instead of building a pydantic model per point: on a
1,000-point batch that is most of the server's cost. The check is
conservative: anything it does not certainly accept (floats for ``x``, an
unknown key, a bad name) returns None, and the request goes through the
declared route, whose ``PointIn`` validation answers the 422 as before.
"""

from __future__ import annotations

import re
from operator import itemgetter
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from backend.metrics.blocks import X_LIMIT

KEYS = ("name", "axis", "x", "value", "t")
AXES = frozenset({"epoch", "step"})
# The bounds of a point, which backend/metrics/schemas.py's PointIn and PointsIn declare from here.
MAX_POINTS = 100_000
T_MAX = 1e9
NAME_CHARS = r"[A-Za-z0-9_.:/@+-]"
NAME_MAX = 64
NUMBERS = frozenset({float, int, type(None)})
# fullmatch: no trailing newline slips through.
NAME = re.compile(f"{NAME_CHARS}{{1,{NAME_MAX}}}")
_ABSENT = object()
_NUMBERS_OR_ABSENT = NUMBERS | {object}
# Names seen valid: a batch repeats a few names many times.
_VALID_NAMES: set[str] = set()


class Batch(NamedTuple):
    """Epoch points as ``(name, x, value, t)`` tuples; step points as four columns."""

    epochs: list[tuple[str, int, Any, Any]]
    step_names: list[str]
    step_x: list[int]
    step_values: list[Any]
    step_t: list[Any]

    def __len__(self) -> int:  # the points written
        return len(self.epochs) + len(self.step_names)

    @classmethod
    def of(cls, points: Iterable[Mapping[str, Any]]) -> Batch:
        """From point dicts (name, x; optional axis, value, t), as the store has always taken them."""
        points = points if isinstance(points, list) else list(points)
        steps = [p for p in points if p.get("axis") == "step"]
        epochs = [(p["name"], int(p["x"]), p.get("value"), p.get("t")) for p in points if p.get("axis", "epoch") != "step"]
        # A comprehension per column beats a loop per point.
        return cls(epochs, [p["name"] for p in steps], [p["x"] for p in steps],
                   [p.get("value") for p in steps], [p.get("t") for p in steps])  # fmt: skip


def _valid_name(name: Any) -> bool:
    if name in _VALID_NAMES:
        return True
    if type(name) is not str or NAME.fullmatch(name) is None:
        return False
    if len(_VALID_NAMES) > 10_000:
        _VALID_NAMES.clear()
    _VALID_NAMES.add(name)
    return True


def checked(points: Any) -> Batch | None:
    """``points`` (parsed JSON) as a Batch if ``PointIn`` accepts every point as it is, else None.

    Strict like ``PointIn``: ``x`` an int in [0, X_LIMIT], ``value`` and ``t`` numbers or null
    (no booleans, no strings), ``t`` in [0, 1e9], ``axis`` epoch or step, no other key.
    """
    try:
        if type(points) is not list or len(points) > MAX_POINTS or not set(map(type, points)) <= {dict}:
            return None
        names = list(map(itemgetter("name"), points))
        xs = list(map(itemgetter("x"), points))
        axes = [p.get("axis", _ABSENT) for p in points]
        values = [p.get("value", _ABSENT) for p in points]
        ts = [p.get("t", _ABSENT) for p in points]
        # type(), not isinstance: True is an int to Python, not to the schema.
        value_types, t_types = set(map(type, values)), set(map(type, ts))
        if not set(map(type, xs)) <= {int} or (xs and (min(xs) < 0 or max(xs) > X_LIMIT)):
            return None
        if not value_types <= _NUMBERS_OR_ABSENT or not t_types <= _NUMBERS_OR_ABSENT:
            return None
        # No other key: the keys counted equal the known keys present (a subset test per point costs more).
        columns = ((axes, set(map(type, axes))), (values, value_types), (ts, t_types))
        absent = [column.count(_ABSENT) if object in types else 0 for column, types in columns]
        if sum(map(len, points)) != 5 * len(points) - sum(absent):
            return None
        if absent[0]:
            axes = ["epoch" if a is _ABSENT else a for a in axes]
        if absent[1]:
            values = [None if v is _ABSENT else v for v in values]
        if absent[2]:
            ts = [None if t is _ABSENT else t for t in ts]
        given_t = [t for t in ts if t is not None]
        if given_t and (min(given_t) < 0 or max(given_t) > T_MAX or any(t != t for t in given_t)):
            return None
        kinds = set(axes)
        if not kinds <= AXES or not all(_valid_name(name) for name in set(names)):
            return None
    except (KeyError, TypeError):  # a point without name or x; an unhashable name or axis
        return None
    if kinds == {"epoch"}:
        return Batch(list(zip(names, xs, values, ts)), [], [], [], [])
    if kinds == {"step"}:
        return Batch([], names, xs, values, ts)
    epochs = [(n, x, v, t) for n, a, x, v, t in zip(names, axes, xs, values, ts) if a == "epoch"]
    steps = [i for i, a in enumerate(axes) if a == "step"]
    return Batch(epochs, [names[i] for i in steps], [xs[i] for i in steps],
                 [values[i] for i in steps], [ts[i] for i in steps])  # fmt: skip
