"""core.log_throttle: one line per key and interval, and the next line counts what was suppressed."""

from __future__ import annotations

import logging

import pytest

from core.log_throttle import LogThrottle


def test_repeated_lines_are_counted_not_written(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    throttle = LogThrottle(interval=10.0, clock=lambda: now[0])
    log = logging.getLogger("test.throttle")
    with caplog.at_level(logging.WARNING, logger="test.throttle"):
        for _ in range(1000):
            throttle.log(log, logging.WARNING, "database", "database unavailable on %s", "/v1/x")
            now[0] += 0.01  # 1000 lines in 10 s
        throttle.log(log, logging.WARNING, "redis", "redis unavailable")  # another key is not held back
        now[0] += 0.1
        throttle.log(log, logging.WARNING, "database", "database unavailable on %s", "/v1/x")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "database unavailable on /v1/x",
        "redis unavailable",
        "database unavailable on /v1/x (999 similar lines suppressed in the last 10 s)",
    ]
    assert throttle.suppressed("database") == 0
