"""Layers views in Chromium: 20 runs x 100 layers drawn, against the issue's 1 s.

Starts a real uvicorn on a fresh SQLite database, creates 20 runs, claims each
as a worker does and posts synthetic snapshots (100 Dense layers, weights /
activations / gradients, built with numpy) through POST /api/runs/{id}/layers.
Then, in a real Chromium (Playwright), it measures:

- Compare, Layers tab (20 runs, 100 layers): from the tab's click to both
  figures drawn and the next frame painted (GET /api/compare/layers included),
  and the draw alone (the page's own ``data-draw-ms``);
- Run page (one run, 100 layers): the section's draw (12 heatmaps of the first
  page of layers and the depth profile).

    .venv/bin/python bench/layers_page.py [--runs 20] [--layers 100] [--snapshots 10] [--repeats 5]

Needs Chromium (/usr/bin/chromium or REGLAB_CHROMIUM).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from api_store import start_server  # noqa: E402  (after the path)
from backend.cli.processes import free_port  # noqa: E402
from tests.fixtures.layer_snapshots import layer_descriptions, snapshot, synthetic_arrays  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
TARGET_MS = 1000.0


def seed(client: httpx.Client, runs: int, layers: int, snapshots: int) -> list[int]:
    body = {"name": "layers bench", "base": {"training": {"epochs": 50}, "model": {"hidden_layers": [100] * (layers - 1)}},
            "grid": {"training.seed": list(range(runs))}}
    response = client.post("/api/experiments", json=body)
    response.raise_for_status()
    ids = [run["id"] for run in response.json()["runs"]]
    described = layer_descriptions([100] * layers, inputs=784)
    epochs = [-1, *range(snapshots - 1)]
    for i, run_id in enumerate(ids):
        client.post(f"/api/trainer/runs/{run_id}/claim", json={"worker_host": "bench"}).raise_for_status()
        rng = np.random.default_rng(i)
        posted = [snapshot(epoch, synthetic_arrays(described, epoch, rng, scale=1 + 0.05 * i, size=256)) for epoch in epochs]
        client.post(f"/api/runs/{run_id}/layers", json={"attempt": 1, "layers": described, "snapshots": posted}).raise_for_status()
    return ids


def summary(name: str, samples: list[float]) -> str:
    p50 = statistics.median(samples)
    return f"{name:<58} p50 {p50:7.1f} ms  max {max(samples):7.1f} ms  target ≤ {TARGET_MS:.0f} ms: {'ok' if max(samples) <= TARGET_MS else 'MISSED'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--layers", type=int, default=100)
    parser.add_argument("--snapshots", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="reglab-bench-") as tmp:
        data_dir = Path(tmp)
        env = {**os.environ, "REGLAB_DATA_DIR": str(data_dir), "REGLAB_DATABASE_URL": f"sqlite:///{data_dir / 'reglab.db'}",
               "REGLAB_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "REGLAB_DISPATCH_INTERVAL_S": "3600"}
        proc, url = start_server(env, data_dir / "uvicorn.log")
        try:
            with httpx.Client(base_url=url, timeout=300) as client:
                started = time.perf_counter()
                ids = seed(client, args.runs, args.layers, args.snapshots)
                print(f"seeded {args.runs} runs x {args.layers} layers x {args.snapshots} snapshots in {time.perf_counter() - started:.0f} s; "
                      f"{os.cpu_count()} CPUs, Chromium without GPU")
            chromium = os.environ.get("REGLAB_CHROMIUM", "/usr/bin/chromium")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                total, draw = [], []
                for _ in range(args.repeats):
                    page.goto(f"{url}/compare?run_ids={','.join(map(str, ids))}")
                    page.wait_for_selector("body[data-ready='1']")
                    page.evaluate("""() => new Promise((resolve) => {
                        window.__t0 = performance.now();
                        new MutationObserver((_, observer) => { if (document.getElementById('layers-view').dataset.drawn) {
                          observer.disconnect(); requestAnimationFrame(() => { window.__t1 = performance.now(); resolve(); }); } })
                          .observe(document.getElementById('layers-view'), {attributes: true});
                        document.getElementById('tab-layers').click(); })""")
                    total.append(page.evaluate("window.__t1 - window.__t0"))
                    draw.append(float(page.evaluate("document.getElementById('layers-view').dataset.drawMs")))
                    traces = page.evaluate("document.getElementById('layers-profile').data.length")
                    assert traces == args.runs, traces
                print(summary(f"compare Layers tab, {args.runs} runs x {args.layers} layers: click to painted", total))
                print(summary("compare Layers tab: the two figures' draw", draw))
                run_draw = []
                for _ in range(args.repeats):
                    page.goto(f"{url}/runs/{ids[0]}")
                    page.wait_for_selector("#layer-stats[data-loaded='1']")
                    run_draw.append(float(page.evaluate("document.getElementById('layer-stats').dataset.drawMs")))
                print(summary(f"run page, {args.layers} layers x {args.snapshots} snapshots: 12 heatmaps + depth profile", run_draw))
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
