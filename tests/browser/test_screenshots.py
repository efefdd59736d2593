"""The README's two screenshots: the Study page and grouped Compare, drawn in a real Chromium.

The study is seeded through the API (no worker): four kernel_l2 values × three
seeds, 20 epochs of curves shaped like a Fashion-MNIST MLP's (no penalty
overfits, the strongest underfits). The test checks that the charts were drawn
and always leaves the pictures in test-output/; with ``REGLAB_SCREENSHOTS=1``
it also writes them to docs/img/, which is how the committed images are made.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest

from backend.db import session_scope
from backend.runs.models import Run
from backend.trainer.summary import summary_from_points

pytestmark = pytest.mark.browser

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
EPOCHS = 20
# kernel_l2 -> (how much of the no-penalty gap is left, how much it underfits, its penalty's size)
L2 = {0.0: (1.0, 0.0, 0.0), 0.0001: (0.75, 0.0, 0.012), 0.001: (0.2, 0.005, 0.05), 0.01: (0.05, 0.1, 0.15)}
BASE = {
    "dataset": {"name": "fashion_mnist"},
    "model": {"hidden_layers": [300, 100]},
    "training": {"epochs": EPOCHS},
    "schedule": {"name": "cosine"},
}


def curves(l2: float, seed: int) -> list[dict]:
    gap, under, penalty = L2[l2]
    rng = np.random.default_rng(seed * 100 + int(l2 * 1e5))
    epoch = np.arange(EPOCHS, dtype=float)
    noise = lambda scale: rng.normal(0, scale, EPOCHS)  # noqa: E731
    data_loss = 0.2 + under + 0.8 * np.exp(-epoch / 4) - 0.004 * epoch * gap + noise(0.006)
    val_data_loss = 0.36 + under + 0.7 * np.exp(-epoch / 3.5) + 0.008 * epoch * gap + noise(0.012)
    reg_loss = penalty * (1 - 0.6 * np.exp(-epoch / 3))
    series = {
        "loss": data_loss + reg_loss,
        "val_loss": val_data_loss + reg_loss,
        "data_loss": data_loss,
        "val_data_loss": val_data_loss,
        "reg_loss": reg_loss,
        "accuracy": 0.99 - 0.33 * data_loss + noise(0.002),
        "val_accuracy": 0.99 - 0.3 * val_data_loss + noise(0.004),
        "weight_l2": 6 + (30 + 2 * epoch) / (1 + l2 * 1000) + noise(0.2),
        "sparsity": 0.01 + 0.15 * np.log10(1 + l2 * 1e4) * (1 - np.exp(-epoch / 5)),
        "learning_rate": 0.01 * 0.5 * (1 + np.cos(np.pi * epoch / EPOCHS)),
    }
    return [
        {"name": name, "x": int(x), "value": float(value), "t": float(x + 1) * 4.2}
        for name, values in series.items()
        for x, value in zip(epoch, values, strict=True)
    ]


def seed_study(base_url: str) -> dict:
    grid = {"regularization.kernel_l2": list(L2), "training.seed": [1, 2, 3]}
    body = {"name": "L2 strength on Fashion-MNIST", "base": BASE, "grid": grid}
    response = httpx.post(f"{base_url}/api/experiments", json=body, timeout=30)
    assert response.status_code == 201, response.text
    study = response.json()
    for run in study["runs"]:
        spec = httpx.get(f"{base_url}/api/runs/{run['id']}").json()["spec"]
        points = curves(spec["regularization"]["kernel_l2"], spec["training"]["seed"])
        assert httpx.post(f"{base_url}/api/runs/{run['id']}/metrics", json={"points": points}, timeout=30).status_code < 300
        # As a finished worker leaves it: every epoch done, the summary from the stored points.
        with session_scope() as session:
            row = session.get(Run, run["id"])
            row.state, row.epoch, row.epochs = "completed", EPOCHS, EPOCHS
            row.started_at = row.finished_at = datetime.now(UTC)
            row.summary = summary_from_points(session, run["id"])
    return study


def save(page, name: str, test_output_dir: Path) -> None:
    page.screenshot(path=str(test_output_dir / name), full_page=True)
    if os.environ.get("REGLAB_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_IMG / name), full_page=True)


def test_study_page_and_grouped_compare_screenshots(live_server, page, test_output_dir):
    study = seed_study(live_server)

    page.goto(f"{live_server}/experiments/{study['id']}?metric=best_val_accuracy")
    page.wait_for_selector("body[data-ready='1']")
    path = page.evaluate("() => document.getElementById('path-chart').data.map(t => t.y.length)")
    assert path == [4, 4]  # train and validation, one point per kernel_l2 value
    assert page.locator("#results-table tbody tr").count() == 4
    # The moderate penalty wins: it closes the gap without underfitting.
    assert "kernel_l2=0.001" in page.locator("#best-condition").inner_text()
    # The importance bars come from a second request: wait for them before the picture.
    page.wait_for_function("() => document.getElementById('importance-chart').data?.length === 1")
    assert "PED-ANOVA over 12 finished runs" in page.locator("#importance-reason").inner_text()
    save(page, "study.png", test_output_dir)

    ids = ",".join(str(run["id"]) for run in study["runs"])
    page.goto(f"{live_server}/compare?run_ids={ids}&group=auto&metric=best_val_accuracy")
    page.wait_for_selector("body[data-ready='1']")
    kinds = page.evaluate("() => document.getElementById('chart-loss').data.map(t => t.meta.kind)")
    assert kinds.count("mean") == 8 and kinds.count("band") == 8  # loss and val_loss per group
    save(page, "compare-grouped.png", test_output_dir)
