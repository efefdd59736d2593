"""How much the worker's metrics tracking slows training on the CPU (target: at most 2%).

Trains the same spec twice per repeat, alternating: once with the run's own
callbacks only (schedule, TerminateOnNaN), once with the tracking as a real
worker has it too, over HTTP: a live API (uvicorn on a temporary SQLite
database, publishing to Redis when it answers) in a process of its own, the
run claimed through it, MetricsTracker with per-step buffering and
end-of-epoch diagnostics, the cancel check, the heartbeat thread (one
request a second), per epoch one POST of the epoch's points by the run
client's background sender, and the resume checkpoint, at most one per
``--checkpoint-interval`` seconds, saved locally and uploaded to the API.
It prints:

* the A/B difference of the median epoch time (noisy on a shared machine),
* the time measured inside the tracking code itself (callbacks and sink)
  as a share of the tracked epoch time: the direct figure.

Run: ``.venv/bin/python bench/tracking_overhead.py`` (about two minutes on
two cores with the defaults); ``--help`` for the spec knobs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--train-samples", type=int, default=None, help="cap on training examples (default: all)")
    parser.add_argument("--validation-samples", type=int, default=5000)
    parser.add_argument("--hidden", default="300,100", help="hidden layer sizes")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2, help="alternating with/without pairs")
    parser.add_argument("--schedule", default="one_cycle", help="a per-step schedule exercises rate_at per batch")
    parser.add_argument(
        "--checkpoint-interval", type=float, default=None,
        help="least seconds between resume checkpoints (default: the worker's REGLAB_CHECKPOINT_INTERVAL_S)",
    )
    parser.add_argument("--no-checkpoint", action="store_true", help="track without resume checkpoints")
    parser.add_argument(
        "--read-every-step", action="store_true",
        help="read the optimizer's learning rate before every batch (default: twice an epoch, plan checked)",
    )
    return parser.parse_args()


def start_api(data_dir: Path) -> tuple[subprocess.Popen, str]:
    """A uvicorn of the API on a free port, its own SQLite; the dispatcher finds no broker work to do."""
    from backend.cli.processes import free_port, wait_for_api

    port = free_port()
    env = {**os.environ, "REGLAB_DATA_DIR": str(data_dir), "REGLAB_DATABASE_URL": f"sqlite:///{data_dir / 'bench.db'}",
           "REGLAB_TRAIN_QUEUE": f"bench-{os.getpid()}", "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}  # fmt: skip
    log = open(data_dir / "api.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "backend.main:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"], env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    if not wait_for_api(url, 60, lambda: None):
        raise SystemExit(f"the API did not start; see {data_dir / 'api.log'}")
    return proc, url


def main() -> None:
    args = parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="reglab-bench-"))
    os.environ.setdefault("REGLAB_CHANNEL_PREFIX", f"reglab-bench-{os.getpid()}")
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1"

    import keras

    from backend.settings import get_settings
    from reglab.client import Client, Heartbeat
    from reglab.spec import build_spec
    from worker.training import callbacks as tracking_callbacks
    from worker.training import checkpoint as checkpoints
    from worker.training.tracking import EpochRecorder
    from worker.training.trainer import train

    api, url = start_api(data_dir)
    client = Client(url)

    def create_run(spec_json: dict, name: str) -> int:
        study = client.json("POST", "/api/experiments", json={"name": name, "base": spec_json})
        return study["runs"][0]["id"]

    spec = build_spec(
        {
            "dataset": {
                "name": args.dataset,
                "validation_samples": args.validation_samples,
                "train_samples": args.train_samples,
            },
            "model": {"hidden_layers": [int(units) for units in args.hidden.split(",") if units]},
            "schedule": {"name": args.schedule},
            "training": {"epochs": args.epochs, "batch_size": args.batch_size},
            "evaluation": {"test_set": False},
        }
    )

    # Time spent inside the tracking code, accumulated by wrapping its entry points.
    inside = {"seconds": 0.0}

    def timed(function):
        def wrapper(*a, **kw):
            start = time.perf_counter()
            try:
                return function(*a, **kw)
            finally:
                inside["seconds"] += time.perf_counter() - start

        return wrapper

    for cls, names in (
        (tracking_callbacks.MetricsTracker, ("on_epoch_begin", "on_train_batch_begin", "on_train_batch_end", "on_epoch_end")),
        (tracking_callbacks.CancelOnEvent, ("on_train_batch_end",)),
        (checkpoints.EpochCheckpoint, ("on_epoch_end",)),
    ):
        for name in names:
            setattr(cls, name, timed(getattr(cls, name)))

    # CPU of the run client's own threads (the sender's POSTs and uploads, the heartbeats):
    # they run beside training, so they count as CPU taken from it, not as time inside it.
    from reglab.client import RunClient

    background = {"cpu": 0.0}

    def cpu_timed(function):
        def wrapper(*a, **kw):
            start = time.thread_time()
            try:
                return function(*a, **kw)
            finally:
                background["cpu"] += time.thread_time() - start

        return wrapper

    RunClient._send = cpu_timed(RunClient._send)
    RunClient.heartbeat = cpu_timed(RunClient.heartbeat)

    class EpochClock(keras.callbacks.Callback):
        """Epoch wall time, identical in both arms (two perf_counter calls per epoch)."""

        def on_train_begin(self, logs=None):
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)

    def run_once(track: bool) -> tuple[list[float], float]:
        clock = EpochClock()
        inside["seconds"] = 0.0
        background["cpu"] = 0.0
        run = client.run(create_run(spec.model_dump(mode="json"), name="bench"))
        run.claim("bench")
        heartbeat = Heartbeat(run, 1.0).start()
        sink = EpochRecorder(run)
        store = None if args.no_checkpoint else checkpoints.UploadedCheckpoints(run, data_dir / "scratch")
        # The clock comes last, so its epochs include the tracker's end-of-epoch work
        # (diagnostics, queuing the epoch's POST, checkpoint save).
        try:
            train(
                spec, sink, extra_callbacks=[clock], track=track, checkpoint=store, checkpoint_interval_s=interval,
                read_rates_every_step=args.read_every_step,
            )
        finally:
            heartbeat.stop()
            stored = run.flush(120)
            run.finish("completed")
        if not stored:
            print("  warning: not every epoch reached the API")
        return clock.seconds, inside["seconds"]

    interval = args.checkpoint_interval
    if interval is None:
        interval = get_settings().CHECKPOINT_INTERVAL_S

    print(
        f"spec: {args.dataset} train={args.train_samples or 'all'} hidden={args.hidden} "
        f"batch={args.batch_size} epochs={args.epochs} schedule={args.schedule}; backend {keras.backend.backend()}; "
        f"checkpoints: {'none' if args.no_checkpoint else f'at most one per {interval:g} s'}; "
        f"learning rate read {'before every batch' if args.read_every_step else 'twice an epoch, plan checked'}"
    )
    run_once(True)  # warm-up: dataset load, graph tracing
    plain, tracked, inside_share, background_share = [], [], [], []
    for repeat in range(args.repeats):
        for track in (False, True):
            seconds, inside_s = run_once(track)
            epochs = seconds[1:] or seconds  # the first epoch includes tracing
            (tracked if track else plain).extend(epochs)
            if track:
                total = sum(seconds)
                inside_share.append(inside_s / total)
                background_share.append(background["cpu"] / total)
            print(f"  repeat {repeat} {'tracked' if track else 'plain  '}: epochs {['%.2f' % s for s in seconds]}")
    plain_median, tracked_median = statistics.median(plain), statistics.median(tracked)
    ab = (tracked_median - plain_median) / plain_median
    direct = statistics.mean(inside_share)
    print(f"median epoch time: plain {plain_median:.3f} s, tracked {tracked_median:.3f} s")
    print(f"A/B overhead: {ab * 100:+.2f}% (noise of a shared machine included)")
    print(f"time inside the tracking code: {direct * 100:.2f}% of the tracked epoch time")
    print(f"CPU of the run client's sender and heartbeat threads: {statistics.mean(background_share) * 100:.2f}% "
          "of the tracked epoch time (beside training, not inside it)")
    print(f"tracking overhead ratio (tracked / plain): {tracked_median / plain_median:.4f}")
    client.close()
    api.terminate()
    api.wait(10)
    try:  # the tasks the API sent for the bench's runs, which no worker consumes
        import redis

        redis.Redis.from_url(get_settings().REDIS_URL, socket_connect_timeout=1).delete(f"bench-{os.getpid()}")
    except Exception:
        pass
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
