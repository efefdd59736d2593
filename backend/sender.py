"""Sending single runs to the workers after the request was answered, many requests at a time.

A request that queues one run (a clone) hands its id to this process's sender
thread instead of sending it itself. The thread gathers what arrives within
:data:`LINGER_S` and sends it with one :func:`backend.dispatch.dispatch_runs`:
one broker check, one claim, one pipeline of tasks and one announcement for
many requests (bench/clone_runs.py). Nothing is lost if the process dies
first: the run is stored with ``dispatched_at`` NULL, and the dispatcher pass
sends every such run.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable

from backend.dispatch import dispatch_runs

log = logging.getLogger(__name__)

# A clone reaches the broker at most this much later; runs train for minutes.
LINGER_S = 0.05
MAX_BATCH = 500


class Sender:
    """A daemon thread that calls ``send`` with the run ids submitted to it, in batches.

    Args:
        send: called with a list of run ids; its errors are logged (the dispatcher pass retries).
        linger_s: how long a batch waits for more ids after its first (default LINGER_S).

    Example: ``Sender(dispatch_runs).submit([run.id])``
    """

    def __init__(self, send: Callable[[list[int]], object], linger_s: float = LINGER_S) -> None:
        if linger_s < 0:
            raise ValueError(f"linger_s must be ≥ 0, got {linger_s!r}")
        self._send = send
        self._linger_s = linger_s
        self._queue: queue.SimpleQueue[list[int]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._idle = threading.Condition()
        self._unsent = 0

    def submit(self, run_ids: Iterable[int]) -> None:
        """Send these runs soon, from the sender thread."""
        ids = list(run_ids)
        if not ids:
            return
        with self._idle:
            self._unsent += len(ids)
        self._queue.put(ids)
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="reglab-sender", daemon=True)
                    self._thread.start()

    def flush(self, timeout: float) -> bool:
        """Wait until everything submitted so far was handed to ``send``; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unsent == 0, timeout)

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            deadline = time.monotonic() + self._linger_s
            while len(batch) < MAX_BATCH and (left := deadline - time.monotonic()) > 0:
                try:
                    batch += self._queue.get(timeout=left)
                except queue.Empty:
                    break
            try:
                self._send(batch)
            except Exception:  # the runs stay pending: the dispatcher pass sends them
                log.exception("sending runs %s failed; the dispatcher pass retries", batch)
            with self._idle:
                self._unsent -= len(batch)
                self._idle.notify_all()


_sender: Sender | None = None
_sender_lock = threading.Lock()


def send_soon(run_ids: Iterable[int]) -> None:
    """Send these queued runs to the workers from this process's sender thread, after the answer."""
    global _sender
    if _sender is None:
        with _sender_lock:
            if _sender is None:
                _sender = Sender(dispatch_runs)
    _sender.submit(run_ids)


def flush(timeout: float = 2.0) -> bool:
    """Send what this process still holds (at shutdown); True when nothing is left."""
    return _sender is None or _sender.flush(timeout)
