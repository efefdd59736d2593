"""Failed sign-ins and bad tokens, counted per client address in this process."""

from __future__ import annotations

import math
import time
from collections import deque

WINDOW_S = 60.0
# Bounds memory under a flood from many addresses; the oldest address is forgotten first.
MAX_ADDRESSES = 10_000


class FailureLimiter:
    """At most ``limit`` authentication failures per address in any ``WINDOW_S`` seconds.

    Args:
        limit: failures allowed per window; the next attempt answers 429 until the oldest expires.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._failures.get(address)
        if times is None:
            return deque()
        while times and now - times[0] >= WINDOW_S:
            times.popleft()
        if not times:
            del self._failures[address]
        return times

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None if it may now."""
        now = time.monotonic()
        times = self._recent(address, now)
        if len(times) < self.limit:
            return None
        return max(1, math.ceil(WINDOW_S - (now - times[0])))

    def fail(self, address: str) -> None:
        now = time.monotonic()
        times = self._recent(address, now)
        if not times:
            if len(self._failures) >= MAX_ADDRESSES:
                self._failures.pop(next(iter(self._failures)))
            self._failures[address] = times
        times.append(now)


_limiter: FailureLimiter | None = None


def get_limiter() -> FailureLimiter:
    """The process's limiter (uvicorn's worker processes each keep their own count)."""
    global _limiter
    if _limiter is None:
        from backend.settings import get_settings

        _limiter = FailureLimiter(get_settings().AUTH_FAILURES_PER_MINUTE)
    return _limiter
