"""Migrations run once when several processes start at once (4 API processes in production)."""

import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from backend.cli.processes import wait_for_api
from tests.fixtures.services import SESSION_TAG, free_port

ROOT = Path(__file__).resolve().parents[2]
# Each process waits for the same instant before migrating, so the four really overlap.
RACER = """
import sys, time
from backend.migrate import upgrade_head
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
print("applied" if upgrade_head(sys.argv[1]) else "at head")
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """The URL of a database with no tables at all."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh' / 'reglab.db'}"
        return
    server_url = request.getfixturevalue("postgres_server_url")
    name = f"reglab_m_{SESSION_TAG}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _revision(url):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
    finally:
        engine.dispose()


def test_four_processes_migrating_at_once_migrate_once(empty_database):
    start = time.time() + 4.0  # past every process's imports
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    procs = [
        subprocess.Popen([sys.executable, "-c", RACER, empty_database, str(start)], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        for _ in range(4)
    ]
    results = [proc.communicate(timeout=120) for proc in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err[-3000:]
    assert sorted(out.strip() for out, _ in results) == ["applied", "at head", "at head", "at head"]
    assert _revision(empty_database) == "0005"


def test_four_api_processes_start_on_a_new_postgres_database(postgres_server_url, redis_url, tmp_path):
    name = f"reglab_m_{SESSION_TAG}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "REGLAB_DATABASE_URL": url, "REGLAB_REDIS_URL": redis_url,
        "REGLAB_DATA_DIR": str(tmp_path / "data"), "REGLAB_CHANNEL_PREFIX": f"reglab-m-{name}",
        "REGLAB_TRAIN_QUEUE": f"train-m-{name}",
    }  # fmt: skip
    log_path = tmp_path / "api.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "backend.main:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--workers", "4"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_for_api(base, 120), log_path.read_text()[-3000:]
        # Every worker process finished its start-up (its migration) without an error.
        deadline = time.monotonic() + 60
        while log_path.read_text().count("Application startup complete") < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        text = log_path.read_text()
        assert text.count("Application startup complete") == 4, text[-3000:]
        assert "Traceback" not in text and "startup failed" not in text.lower(), text[-3000:]
        assert httpx.get(f"{base}/api/runs", timeout=10).status_code == 200
        assert _revision(url) == "0005"
    finally:
        proc.terminate()
        proc.wait(30)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
