"""GET /api/experiments/{id}/report on seeded runs (no worker): one closed HTML file, text escaped, data intact."""

from __future__ import annotations

import html
import json
import re

import pytest

from backend.db import session_scope
from backend.runs.models import Run

TINY = {"dataset": {"name": "digits", "validation_samples": 300, "train_samples": 200}, "model": {"hidden_layers": [8]},
        "training": {"epochs": 3}}
HOSTILE = "L2 </script><script>alert(1)</script> & <!-- study"


def seed(client, name: str = HOSTILE, description: str = "line one\n<b>not bold</b>") -> dict:
    grid = {"regularization.kernel_l2": [0.0, 0.01], "training.seed": [1, 2]}
    response = client.post("/api/experiments", json={"name": name, "description": description, "base": TINY, "grid": grid})
    assert response.status_code == 201, response.text
    study = response.json()
    for run in study["runs"]:
        l2 = client.get(f"/api/runs/{run['id']}").json()["spec"]["regularization"]["kernel_l2"]
        points = [{"name": series, "x": epoch, "value": value} for epoch in range(3) for series, value in
                  (("loss", 1 - 0.2 * epoch), ("val_loss", 1.1 - 0.2 * epoch + l2), ("val_accuracy", 0.5 + 0.1 * epoch - l2))]
        assert client.post(f"/api/runs/{run['id']}/metrics", json={"points": points}).status_code < 300
        with session_scope() as session:
            row = session.get(Run, run["id"])
            row.state, row.backend, row.device, row.worker_host = "completed", "jax", "CPU", "box-1"
    return study


def report_data(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.DOTALL)
    assert match, "no data script"
    return json.loads(match.group(1))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_report_is_one_closed_file_with_user_text_escaped(client):
    study = seed(client)
    response = client.get(f"/api/experiments/{study['id']}/report")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = response.text
    # The policy is in the file too, before any script or style, so it holds when opened from disk.
    head = page[: page.index("<style>")]
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';' in head
    # Nothing points outside the file.
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=", page)
    # The name is text wherever it appears: escaped in the markup, \u003c in the JSON.
    assert HOSTILE not in page
    assert f"<h1 id=\"study-title\">{html.escape(HOSTILE)}</h1>" in page
    assert page.count("<script") == page.count("</script>") == 4
    data = report_data(page)
    assert data["experiment"]["name"] == HOSTILE
    # The analysis is the analysis endpoint's own answer.
    analysis = client.get(f"/api/experiments/{study['id']}/analysis").json()
    assert data["analysis"] == analysis
    assert [g["label"] for g in data["analysis"]["groups"]] == [g["label"] for g in analysis["groups"]]
    # Where it ran, as the runs recorded it; the study JSON that reruns it.
    assert "jax on CPU, host box-1 (4 runs)" in page
    body = json.loads(data["reproduce"]["json"])
    assert body["grid"] == {"regularization.kernel_l2": [0.0, 0.01], "training.seed": [1, 2]}
    assert body["base"] == client.get(f"/api/experiments/{study['id']}").json()["base"]
    assert "reglab submit study.json" in page


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_report_refuses_what_the_analysis_refuses(client):
    study = seed(client, name="plain")
    response = client.get(f"/api/experiments/{study['id']}/report", params={"metric": "nope"})
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "metric"
    assert client.get("/api/experiments/999999/report").status_code == 404
