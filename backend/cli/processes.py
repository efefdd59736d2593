"""Supervised child processes: start each in its own group, stop the whole group.

Shared by `reglab up` (and its tests), so the supervisor and the test
fixtures start and stop processes the same way.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Callable


def _die_with_parent() -> None:
    """Linux: deliver SIGTERM to the child if the supervisor itself is killed (e.g. SIGKILL)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass
class Child:
    """One supervised process and its log."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self._log = open(self.log_path, "ab")
        self._log.write(f"\n==== {datetime.now().isoformat(timespec='seconds')} {' '.join(self.argv)}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tree_pids(self) -> list[int]:
        """The leader and its descendants (Celery's pool processes), while they run."""
        if not self.alive():
            return []
        try:
            import psutil

            return [self.proc.pid, *(p.pid for p in psutil.Process(self.proc.pid).children(recursive=True))]
        except Exception:  # psutil missing or the process just ended
            return [self.proc.pid]

    def signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, sig: int | None = signal.SIGTERM, grace: float = 10.0, then: int | None = None, then_grace: float = 5.0) -> None:
        """Send ``sig`` (None: already sent) to the leader; escalate to ``then``, finally SIGKILL the whole group."""
        if self.proc is None:
            return
        if self.alive():
            if sig is not None:
                self.proc.send_signal(sig)
            if not self.wait(grace) and then is not None:
                self.proc.send_signal(then)
                self.wait(then_grace)
        # Whatever is left of the group (pool processes, a hung leader) goes now.
        self.signal_group(signal.SIGKILL)
        self.wait(5.0)
        if self._log:
            self._log.close()

    def wait(self, seconds: float) -> bool:
        try:
            self.proc.wait(seconds)
            return True
        except subprocess.TimeoutExpired:
            return False

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_answers(host: str, port: int) -> bool:
    """Whether something accepts TCP connections at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def api_answers(base_url: str) -> bool:
    """Whether the RegLab API at ``base_url`` answers ``GET /api/health`` with 200."""
    import httpx

    try:
        return httpx.get(base_url.rstrip("/") + "/api/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for_api(base_url: str, timeout: float, check: Callable[[], None] | None = None) -> bool:
    """Poll until the API answers; False if ``timeout`` seconds pass first.

    ``check`` runs before each poll and may raise to give up early (e.g. the
    server process exited), with a message better than a timeout's.
    """
    deadline = time.monotonic() + timeout
    while True:
        if check is not None:
            check()
        if api_answers(base_url):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def worker_host_names(pids: list[int]) -> set[str]:
    """The ``worker_host`` values the worker records for processes ``pids`` ("host (pid N)")."""
    host = socket.gethostname()
    return {f"{host} (pid {pid})" for pid in pids}
