"""TensorBoard histogram summaries of layer kernels as per-layer weight snapshots.

Keras' TensorBoard callback with ``histogram_freq`` writes one histogram per
weight and epoch, its step the 0-based epoch index. Keras 3 tags them
``<model>/<layer>/kernel/histogram`` (Keras 2: ``<layer>/kernel_0``); bias
histograms are skipped. A histogram is read as edges and counts, either a TF2
tensor of shape (k, 3) (left edge, right edge, count) or a TF1 HistogramProto
(``min``, ``max``, ``bucket_limit``, ``bucket``).

Only the histogram survives in an event file, not the weights, so the
statistics here are estimates: see :func:`weight_stats`. numpy only.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from reglab.layer_stats import QUANTILE_POINTS

# The server's bounds (backend/layers/schemas.py): bins per histogram and epochs.
MAX_BINS = 4096
MAX_EPOCH = 100_000
KERNEL_TAG = re.compile(r"^(?:.*/)?(?P<layer>[^/]+)/kernel(?:_\d+)?(?:/histogram)?$")


def kernel_layer(tag: str) -> str | None:
    """The layer a kernel histogram's tag names (``sequential/dense_1/kernel/histogram`` -> ``dense_1``), else None."""
    match = KERNEL_TAG.match(tag)
    return match.group("layer") if match else None


