"""`asesor api serve --workers 2` with PROMETHEUS_MULTIPROC_DIR (what docker-compose.yml runs): /metrics adds up
both workers, whichever one serves the scrape. Without the directory each worker counts only its own requests."""

from __future__ import annotations

import time
from pathlib import Path

from storage.db import migrate
from tests.processes import ApiProcess, KeepAlive, create_staff, service_env

REQUESTS = 60
BOTH_WORKERS_WITHIN_S = 120.0
HEALTHZ_SERIES = 'asesor_http_requests_total{method="GET",route="/healthz",status="200"}'


def _workers_counting(multiproc: Path) -> set[str]:
    """The worker processes that have written a counter (prometheus_client's counter_<pid>.db)."""
    return {p.name.split("_")[-1] for p in multiproc.glob("counter_*.db")}


def test_metrics_add_up_every_worker(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'asesor.sqlite3'}"
    migrate(url)
    create_staff(url, "metricas", "admin", tmp_path)
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    env = service_env(url, "", tmp_path, PROMETHEUS_MULTIPROC_DIR=str(multiproc))
    api = ApiProcess(env, tmp_path / "api.log", workers=2)
    api.start()
    try:
        with KeepAlive(api.port) as probe:
            before = probe.request("GET", "/healthz").status
        # a new connection each: the kernel hands it to whichever worker accepts first, so on a loaded machine
        # one worker can take a long run of them; go on (bounded) until both have served and counted
        sent, until = 0, time.monotonic() + BOTH_WORKERS_WITHIN_S
        while sent < REQUESTS or (len(_workers_counting(multiproc)) < 2 and time.monotonic() < until):
            with KeepAlive(api.port) as http:
                assert http.request("GET", "/healthz").status == 200
            sent += 1
        with KeepAlive(api.port) as http:
            auth = http.login("metricas")
            counts = set()
            for _ in range(4):  # several scrapes, served by either worker: the same total every time
                with KeepAlive(api.port) as scrape:
                    text = scrape.request("GET", "/metrics", headers=auth).body.decode()
                line = next(
                    ln
                    for ln in text.splitlines()
                    if ln.startswith('asesor_http_requests_total{method="GET",route="/healthz"')
                )
                counts.add(float(line.rsplit(" ", 1)[1]))
    finally:
        api.stop()
    assert before == 200
    workers_seen = _workers_counting(multiproc)
    assert len(workers_seen) >= 2, workers_seen  # both workers served and wrote their counters
    # ours plus the start-up probe that answered 200 and the one before the loop
    assert counts == {float(sent + 2)}, counts
