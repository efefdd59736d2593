"""What per-layer snapshots cost a run (targets: ≤ 2 % of epoch time on the 300-100 MLP, ≤ 5 % on 100 SELU layers).

For each network it trains the worker's own training function in-process on
Fashion-MNIST, once with the layer snapshots (``reglab.layer_tracking``) and
once without, alternating, and prints:

* the time spent inside the snapshots (forward and backward pass on the probe
  batch, the statistics) per epoch, as a share of the epoch time: the direct
  figure, which a shared machine's noise barely moves;
* the A/B difference of the median epoch time, for the record (noisy).

Run: ``.venv/bin/python bench/layer_stats_overhead.py`` (a few minutes on two
cores); ``--train-samples`` trades precision for time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

NETWORKS = {
    "mlp": {"model": {"hidden_layers": [300, 100]}, "dataset": {"preprocessing": "scale"}},
    "selu100": {
        "model": {"hidden_layers": [100] * 100, "activation": "selu", "initializer": "lecun_normal"},
        "dataset": {"preprocessing": "standardize"},
    },
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default="mlp,selu100", help=f"comma-separated, of {', '.join(NETWORKS)}")
    parser.add_argument("--train-samples", type=int, default=55000, help="training examples (default: all 55,000)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1, help="alternating with/without pairs")
    return parser.parse_args()


def spec_for(network: str, args: argparse.Namespace):
    from reglab.spec import build_spec, deep_merge

    base = {
        "dataset": {"name": "fashion_mnist", "validation_samples": 5000, "train_samples": args.train_samples},
        "optimizer": {"name": "sgd", "learning_rate": 0.001},
        "training": {"epochs": args.epochs, "batch_size": 32},
        "evaluation": {"test_set": False, "mc_samples": 0},
    }
    return build_spec(deep_merge(base, NETWORKS[network]))


def fit(spec, with_layers: bool) -> tuple[list[float], float, int]:
    """(epoch seconds, seconds inside the snapshots, snapshots taken)."""
    import keras

    from reglab import layer_tracking
    from worker.training.tracking import MemorySink
    from worker.training.trainer import train

    inside = [0.0, 0]
    record = layer_tracking.LayerSnapshots._record

    def timed(self, epoch):
        started = time.perf_counter()
        record(self, epoch)
        inside[0] += time.perf_counter() - started
        inside[1] += 1

    class EpochTimes(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.started)

    seconds: list[float] = []
    layer_tracking.LayerSnapshots._record = timed
    try:
        train(spec, MemorySink(), extra_callbacks=[EpochTimes()], layers=(lambda layers, snapshot: None) if with_layers else None)
    finally:
        layer_tracking.LayerSnapshots._record = record
    return seconds, inside[0], inside[1]


def main() -> None:
    args = parse_args()
    print(f"{args.train_samples} training examples, {args.epochs} epochs, batch 32, probe batch 256, CPU")
    for network in args.networks.split(","):
        spec = spec_for(network, args)
        tracked: list[float] = []
        plain: list[float] = []
        inside = snapshots = 0
        for _ in range(args.repeats):
            seconds, spent, taken = fit(spec, with_layers=True)
            tracked += seconds
            inside += spent
            snapshots += taken
            plain += fit(spec, with_layers=False)[0]
        epoch = statistics.median(tracked)
        # Per epoch of a long run: one snapshot (the one before training amortises away).
        per_snapshot = inside / snapshots
        print(f"== {network}: median epoch {epoch:.2f} s with snapshots, {statistics.median(plain):.2f} s without")
        print(f"   one snapshot {per_snapshot * 1000:.0f} ms = {per_snapshot / epoch * 100:.2f} % of an epoch (direct)")
        print(f"   A/B difference of the medians: {(epoch / statistics.median(plain) - 1) * 100:+.1f} %")


if __name__ == "__main__":
    main()
