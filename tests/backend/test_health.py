"""GET /api/health when the database is away (no app lifespan: the database is never there)."""

import time
import warnings


def test_database_error_is_reported_not_raised(monkeypatch, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from backend.db import reset_engine_cache
    from backend.main import create_app
    from backend.settings import get_settings
    from tests.fixtures.services import free_port

    monkeypatch.setenv("REGLAB_DATABASE_URL", f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none")
    monkeypatch.setenv("REGLAB_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    get_settings.cache_clear()
    reset_engine_cache()
    started = time.monotonic()

    body = TestClient(create_app()).get("/api/health").json()

    assert time.monotonic() - started < 5  # bounded, with room for a loaded machine
    assert body["status"] == "degraded" and body["broker"] == "unreachable"
    assert body["database"].startswith("error: ")
    get_settings.cache_clear()
    reset_engine_cache()


def test_a_database_that_hangs_is_reported_after_the_deadline(monkeypatch):
    import threading

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from backend import health
    from backend.main import create_app

    release = threading.Event()
    monkeypatch.setattr(health, "_database", lambda: release.wait(30) and "ok")
    monkeypatch.setattr(health, "_broker", lambda: "ok")
    # The test client waits for the stuck thread when it closes; free it well after the deadline.
    threading.Timer(3, release.set).start()

    body = TestClient(create_app()).get("/api/health").json()

    assert body == {"status": "degraded", "database": "error: no answer within 1 s", "broker": "ok"}