def from_tensor(value: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(edges, counts) of a TF2 histogram tensor of shape (k, 3), or None if it is not one."""
    if value.ndim != 2 or value.shape[1] != 3 or value.shape[0] == 0 or value.dtype.kind not in "fiu":
        return None
    value = value.astype(np.float64)
    left, right, counts = value[:, 0], value[:, 1], value[:, 2]
    return _checked(np.append(left, right[-1]), counts)


def from_proto(histogram: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """(edges, counts) of a TF1 HistogramProto: bucket i ends at ``bucket_limit[i]``, clipped to [min, max]."""
    counts = np.asarray(histogram.bucket, dtype=np.float64)
    limits = np.asarray(histogram.bucket_limit, dtype=np.float64)
    if counts.size == 0 or counts.size != limits.size:
        return None
    low, high = float(histogram.min), float(histogram.max)
    return _checked(np.concatenate([[low], np.clip(limits, low, high)]), counts)


def _checked(edges: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Trim empty outer buckets and zero-width ones; None when the histogram cannot be sent."""
    if not (np.all(np.isfinite(edges)) and np.all(np.isfinite(counts))) or np.any(counts < 0):
        return None
    counts = np.rint(counts)
    nonzero = np.flatnonzero(counts)
    if nonzero.size == 0:
        return None
    first, last = nonzero[0], nonzero[-1]
    edges, counts = edges[first : last + 2], counts[first : last + 1]
    if edges[-1] <= edges[0]:
        # All values equal: TF writes zero-width buckets; one bucket of width 1 around the value, as TF2 does.
        return np.array([edges[0] - 0.5, edges[0] + 0.5]), np.array([counts.sum()])
    # A zero-width bucket in between (TF1's clipped limits) gives its count to the next bucket of positive width.
    kept_edges, kept_counts, carry = [float(edges[0])], [], 0.0
    for i, count in enumerate(counts):
        carry += count
        if edges[i + 1] > kept_edges[-1]:
            kept_edges.append(float(edges[i + 1]))
            kept_counts.append(carry)
            carry = 0.0
    if carry:
        kept_counts[-1] += carry
    if len(kept_counts) > MAX_BINS:
        return None
    return np.array(kept_edges), np.array(kept_counts)


def _quantiles(edges: np.ndarray, counts: np.ndarray) -> list[float]:
    """Values at ``QUANTILE_POINTS`` read off the cumulative counts, linear within a bucket."""
    cumulative = np.concatenate([[0.0], np.cumsum(counts)])
    total = cumulative[-1]
    values = []
    for point in QUANTILE_POINTS:
        target = point / 100.0 * total
        # The first bucket whose cumulative count reaches the target (0 %: the first non-empty bucket's left edge).
        i = int(np.searchsorted(cumulative, target, side="right" if target == 0 else "left"))
        i = min(max(i, 1), len(cumulative) - 1)
        below, within = cumulative[i - 1], cumulative[i] - cumulative[i - 1]
        fraction = (target - below) / within if within > 0 else 0.0
        values.append(float(edges[i - 1] + fraction * (edges[i] - edges[i - 1])))
    return values


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def weight_stats(edges: np.ndarray, counts: np.ndarray) -> dict[str, Any]:
    """The ``weights`` STATS of one kernel, estimated from its histogram.

    ``hist`` keeps TensorBoard's edges and counts as written (irregular edges;
    the server re-bins). ``mean``, ``std`` and ``l2`` are estimated as if every
    value sat at its bucket's centre, so they are off by up to half a bucket's
    width; ``abs_max`` is the larger magnitude of the outermost edges;
    ``quantiles`` are interpolated linearly within buckets from the cumulative
    counts. ``zero_fraction`` is null: a bucket that straddles 0 cannot tell
    how many of its values lie within 1e-3 of it.
    """
    centres = (edges[:-1] + edges[1:]) / 2
    total = counts.sum()
    mean = float((counts * centres).sum() / total)
    variance = float((counts * (centres - mean) ** 2).sum() / total)
    return {
        "mean": _finite(mean),
        "std": _finite(math.sqrt(max(variance, 0.0))),
        "l2": _finite(math.sqrt(float((counts * centres**2).sum()))),
        "abs_max": _finite(float(max(abs(edges[0]), abs(edges[-1])))),
        "zero_fraction": None,
        "quantiles": [_finite(q) for q in _quantiles(edges, counts)],
        "hist": {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
    }


def model_layers(config: bytes | str) -> dict[str, dict[str, Any]]:
    """{layer name: {"type", "units", "activation"}} from the model config Keras 3's callback writes (tag ``keras``)."""
    try:
        tree = json.loads(config)
    except (ValueError, UnicodeDecodeError):
        return {}
    found: dict[str, dict[str, Any]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            config_ = node.get("config")
            named = isinstance(config_, dict) and isinstance(config_.get("name"), str)
            if isinstance(node.get("class_name"), str) and named:
                units = config_.get("units", config_.get("filters"))
                activation = config_.get("activation")
                found.setdefault(config_["name"], {
                    "type": node["class_name"][:64],
                    "units": units if isinstance(units, int) and not isinstance(units, bool) and units >= 0 else None,
                    "activation": activation[:64] if isinstance(activation, str) else None,
                })  # fmt: skip
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(tree)
    return found


def layer_snapshots(
    histograms: list[tuple[str, int, np.ndarray, np.ndarray]], known: dict[str, dict[str, Any]] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(layer descriptions, snapshots by epoch) from ``(tag, step, edges, counts)`` of kernel histograms.

    Layers are indexed in the order their tags first appear (Keras writes them
    from the input side); type, units and activation come from ``known`` (the
    model config) when it names the layer, else the type is ``unknown``.
    """
    known = known or {}
    names: list[str] = []
    by_epoch: dict[int, dict[str, Any]] = {}
    for tag, step, edges, counts in histograms:
        name = kernel_layer(tag)
        if name is None or not 0 <= step <= MAX_EPOCH:
            continue
        if name not in names:
            names.append(name)
        by_epoch.setdefault(step, {})[name] = {"weights": weight_stats(edges, counts)}
    layers = []
    for index, name in enumerate(names):
        info = known.get(name, {})
        layers.append({"index": index, "name": name, "type": info.get("type") or "unknown",
                       "units": info.get("units"), "activation": info.get("activation")})  # fmt: skip
    snapshots = [{"epoch": epoch, "layers": by_epoch[epoch]} for epoch in sorted(by_epoch)]
    return layers, snapshots
