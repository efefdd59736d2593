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


def _head():
    from alembic.script import ScriptDirectory

    from backend.migrate import alembic_config

    (head,) = ScriptDirectory.from_config(alembic_config()).get_heads()
    return head


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
    assert _revision(empty_database) == _head()


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
        assert _revision(url) == _head()
    finally:
        proc.terminate()
        proc.wait(30)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_sqlite_ids_are_never_reused_and_the_rebuild_keeps_every_point(tmp_path):
    from alembic import command

    from backend.migrate import alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0004")
    engine = sa.create_engine(url)
    run = "INSERT INTO runs (experiment_id, name, spec, state, epoch, epochs, summary) VALUES (1, 'r', '{}', 'queued', 0, 0, '{}')"
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO experiments (name, description, tags, base, grid) VALUES ('e', '', '[]', '{}', '{}')")
        for _ in range(3):
            conn.exec_driver_sql(run)
        for x in range(5):
            conn.exec_driver_sql(f"INSERT INTO metric_points (run_id, name, axis, x, value) VALUES (3, 'loss', 'epoch', {x}, 0.5)")
    command.upgrade(alembic_config(url), "head")
    with engine.begin() as conn:
        # Epoch points now live one row per series (0009).
        assert conn.exec_driver_sql("SELECT n FROM metric_series WHERE run_id = 3").scalar() == 5
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        conn.exec_driver_sql("DELETE FROM runs WHERE id = 3")
        assert conn.exec_driver_sql("SELECT count(*) FROM metric_series").scalar() == 0  # the cascade still holds
        conn.exec_driver_sql(run)
        assert conn.exec_driver_sql("SELECT max(id) FROM runs").scalar() == 4  # not 3 again
    engine.dispose()


def test_step_points_move_into_blocks_and_back(empty_database):
    """Points in the row-per-point layout of 0006 survive 0007 (as float32) and its downgrade."""
    import numpy as np
    from alembic import command

    from backend.metrics.blocks import BLOCK
    from backend.metrics.service import read_series
    from backend.migrate import alembic_config, sqlite_path

    if empty_database.startswith("sqlite"):
        sqlite_path(empty_database).parent.mkdir(parents=True)
    command.upgrade(alembic_config(empty_database), "0006")
    engine = sa.create_engine(empty_database)
    steps = {("loss", x): (None if x % 97 == 0 else 1.0 / (x + 1), x * 0.25) for x in range(3000)}
    steps |= {("acc", x): (0.5, None) for x in (5, 2048, 99_999)}
    epochs = {("loss", x): (0.1 * x, 2.0 * x) for x in range(4)}
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO experiments (name, description, tags, base, grid) VALUES ('e', '', '[]', '{}', '{}')")
        conn.exec_driver_sql("INSERT INTO runs (experiment_id, name, spec, state, epoch, epochs, summary) VALUES (1, 'r', '{}', 'queued', 0, 0, '{}')")
        rows = [{"name": n, "axis": axis, "x": x, "value": v, "t": t}
                for axis, points in (("step", steps), ("epoch", epochs)) for (n, x), (v, t) in points.items()]  # fmt: skip
        conn.execute(sa.text("INSERT INTO metric_points (run_id, name, axis, x, value, t) VALUES (1, :name, :axis, :x, :value, :t)"), rows)

    command.upgrade(alembic_config(empty_database), "0007")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM metric_points WHERE axis = 'step'").scalar() == 0
    command.upgrade(alembic_config(empty_database), "head")

    f32 = lambda v: None if v is None else float(np.float32(v))  # noqa: E731
    with engine.connect() as conn:
        blocks = {(n, x // BLOCK) for n, x in steps}
        assert conn.exec_driver_sql("SELECT count(*) FROM metric_blocks").scalar() == len(blocks)
        series = read_series(conn, [1])[1]
    assert series["loss"]["x"] == [0, 1, 2, 3] and series["loss"]["y"] == [0.0, 0.1, 0.2, 0.30000000000000004]
    for key, name in (("loss@step", "loss"), ("acc", "acc")):
        got = {(name, x): (y, t) for x, y, t in zip(series[key]["x"], series[key]["y"], series[key]["t"])}
        assert got == {k: (f32(v), f32(t)) for k, (v, t) in steps.items() if k[0] == name}

    command.downgrade(alembic_config(empty_database), "0006")
    with engine.connect() as conn:
        back = conn.exec_driver_sql("SELECT name, x, value, t FROM metric_points WHERE axis = 'step'").all()
    assert {(n, x): (v, t) for n, x, v, t in back} == {k: (f32(v), f32(t)) for k, (v, t) in steps.items()}
    engine.dispose()


def test_epoch_points_move_into_series_rows_and_back(empty_database):
    """Epoch points in the row-per-point layout of 0007 survive 0009 exactly (None, NaN and infinities too) and its downgrade."""
    import math

    from alembic import command

    from backend.metrics.service import read_series
    from backend.migrate import alembic_config, sqlite_path

    if empty_database.startswith("sqlite"):
        sqlite_path(empty_database).parent.mkdir(parents=True)
    command.upgrade(alembic_config(empty_database), "0007")
    engine = sa.create_engine(empty_database)
    postgres = empty_database.startswith("postgresql")
    points = {(1, "loss", x): (1 / (x + 3), x * 1.5) for x in range(50)}
    points |= {(1, "val_loss", x): (None if x == 2 else 0.1 + x, None) for x in (4, 0, 2)}
    points |= {(2, "loss", 7): (1e308, 0.25), (2, "acc", 0): (math.inf, None), (2, "acc", 1): (-math.inf, 1.0)}
    if postgres:  # SQLite stores a NaN REAL as NULL: only PostgreSQL held NaN in metric_points.
        points[(2, "acc", 2)] = (math.nan, 2.0)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO experiments (name, description, tags, base, grid) VALUES ('e', '', '[]', '{}', '{}')")
        for _ in range(2):
            conn.exec_driver_sql("INSERT INTO runs (experiment_id, name, spec, state, epoch, epochs, summary) VALUES (1, 'r', '{}', 'queued', 0, 0, '{}')")
        rows = [{"r": r, "name": n, "x": x, "value": v, "t": t} for (r, n, x), (v, t) in points.items()]
        conn.execute(sa.text("INSERT INTO metric_points (run_id, name, axis, x, value, t) VALUES (:r, :name, 'epoch', :x, :value, :t)"), rows)

    command.upgrade(alembic_config(empty_database), "head")

    def same(a, b):
        return a is b if a is None or b is None else (a != a and b != b) or a == b

    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("metric_points")
        assert conn.exec_driver_sql("SELECT count(*) FROM metric_series").scalar() == 4
        series = read_series(conn, [1, 2])
    got = {(r, n, x): (y, t) for r, by_name in series.items() for n, d in by_name.items()
           for x, y, t in zip(d["x"], d["y"], d["t"], strict=True)}  # fmt: skip
    assert got.keys() == points.keys()
    assert all(same(got[k][0], v) and same(got[k][1], t) for k, (v, t) in points.items()), got
    assert series[1]["val_loss"]["x"] == [0, 2, 4]

    command.downgrade(alembic_config(empty_database), "0007")
    with engine.connect() as conn:
        back = conn.exec_driver_sql("SELECT run_id, name, x, value, t FROM metric_points WHERE axis = 'epoch'").all()
        assert not sa.inspect(conn).has_table("metric_series")
    back = {(r, n, x): (v, t) for r, n, x, v, t in back}
    assert back.keys() == points.keys()
    assert all(same(back[k][0], v) and same(back[k][1], t) for k, (v, t) in points.items()), back
    engine.dispose()
