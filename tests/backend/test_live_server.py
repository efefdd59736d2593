"""The live_server fixture: a real uvicorn process on the test services."""

import httpx


def test_live_server_serves_the_api(live_server):
    created = httpx.post(f"{live_server}/api/experiments", json={"name": "live"}, timeout=10)

    assert created.status_code == 201
    assert httpx.get(f"{live_server}/api/runs", timeout=10).json()["total"] == 1
