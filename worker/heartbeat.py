"""A thread that keeps a running run's ``heartbeat_at`` fresh.

The per-epoch write touches the heartbeat too; this thread covers long
epochs, data loading and evaluation, so the API's reaper (runs whose
heartbeat is older than HEARTBEAT_TIMEOUT_S) only ever reaps dead workers.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from backend.settings import get_settings
from worker import runs

log = logging.getLogger(__name__)


class Heartbeat:
    """``on_lost`` is called once the run is no longer this attempt's (e.g. to stop training)."""

    def __init__(
        self,
        run_id: int,
        interval_s: float | None = None,
        attempt: int | None = None,
        on_lost: Callable[[], None] | None = None,
    ):
        self.run_id = run_id
        self.attempt = attempt
        self.on_lost = on_lost
        # A few beats per timeout, so one slow database write never looks like death.
        self.interval_s = interval_s or min(10.0, get_settings().HEARTBEAT_TIMEOUT_S / 4)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run_id}", daemon=True)

    def start(self) -> "Heartbeat":
        self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                if not runs.heartbeat(self.run_id, self.attempt):
                    if self.on_lost is not None and not self._stop.is_set():
                        log.warning("run %s: no longer attempt %s's to train; stopping it", self.run_id, self.attempt)
                        self.on_lost()
                    return  # no longer running: nothing to keep alive
            except Exception as error:  # a database hiccup must not kill the thread
                log.warning("run %s: heartbeat failed: %s", self.run_id, error)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
