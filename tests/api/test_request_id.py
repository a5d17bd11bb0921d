"""Request ids and the unhandled-error path, over real HTTP (uvicorn on a port, one keep-alive connection):
every answer carries `X-Request-ID` (the client's when it is a plain token, else a new one), every log line of
the request carries it as `request_id`; an exception no handler takes is a 500 problem+json in Spanish with that
id, the connection stays open, and its log line names the route template, never the token in the path
(issue #13 items 3 and 4)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from api.main import create_app
from core.handoff import make_handoff_token
from core.logging import captured
from storage.events import EventSink, SpoolOutbox
from storage.repositories import Storage
from tests.api.conftest import make_settings, shared_assessor
from tests.private_services import free_port
from tests.processes import KeepAlive

log = logging.getLogger("asesor.api.test")


@pytest.fixture
def served(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[int, Any]]:
    from tests.conftest import TEST_FERNET_KEY, TEST_PSEUDONYM_KEY

    storage = Storage(sqlite_url, pseudonym_key=TEST_PSEUDONYM_KEY, fernet_keys=TEST_FERNET_KEY, data_dir=tmp_path)
    settings = make_settings(sqlite_url, tmp_path, ASESOR_API_MAX_BODY_BYTES=1000)
    events = EventSink(storage.engine, SpoolOutbox(tmp_path / "outbox", fsync=False), flush_interval=0.1)
    app: FastAPI = create_app(settings, storage=storage, event_sink=events, assessor_factory=shared_assessor)

    def boom(token: str) -> None:  # a bug in a route whose path carries a credential
        log.info("about to fail")
        raise RuntimeError(f"cannot handle {token}")

    app.add_api_route("/v1/prueba/{token}", boom, methods=["GET"])
    # earlier tests in the process may have turned this logger off: uvicorn's access_log=False (`asesor api
    # serve`) stops its propagation, a logging.config file (alembic's) disables it; this test reads the access
    # line, so it turns it back on
    access = logging.getLogger("uvicorn.access")
    was = (access.propagate, access.disabled, access.level)
    access.propagate, access.disabled = True, False
    access.setLevel(logging.NOTSET)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started:
        assert time.time() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield port, settings
    server.should_exit = True
    thread.join(30)
    access.propagate, access.disabled = was[0], was[1]
    access.setLevel(was[2])
    storage.dispose()


def test_request_ids_and_a_500_that_keeps_the_connection(served: tuple[int, Any]) -> None:
    port, settings = served
    token = make_handoff_token("ak_prueba", "assessment-1", settings=settings)
    with captured("INFO", "json") as lines, KeepAlive(port) as http:
        ok = http.request("GET", "/healthz")
        assert ok.status == 200 and len(ok.headers["x-request-id"]) == 32
        mine = http.request("GET", "/healthz", headers={"X-Request-ID": "cliente-abc-12345"})
        assert mine.headers["x-request-id"] == "cliente-abc-12345"
        odd = http.request("GET", "/healthz", headers={"X-Request-ID": "no vale; <script>"})
        assert odd.headers["x-request-id"] != "no vale; <script>" and len(odd.headers["x-request-id"]) == 32

        failed = http.request("GET", f"/v1/prueba/{token}")
        assert failed.status == 500 and failed.headers["content-type"].startswith("application/problem+json")
        body = failed.json()
        rid = failed.headers["x-request-id"]
        assert body["request_id"] == rid and rid in body["detail"] and "inesperado" in body["detail"]
        assert body["title"] == "Error interno" and "Traceback" not in failed.body.decode()

        # the same connection serves the next request (before: uvicorn closed it after every 500)
        missing = http.request("GET", "/no-existe")
        assert missing.status == 404 and missing.json()["request_id"] == missing.headers["x-request-id"]
        too_big = http.request("POST", "/v1/assessments", {"x": "y" * 2000})
        assert too_big.status == 413 and too_big.json()["request_id"] == too_big.headers["x-request-id"]
        assert http.request("GET", "/healthz").status == 200
    records = [json.loads(line) for line in lines]
    of_the_failure = [r for r in records if r.get("request_id") == rid]
    access = [r for r in of_the_failure if r["logger"] == "uvicorn.access"]  # on here; `api serve` turns it off
    assert len(access) == 1 and "/v1/prueba/<token>" in access[0]["event"], access
    of_the_app = [r for r in of_the_failure if r["logger"] != "uvicorn.access"]
    assert [r["event"] for r in of_the_app] == ["about to fail", "unhandled error on GET /v1/prueba/{token}"]
    error = of_the_app[1]
    assert error["level"] == "error" and "RuntimeError" in error["exception"]
    text = "\n".join(lines)
    assert token not in text and token.split(".")[-1] not in text, text
