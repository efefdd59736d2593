"""Decoded snapshots as the JSON of the contract: ``{name: {tensor: STATS}}``.

Built for a run's whole history at once (100 layers × 50 epochs is 15,000
tensors): the scalars come from one ``tolist`` per snapshot, and quantiles,
edges and counts go out as numpy views, which orjson writes from their buffers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backend.layers.codec import EXTRA, HAS_EXTRA, HAS_HIST, HAS_QUANTILES, HI, LO, PRESENT, Q0, STATS, TENSORS, UNIFORM, X, Snapshot

_EXTRA_OF = [EXTRA.get(tensor) for tensor in TENSORS]


def _uniform_edges(snapshot: Snapshot) -> dict[int, np.ndarray]:
    """Every uniform histogram's edges, rebuilt at once per bin count: ``{bins: float32 (layers, tensors, bins + 1)}``."""
    lo = snapshot.floats[:, :, LO].astype(np.float64)
    hi = snapshot.floats[:, :, HI].astype(np.float64)
    out = {}
    for bins in np.unique(snapshot.bins[(snapshot.flags & UNIFORM) != 0]):
        steps = np.arange(bins + 1, dtype=np.float64) / bins
        out[int(bins)] = (lo[:, :, None] + (hi - lo)[:, :, None] * steps).astype(np.float32)
    return out


def layers_json(snapshot: Snapshot) -> dict[str, dict[str, Any]]:
    """``{name: {"weights": {...}, "activations": {...}, "gradients": {...}}}``; a tensor not recorded is left out."""
    scalars = snapshot.floats[:, :, : Q0].astype(np.float64).tolist()  # NaN goes out as null
    extras = snapshot.floats[:, :, X].astype(np.float64).tolist()
    flags = snapshot.flags.tolist()
    bins = snapshot.bins.tolist()
    offsets = snapshot.offsets.tolist()
    edges = _uniform_edges(snapshot)
    out: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(snapshot.names):
        tensors: dict[str, Any] = {}
        for t, tensor in enumerate(TENSORS):
            flag = flags[i][t]
            if not flag & PRESENT:
                continue
            stats: dict[str, Any] = dict(zip(STATS, scalars[i][t], strict=True))
            stats["quantiles"] = snapshot.floats[i, t, Q0:LO] if flag & HAS_QUANTILES else None
            if flag & HAS_HIST:
                n = bins[i][t]
                start = offsets[i][t]
                hist_edges = edges[n][i, t] if flag & UNIFORM else snapshot.edges[(i, t)]
                stats["hist"] = {"edges": hist_edges, "counts": snapshot.counts[start : start + n]}
            else:
                stats["hist"] = None
            if flag & HAS_EXTRA:
                stats[_EXTRA_OF[t]] = extras[i][t]
            tensors[tensor] = stats
        out[name] = tensors
    return out
