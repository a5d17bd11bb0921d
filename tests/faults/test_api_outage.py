"""`asesor api serve` (a real process) while its PostgreSQL is stopped and restarted and its Redis killed and
restarted (issue #13 item 4).

Before: each request during a database outage was a generic 500 without Retry-After, written as a traceback with
the SQL (32 MB of log in 20 s), and the server closed the keep-alive connection after each one (108 other
requests failed with resets); /readyz was a 500 (it needed a login, which needs the database). Now: 503
problem+json with Retry-After naming the dependency, on the same connection, a few log lines for the whole
outage, /readyz public and 503 naming the dependency, and the next request after the restart is served
without restarting the API.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from tests.processes import ApiProcess, ConnectionDropped, KeepAlive, create_staff, service_env
from tests.samples import sample_profile

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]

OUTAGE_REQUESTS = 60
T = TypeVar("T")


def _until(check: Callable[[], T], timeout: float = 30.0, step: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def test_database_and_redis_outages_answer_503_on_the_same_connection(
    private_pg, private_redis, fault_db: str, tmp_path: Path
) -> None:
    create_staff(fault_db, "probador", "analyst", tmp_path)
    api = ApiProcess(service_env(fault_db, private_redis.url, tmp_path), tmp_path / "api.log")
    api.start()
    profile = sample_profile()
    try:
        with KeepAlive(api.port) as http:
            auth = http.login("probador")
            assert http.request("POST", "/v1/assessments", profile, auth).status == 201
            ready = http.request("GET", "/readyz")  # public: no token
            assert ready.status == 200 and ready.json()["status"] == "ok"
            lines_before = len(api.log_lines())

            # ---- PostgreSQL stopped (immediate: like a crash)
            private_pg.stop()
            statuses = []
            for _ in range(OUTAGE_REQUESTS):  # on one keep-alive connection: a drop raises ConnectionDropped
                r = http.request("POST", "/v1/assessments", profile, auth)
                statuses.append(r.status)
                if r.status == 503:
                    assert r.headers["content-type"].startswith("application/problem+json")
                    assert int(r.headers["retry-after"]) > 0
                    assert r.json()["type"] == "urn:asesor:unavailable:database"
            assert set(statuses) == {503}, statuses
            ready = http.request("GET", "/readyz")
            assert ready.status == 503 and int(ready.headers["retry-after"]) > 0
            checks = ready.json()["checks"]
            assert checks["database"]["ok"] is False and checks["redis"]["ok"] is True
            assert "127.0.0.1" not in ready.body.decode() and "postgres" not in ready.body.decode()  # reveals nothing
            outage_lines = api.log_lines()[lines_before:]
            assert len(outage_lines) <= 5, outage_lines  # not a traceback per request

            # ---- PostgreSQL back: served again without restarting the API
            private_pg.start()
            served = _until(lambda: (a := http.request("POST", "/v1/assessments", profile, auth)).status == 201 and a)
            assert served and served.status == 201
            assert http.request("GET", "/readyz").status == 200

            # ---- Redis killed: readiness names it; assessments do not need it
            private_redis.kill()
            ready = http.request("GET", "/readyz")
            assert ready.status == 503 and ready.json()["checks"]["redis"]["ok"] is False
            assert ready.json()["checks"]["database"]["ok"] is True
            assert http.request("POST", "/v1/assessments", profile, auth).status == 201
            private_redis.start()
            assert _until(lambda: http.request("GET", "/readyz").status == 200)
            print(
                f"\napi outage: {OUTAGE_REQUESTS} requests during the database outage, all 503 on one connection "
                f"({http.requests} requests on it in all); {len(outage_lines)} log lines for the outage"
            )
    except ConnectionDropped as exc:
        pytest.fail(f"{exc}\n" + "\n".join(api.log_lines()[-40:]))
    finally:
        api.stop()
