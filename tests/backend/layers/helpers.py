"""Snapshots built from raw numpy arrays, as the contract describes them (independent of the recorder)."""

from typing import Any

import numpy as np

QUANTILE_POINTS = (0, 6.68, 15.87, 30.85, 50, 69.15, 84.13, 93.32, 100)


def grid(x: np.ndarray, bins: int = 64) -> np.ndarray:
    """The contract's edges: ``bins`` equal bins of a power-of-two width with 0 as an edge."""
    peak = float(np.abs(x).max())
    m = 2.0 ** np.ceil(np.log2(peak)) if peak > 0 else 2.0**-20
    lo = 0.0 if x.min() >= 0 else -m
    hi = 0.0 if x.max() <= 0 else m
    return np.linspace(lo, hi, bins + 1)


def tensor_stats(x: np.ndarray, kind: str = "weights", edges: np.ndarray | None = None) -> dict[str, Any]:
    x = np.asarray(x, dtype=np.float64)
    edges = grid(x) if edges is None else edges
    counts, _ = np.histogram(x, edges)
    zero = np.abs(x) < 1e-3 if kind == "weights" else x == 0
    stats = {
        "mean": float(x.mean()), "std": float(x.std()), "l2": float(np.linalg.norm(x)), "abs_max": float(np.abs(x).max()),
        "zero_fraction": float(zero.mean()), "quantiles": np.percentile(x, QUANTILE_POINTS).tolist(),
        "hist": {"edges": edges.tolist(), "counts": counts.tolist()},
    }  # fmt: skip
    if kind == "weights":
        stats["max_col_norm"] = float(np.linalg.norm(x.reshape(-1, x.shape[-1]), axis=0).max())
    return stats


def snapshot(epoch: int, arrays: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    """``{"epoch", "layers"}`` of ``{layer: {tensor: array}}``."""
    return {"epoch": epoch, "layers": {
        name: {kind: tensor_stats(x, kind) for kind, x in tensors.items()} for name, tensors in arrays.items()
    }}  # fmt: skip


def mlp_arrays(rng: np.random.Generator, scale: float = 1.0, sizes=((8, 6), (6, 3))) -> dict[str, dict[str, np.ndarray]]:
    """Weights, ReLU activations and gradients of a small MLP, as the recorder would see them."""
    out = {}
    for i, (n_in, n_out) in enumerate(sizes):
        out[f"dense_{i}" if i else "dense"] = {
            "weights": rng.normal(0, scale / np.sqrt(n_in), (n_in, n_out)),
            "activations": np.maximum(rng.normal(0, 1, (16, n_out)), 0),
            "gradients": rng.normal(0, 1e-3, (n_in, n_out)),
        }
    return out


def descriptions(sizes=((8, 6), (6, 3))) -> list[dict[str, Any]]:
    return [
        {"index": i, "name": f"dense_{i}" if i else "dense", "type": "Dense", "units": n_out,
         "activation": "relu" if i < len(sizes) - 1 else "softmax", "params": n_in * n_out + n_out}
        for i, (n_in, n_out) in enumerate(sizes)
    ]  # fmt: skip
