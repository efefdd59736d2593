"""Study throughput: a 9-run Fashion-MNIST study through the whole stack against a plain Keras script.

The study is no penalty vs L1 vs L2 on the kernels × 3 seeds, a small MLP on
real Fashion-MNIST (Debian's files). It is trained, back to back:

* **plain**: one fresh Python process that builds the same 9 models with the
  worker's own data loader and model builder (``worker.training``) and calls
  ``model.fit`` 9 times; timed from the process start to its exit, imports
  and the dataset load included;
* **stack**: the compose stack's processes without Docker (``bench/stack.py``):
  the API (uvicorn), a real Redis and PostgreSQL, and one ``reglab worker``
  with ``REGLAB_WORKER_CONCURRENCY`` 1, then 2, started, ready and idle
  beforehand (a worker is a long-lived service); the study is submitted over REST and
  timed from the POST to the last of the 9 runs' ``finished_at``.

It prints each wall time, stack ÷ plain (target ≤ 1.05), and where the stack's
time went: the runs' own training time (``train_seconds``), the time from the
submit to the first run's start, the gaps between one run's end and the next
one's start on a worker slot, and the CPU seconds of the API and the worker
processes. The study runs with ``evaluation.test_set`` off, so both sides do
the same ``fit`` calls: what is left is the stack's own cost.

    .venv/bin/python bench/study_throughput.py [--repeats 2] [--concurrency 1 2]

Needs PostgreSQL and Redis as ``bench/chaos.py`` does (a database and queue of
its own). 5 to 10 minutes a round on the shared 2 cores with the defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import FINAL, REPO, Stack, fresh_database, services, stop_services  # noqa: E402  (after the path)

GRID = {
    "regularization": [{}, {"kernel_l1": 1e-4}, {"kernel_l2": 1e-3}],
    "training.seed": [1, 2, 3],
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-samples", type=int, default=10000)
    parser.add_argument("--validation-samples", type=int, default=5000)
    parser.add_argument("--hidden", default="128,64", help="hidden layer sizes")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2], help="REGLAB_WORKER_CONCURRENCY values")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of plain, then the stack at each concurrency")
    parser.add_argument("--plain-child", type=Path, help=argparse.SUPPRESS)  # internal: the plain script's process
    return parser.parse_args()


def study_body(args: argparse.Namespace) -> dict:
    return {
        "name": "study throughput bench",
        "base": {
            "dataset": {"name": "fashion_mnist", "validation_samples": args.validation_samples,
                        "train_samples": args.train_samples},  # fmt: skip
            "model": {"hidden_layers": [int(units) for units in args.hidden.split(",") if units]},
            "training": {"epochs": args.epochs, "batch_size": args.batch_size},
            "evaluation": {"test_set": False},
        },
        "grid": GRID,
    }


def planned_specs(args: argparse.Namespace) -> list[dict]:
    """The 9 run specs exactly as the API expands the study."""
    from backend.experiments.grid import expand
    from reglab.spec import build_spec

    body = study_body(args)
    base = build_spec(body["base"]).model_dump(mode="json")
    return [run.spec.model_dump(mode="json") for run in expand(base, body["grid"], body["name"])]


# ---- plain: one Keras script --------------------------------------------------


def plain_child(specs_path: Path) -> None:
    """The plain script: load the data once, then build and fit each model (this process is timed whole)."""
    import keras

    from reglab.spec import RunSpec
    from worker.training import datasets
    from worker.training.trainer import compile_model

    specs = [RunSpec.model_validate(spec) for spec in json.loads(specs_path.read_text())]
    data = datasets.load(specs[0].dataset)  # the 9 runs share one dataset section
    fit_seconds = []
    for spec in specs:
        keras.utils.set_random_seed(spec.training.seed)
        model, _ = compile_model(spec, data)
        started = time.perf_counter()
        model.fit(data.x_train, data.y_train, batch_size=spec.training.batch_size, epochs=spec.training.epochs,
                  validation_data=(data.x_val, data.y_val), shuffle=True, verbose=0)  # fmt: skip
        fit_seconds.append(time.perf_counter() - started)
    print(json.dumps({"fit_seconds": fit_seconds}))


def run_plain(specs: list[dict], directory: Path) -> dict:
    path = directory / "specs.json"
    path.write_text(json.dumps(specs))
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    cpu = children_cpu()
    started = time.monotonic()
    done = subprocess.run([sys.executable, __file__, "--plain-child", str(path)], env=env, cwd=REPO,
                          capture_output=True, text=True, check=False)  # fmt: skip
    seconds = time.monotonic() - started
    cpu = children_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"the plain script failed:\n{done.stderr[-3000:]}")
    fits = json.loads(done.stdout.strip().splitlines()[-1])["fit_seconds"]
    return {"seconds": seconds, "fit": sum(fits), "cpu": cpu}


def children_cpu() -> float:
    """CPU seconds of this process' waited-for children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ---- stack: the API, Redis, PostgreSQL and a Celery worker --------------------


def process_cpu(pid: int) -> float:
    """CPU seconds of a process and its children so far (Celery's pool processes, uvicorn's workers)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        total = 0.0
        for p in [proc, *proc.children(recursive=True)]:
            times = p.cpu_times()
            total += times.user + times.system
        return total
    except psutil.Error:
        return 0.0


def wait_idle(pid: int, timeout: float = 300.0) -> None:
    """Until a process tree uses under 0.1 s of CPU in a second."""
    deadline = time.monotonic() + timeout
    used = process_cpu(pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = process_cpu(pid)
        if now - used < 0.1:
            return
        used = now


def parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def slot_gaps(runs: list[dict], slots: int) -> list[float]:
    """Seconds from a run's end to the next start on the same worker slot (runs in start order, ``slots`` lanes)."""
    lanes: list[float] = []
    gaps = []
    for run in sorted(runs, key=lambda r: parse_time(r["started_at"])):
        start, end = parse_time(run["started_at"]), parse_time(run["finished_at"])
        if len(lanes) < slots:
            lanes.append(end)
            continue
        lane = min(range(len(lanes)), key=lambda i: lanes[i])
        gaps.append(start - lanes[lane])
        lanes[lane] = end
    return gaps


