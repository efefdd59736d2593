"""Per-layer summary metrics of the analysis, from each run's last snapshot: ``final_zero_fraction[<layer>]``
(weights' zero fraction), ``final_weight_l2[<layer>]`` (weights' l2) and ``final_grad_l2[<layer>]``
(gradients' l2)."""

from __future__ import annotations

import re

import numpy as np
from sqlalchemy import Connection

from backend.layers import store
from backend.layers.codec import COLUMN, PRESENT, TENSORS

# metric -> (tensor, statistic)
LAYER_METRICS = {
    "final_zero_fraction": ("weights", "zero_fraction"),
    "final_weight_l2": ("weights", "l2"),
    "final_grad_l2": ("gradients", "l2"),
}
_NAME = re.compile(r"(" + "|".join(LAYER_METRICS) + r")\[[^\x00-\x1f]{1,200}\]")


def is_layer_metric(metric: str) -> bool:
    return _NAME.fullmatch(metric) is not None


def layer_metrics(connection: Connection, run_ids: list[int]) -> dict[str, np.ndarray]:
    """``{"final_weight_l2[dense]": (runs,) values, ...}`` for every layer any run has (NaN where a run lacks it),
    in the order of the layers as first met; one query."""
    if not run_ids:
        return {}
    last = store.read_epoch(connection, run_ids, None)
    out: dict[str, np.ndarray] = {}
    for i, run_id in enumerate(run_ids):
        if run_id not in last:
            continue
        snapshot = last[run_id][1]
        for row, name in enumerate(snapshot.names):
            for metric, (tensor, stat) in LAYER_METRICS.items():
                t = TENSORS.index(tensor)
                if snapshot.flags[row, t] & PRESENT:
                    key = f"{metric}[{name}]"
                    if key not in out:
                        out[key] = np.full(len(run_ids), np.nan)
                    out[key][i] = snapshot.floats[row, t, COLUMN[stat]]
    return out
