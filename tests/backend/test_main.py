"""The app as a whole: health, OpenAPI, errors never leak a traceback."""

import pytest

from backend.main import create_app


def test_health_reports_database_and_broker(client):
    assert client.get("/api/health").json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_health_is_degraded_and_quick_when_the_broker_is_away(client, monkeypatch):
    import time

    from backend.settings import get_settings
    from tests.fixtures.services import free_port

    monkeypatch.setenv("REGLAB_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    get_settings.cache_clear()
    started = time.monotonic()

    body = client.get("/api/health").json()

    assert body == {"status": "degraded", "database": "ok", "broker": "unreachable"}
    assert time.monotonic() - started < 5  # bounded, with room for a loaded machine


def test_openapi_lists_every_resource(client):
    paths = client.get("/openapi.json").json()["paths"]

    for path in ("/api/experiments", "/api/runs", "/api/runs/{run_id}/metrics", "/api/compare", "/api/health"):
        assert path in paths


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[]", b'"text"', b'{"name": 5}', b'{"name": "x", "base": []}', b'{"name": "x", "grid": {"a": 3}}'],
)
def test_malformed_bodies_are_422_without_a_traceback(client, body):
    response = client.post("/api/experiments", content=body, headers={"content-type": "application/json"})

    assert response.status_code == 422
    assert "Traceback" not in response.text
    assert all({"field", "msg"} <= set(error) for error in response.json()["detail"])


def test_the_app_builds_without_touching_the_database():
    app = create_app()

    assert app.title == "RegLab"


def test_deeply_nested_or_huge_bodies_are_refused_cleanly(client):
    nested = '{"regularization":' + '{"a":' * 100 + "1" + "}" * 100 + "}"
    headers = {"content-type": "application/json"}

    deep = client.post("/api/spec/validate", content=nested, headers=headers)
    huge = client.post("/api/spec/validate", content=b" " * (17 * 1024 * 1024), headers=headers)

    assert deep.status_code == 422 and "16 levels" in deep.json()["detail"][0]["msg"]
    assert huge.status_code == 413


def test_the_api_never_imports_tensorflow_keras_or_the_worker():
    import subprocess
    import sys

    code = (
        "import sys, backend.main; backend.main.create_app(); "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'worker')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stdout + result.stderr
