"""Repeated log lines at most once per interval and key, so an outage writes a few lines, not one per request.

    OUTAGES = LogThrottle(interval=10.0)
    OUTAGES.log(log, logging.WARNING, "database", "database unavailable on %s: %s", route, type(exc).__name__)

The first line of a key is written at once; the same key within `interval` seconds is counted, not written, and
the next line written for it says how many were suppressed. Keys are a small fixed set (a dependency's name, an
outbox's class), never user input, so the table stays small.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any


class LogThrottle:
    def __init__(self, interval: float = 10.0, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval, self._clock = interval, clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def log(self, logger: logging.Logger, level: int, key: str, msg: str, *args: Any) -> bool:
        """Write the line unless `key` was written less than `interval` ago; True when written."""
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return False
            suppressed = self._suppressed.pop(key, 0)
            self._last[key] = now
        if suppressed:
            msg += " (%d similar lines suppressed in the last %.0f s)"
            args = (*args, suppressed, self.interval)
        logger.log(level, msg, *args)
        return True

    def suppressed(self, key: str) -> int:
        with self._lock:
            return self._suppressed.get(key, 0)
