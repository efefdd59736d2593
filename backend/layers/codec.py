"""One per-layer snapshot as a compact binary row: float32 statistics, uint32 histogram counts, zlib.

A snapshot holds, for each layer, up to three tensors (weights, activations,
gradients), each with five scalar statistics, nine quantiles, a histogram and
one extra figure (``max_col_norm`` of weights, ``saturated_fraction`` of
activations). As JSON that is ~4 KB a layer; here it is a few hundred bytes.

Layout, before zlib (little-endian, every section a numpy array read back with
``np.frombuffer``, never pickle)::

    uint32[2]          version, layers L
    uint32[1]          length of the names section
    utf-8              layer names joined by NUL
    uint8[L, 3]        flags per (layer, tensor): PRESENT, QUANTILES, HIST, UNIFORM, EXTRA
    uint16[L, 3]       histogram bins (0: none)
    float32[L, 3, 17]  mean, std, l2, abs_max, zero_fraction, 9 quantiles, hist lo, hist hi, extra
    uint32[...]        the histograms' counts, (layer, tensor) after (layer, tensor)
    float32[...]       the edges of the histograms that are not uniform

The recorder's edges are uniform (64 equal bins of a power-of-two width): they
are stored as their first and last edge, exact in float32, and rebuilt with
:func:`uniform_edges`. Other edges are kept as they came. A null statistic is
stored as NaN and read back as null.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

VERSION = 1
TENSORS = ("weights", "activations", "gradients")
STATS = ("mean", "std", "l2", "abs_max", "zero_fraction")
QUANTILES = 9
# The one extra figure a tensor may carry, by tensor (gradients have none).
EXTRA = {"weights": "max_col_norm", "activations": "saturated_fraction"}
# Column of each figure in the float32 block.
Q0 = len(STATS)
LO = Q0 + QUANTILES
HI = LO + 1
X = HI + 1
WIDTH = X + 1
COLUMN = {name: i for i, name in enumerate(STATS)} | {"lo": LO, "hi": HI, "extra": X}

PRESENT, HAS_QUANTILES, HAS_HIST, UNIFORM, HAS_EXTRA = 1, 2, 4, 8, 16
# zlib's default level: level 9 saves ~1 % more for twice the time.
LEVEL = 6


@dataclass
class Snapshot:
    """A decoded snapshot: ``names[l]``, ``flags[l, t]``, ``bins[l, t]``, ``floats[l, t, column]`` and the
    counts of histogram (l, t) at ``counts[offsets[l, t]:offsets[l, t] + bins[l, t]]``."""

    names: list[str]
    flags: np.ndarray
    bins: np.ndarray
    floats: np.ndarray
    counts: np.ndarray
    offsets: np.ndarray
    edges: dict[tuple[int, int], np.ndarray]

    def hist_counts(self, layer: int, tensor: int) -> np.ndarray:
        start = self.offsets[layer, tensor]
        return self.counts[start : start + self.bins[layer, tensor]]

    def hist_edges(self, layer: int, tensor: int) -> np.ndarray:
        """float64 edges of histogram (layer, tensor)."""
        if self.flags[layer, tensor] & UNIFORM:
            lo, hi = self.floats[layer, tensor, LO], self.floats[layer, tensor, HI]
            return uniform_edges(float(lo), float(hi), int(self.bins[layer, tensor]))
        return self.edges[(layer, tensor)].astype(np.float64)


def uniform_edges(lo: float, hi: float, bins: int) -> np.ndarray:
    """``bins + 1`` equal steps from ``lo`` to ``hi`` (exact for a power-of-two width)."""
    return lo + (hi - lo) * (np.arange(bins + 1, dtype=np.float64) / bins)


def is_uniform(edges: np.ndarray) -> bool:
    """Whether float32 ``lo`` and ``hi`` rebuild ``edges`` to float32 precision (a uniform grid)."""
    lo, hi = np.float32(edges[0]), np.float32(edges[-1])
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        return False
    rebuilt = uniform_edges(float(lo), float(hi), len(edges) - 1).astype(np.float32)
    return bool(np.array_equal(rebuilt, edges.astype(np.float32)))


def _float(value: Any) -> float:
    return np.nan if value is None else value


def encode(layers: dict[str, dict[str, dict[str, Any]]]) -> bytes:
    """``{name: {tensor: STATS}}`` (a snapshot's ``layers``, as validated by the ingest models) as one blob."""
    names = list(layers)
    count = len(names)
    flags = np.zeros((count, len(TENSORS)), dtype=np.uint8)
    bins = np.zeros((count, len(TENSORS)), dtype=np.uint16)
    floats = np.full((count, len(TENSORS), WIDTH), np.nan, dtype=np.float32)
    counts: list[Any] = []
    edges: list[Any] = []
    for i, name in enumerate(names):
        tensors = layers[name]
        for t, tensor in enumerate(TENSORS):
            stats = tensors.get(tensor)
            if stats is None:
                continue
            flag = PRESENT
            row = floats[i, t]
            row[:Q0] = [_float(stats.get(s)) for s in STATS]
            if (quantiles := stats.get("quantiles")) is not None:
                flag |= HAS_QUANTILES
                row[Q0:LO] = [_float(q) for q in quantiles]
            if (extra := EXTRA.get(tensor)) is not None and extra in stats:
                flag |= HAS_EXTRA
                row[X] = _float(stats[extra])
            if (hist := stats.get("hist")) is not None:
                flag |= HAS_HIST
                hist_edges = np.asarray(hist["edges"], dtype=np.float64)
                bins[i, t] = len(hist["counts"])
                counts.append(hist["counts"])
                row[LO], row[HI] = hist_edges[0], hist_edges[-1]
                if is_uniform(hist_edges):
                    flag |= UNIFORM
                else:
                    edges.append(hist_edges)
            flags[i, t] = flag
    name_bytes = "\x00".join(names).encode()
    parts = [
        np.array([VERSION, count, len(name_bytes)], dtype="<u4").tobytes(),
        name_bytes,
        flags.tobytes(),
        bins.astype("<u2").tobytes(),
        floats.astype("<f4").tobytes(),
        np.array([c for hist in counts for c in hist], dtype="<u4").tobytes() if counts else b"",
        np.concatenate(edges).astype("<f4").tobytes() if edges else b"",
    ]
    return zlib.compress(b"".join(parts), LEVEL)


def decode(blob: bytes) -> Snapshot:
    """The :class:`Snapshot` of a blob written by :func:`encode`."""
    raw = zlib.decompress(blob)
    version, count, name_length = np.frombuffer(raw, dtype="<u4", count=3)
    if version != VERSION:
        raise ValueError(f"layer snapshot format {version} is not known (this server reads {VERSION})")
    at = 12
    names = raw[at : at + name_length].decode().split("\x00") if count else []
    at += int(name_length)
    cells = int(count) * len(TENSORS)
    flags = np.frombuffer(raw, dtype=np.uint8, count=cells, offset=at).reshape(count, len(TENSORS))
    at += cells
    bins = np.frombuffer(raw, dtype="<u2", count=cells, offset=at).reshape(count, len(TENSORS)).astype(np.int64)
    at += 2 * cells
    floats = np.frombuffer(raw, dtype="<f4", count=cells * WIDTH, offset=at).reshape(count, len(TENSORS), WIDTH)
    at += 4 * cells * WIDTH
    total = int(bins.sum())
    counts = np.frombuffer(raw, dtype="<u4", count=total, offset=at)
    at += 4 * total
    offsets = (np.cumsum(bins.ravel()) - bins.ravel()).reshape(bins.shape)
    edges = {}
    for layer, tensor in zip(*np.nonzero(((flags & HAS_HIST) != 0) & ((flags & UNIFORM) == 0)), strict=True):
        size = int(bins[layer, tensor]) + 1
        edges[(int(layer), int(tensor))] = np.frombuffer(raw, dtype="<f4", count=size, offset=at)
        at += 4 * size
    return Snapshot(names, flags, bins, floats, counts, offsets, edges)