def run_stack(args: argparse.Namespace, server: str, redis_url: str, directory: Path, concurrency: int) -> dict:
    tag = uuid.uuid4().hex[:8]
    stack_dir = directory / f"stack-c{concurrency}-{tag}"
    stack_dir.mkdir()
    with fresh_database(server, f"reglab_throughput_{tag}") as database_url:
        stack = Stack(database_url, redis_url, stack_dir, tag, env={"REGLAB_WORKER_CONCURRENCY": str(concurrency)},
                      workers=1, api_workers=1)  # fmt: skip
        try:
            stack.up()
            stack.wait_workers_ready()
            # Celery says ready before its pool processes have loaded TensorFlow: wait until they are idle.
            wait_idle(stack.procs["worker1"].pid)
            api_cpu, worker_cpu = process_cpu(stack.procs["api"].pid), process_cpu(stack.procs["worker1"].pid)
            worker_start_cpu = worker_cpu  # its imports (and TensorFlow, loaded before its first task)
            with httpx.Client(base_url=stack.url, timeout=60) as client:
                submitted = time.time()
                created = client.post("/api/experiments", json=study_body(args))
                created.raise_for_status()
                experiment_id = created.json()["id"]
                while True:
                    # The end is the last run's finished_at (the same clock), so the
                    # poll interval costs no precision, only the API's CPU to answer.
                    time.sleep(1.0)
                    runs = client.get("/api/runs", params={"experiment_id": experiment_id, "limit": 100}).json()["items"]
                    if all(run["state"] in FINAL for run in runs):
                        break
            api_cpu = process_cpu(stack.procs["api"].pid) - api_cpu
            worker_cpu = process_cpu(stack.procs["worker1"].pid) - worker_cpu
        finally:
            stack.down()
    not_completed = [(run["id"], run["state"], run.get("error")) for run in runs if run["state"] != "completed"]
    if not_completed:
        raise SystemExit(f"runs did not complete: {not_completed}; logs in {stack_dir}")
    first_start = min(parse_time(run["started_at"]) for run in runs)
    return {
        "seconds": max(parse_time(run["finished_at"]) for run in runs) - submitted,
        "train": sum(run["summary"]["train_seconds"] for run in runs),
        "to_first_start": first_start - submitted,
        "gaps": slot_gaps(runs, concurrency),
        "api_cpu": api_cpu,
        "worker_cpu": worker_cpu,
        "worker_start_cpu": worker_start_cpu,
    }


def main() -> None:
    args = parse_args()
    if args.plain_child:
        plain_child(args.plain_child)
        return
    directory = Path(tempfile.mkdtemp(prefix="reglab-throughput-"))
    server, redis_url, keep = services(directory)
    specs = planned_specs(args)
    print(
        f"{len(specs)} runs (no penalty / L1 1e-4 / L2 1e-3 × seeds 1-3): Fashion-MNIST {args.train_samples} examples "
        f"(+{args.validation_samples} validation), MLP {args.hidden}, batch {args.batch_size}, {args.epochs} epochs; "
        f"PostgreSQL; load average {os.getloadavg()[0]:.2f}; logs in {directory}",
        flush=True,
    )
    plain_times: list[float] = []
    stack_times: dict[int, list[float]] = {c: [] for c in args.concurrency}
    try:
        for repeat in range(args.repeats):
            plain = run_plain(specs, directory)
            plain_times.append(plain["seconds"])
            print(f"[{repeat}] plain: {plain['seconds']:.1f} s (fit {plain['fit']:.1f} s); CPU {plain['cpu']:.1f} s; "
                  f"load average {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
            for concurrency in args.concurrency:
                result = run_stack(args, server, redis_url, directory, concurrency)
                stack_times[concurrency].append(result["seconds"])
                gaps = result["gaps"]
                # The worker's start counts: the plain process' CPU includes its imports too.
                cpu = result["api_cpu"] + result["worker_cpu"] + result["worker_start_cpu"]
                print(
                    f"[{repeat}] stack, concurrency {concurrency}: {result['seconds']:.1f} s "
                    f"(x{result['seconds'] / plain['seconds']:.3f} the plain script); runs' train_seconds "
                    f"{result['train']:.1f} s in all; submit to first start {result['to_first_start']:.2f} s; gaps between "
                    f"runs on a slot: median {statistics.median(gaps) if gaps else 0:.2f} s, total {sum(gaps):.1f} s; "
                    f"CPU: API {result['api_cpu']:.1f} s, worker {result['worker_cpu']:.1f} s and "
                    f"{result['worker_start_cpu']:.1f} s as it started (x{cpu / plain['cpu']:.3f} the plain script's); "
                    f"load average {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
    finally:
        stop_services(keep)
    plain_median = statistics.median(plain_times)
    print()
    print(f"plain Keras script: median {plain_median:.1f} s over {len(plain_times)}")
    for concurrency, times in stack_times.items():
        ratios = [stack / plain for stack, plain in zip(times, plain_times, strict=True)]
        print(f"stack, REGLAB_WORKER_CONCURRENCY={concurrency}: median {statistics.median(times):.1f} s; "
              f"stack / plain per round {', '.join(f'{r:.3f}' for r in ratios)} (target <= 1.05)")  # fmt: skip
    shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
