"""A thread that keeps a running run's ``heartbeat_at`` fresh.

The per-epoch write touches the heartbeat too; this thread covers long
epochs, data loading and evaluation, so the API's reaper (runs whose
heartbeat is older than HEARTBEAT_TIMEOUT_S) only ever reaps dead workers.
"""

from __future__ import annotations

import logging
import threading

from backend.settings import get_settings
from worker import runs

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, run_id: int, interval_s: float | None = None):
        self.run_id = run_id
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
                if not runs.heartbeat(self.run_id):
                    return  # no longer running: nothing to keep alive
            except Exception as error:  # a database hiccup must not kill the thread
                log.warning("run %s: heartbeat failed: %s", self.run_id, error)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
