"""Histograms of several runs on common edges.

The recorder's edges are nested: every grid has bins of a power-of-two width
with 0 as an edge, so the edges of the coarsest grid are edges of every finer
one, and summing a fine histogram's bins into the coarse bins is exact. Edges
that are not nested (an imported histogram) are spread in proportion to the
overlap, as if uniform inside each bin; the counts are then no longer integers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Bins of the common grid when the histograms' edges are not nested.
FALLBACK_BINS = 64


def _power_of_two(value: float) -> bool:
    return value > 0 and np.frexp(value)[0] == 0.5


def nested_grid(edges: Sequence[np.ndarray]) -> np.ndarray | None:
    """The coarsest grid holding every histogram's range when all are uniform power-of-two grids with 0 on their
    grid (multiples of their width), else None."""
    widths = []
    for e in edges:
        width = (e[-1] - e[0]) / (len(e) - 1)
        if not _power_of_two(width) or e[0] / width != np.round(e[0] / width):
            return None
        if not np.array_equal(e, e[0] + width * np.arange(len(e))):
            return None
        widths.append(width)
    width = max(widths)
    lo = np.floor(min(e[0] for e in edges) / width)
    hi = np.ceil(max(e[-1] for e in edges) / width)
    return np.arange(lo, hi + 1) * width


def common_edges(edges: Sequence[np.ndarray]) -> np.ndarray | None:
    """Edges on which every histogram (given by its edges) can be drawn: the nested grid, or
    :data:`FALLBACK_BINS` equal bins over their joint range; None when there are none."""
    if not edges:
        return None
    grid = nested_grid(edges)
    if grid is not None:
        return grid
    return np.linspace(min(e[0] for e in edges), max(e[-1] for e in edges), FALLBACK_BINS + 1)


def rebin(edges: np.ndarray, counts: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``counts`` on ``edges`` moved onto ``target``'s bins (float64): where every target edge inside the
    histogram's range is one of its edges, each target bin is the exact sum of the fine bins inside it."""
    cumulative = np.concatenate([[0.0], np.cumsum(counts, dtype=np.float64)])
    # At a target edge that is a fine edge, interp returns that edge's cumulative count exactly.
    return np.diff(np.interp(target, edges, cumulative))


def nested_params(lo: np.ndarray, hi: np.ndarray, bins: np.ndarray) -> tuple[float, float, int] | None:
    """:func:`nested_grid` of uniform histograms given by their first edges, last edges and bin counts, all at once:
    ``(first edge, width, bins)`` of the common grid, or None when they are not nested power-of-two grids."""
    if not len(lo):
        return None
    width = (hi - lo) / bins
    mantissa, _ = np.frexp(width)
    if not (np.all(width > 0) and np.all(mantissa == 0.5) and np.all(lo / width == np.round(lo / width))):
        return None
    coarse = float(width.max())
    first = float(np.floor(lo.min() / coarse))
    last = float(np.ceil(hi.max() / coarse))
    return first * coarse, coarse, int(last - first)


def rebin_nested(lo: float, width: float, counts: np.ndarray, start: float, coarse: float, size: int) -> np.ndarray:
    """A uniform histogram's counts summed into the bins of a coarser nested grid (exact: integers in float64)."""
    index = np.floor((lo - start) / coarse + np.arange(len(counts)) * (width / coarse)).astype(np.int64)
    return np.bincount(index, weights=counts, minlength=size)[:size]
