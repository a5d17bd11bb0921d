"""A database that cannot be reached is a 503 with Retry-After (problem+json, or a Spanish page for a browser),
never a 500; readiness names it without a login (issue #13 item 4). The real-process version, with PostgreSQL
stopped and restarted under a running server, is tests/faults/test_api_outage.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from api.main import create_app
from api.security import create_access_token
from storage.repositories import Storage
from tests.api.conftest import PROFILE, make_settings
from tests.conftest import TEST_FERNET_KEY, TEST_PSEUDONYM_KEY

pytestmark = pytest.mark.asyncio

UNREACHABLE = "postgresql+psycopg://asesor:asesor@127.0.0.1:1/asesor"  # nothing listens on port 1


@pytest.fixture
async def down(tmp_path: Path) -> Any:
    # a server database needs the personal-data key, or create_app refuses to start (issue #13 item 1)
    settings = make_settings(UNREACHABLE, tmp_path, ASESOR_FERNET_KEY=TEST_FERNET_KEY)
    storage = Storage(UNREACHABLE, pseudonym_key=TEST_PSEUDONYM_KEY, fernet_keys=TEST_FERNET_KEY, data_dir=tmp_path)
    app = create_app(settings, storage=storage)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, settings
    storage.dispose()


async def test_requests_needing_the_database_get_503_with_retry_after(down: Any) -> None:
    client, settings = down
    token = create_access_token(settings, subject="1", role="analyst")
    r = await client.post("/v1/assessments", json=PROFILE, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert int(r.headers["retry-after"]) > 0
    body = r.json()
    assert body["type"] == "urn:asesor:unavailable:database" and "base de datos" in body["detail"]
    r = await client.post("/v1/auth/token", data={"username": "ana", "password": "una-contraseña-123"})
    assert r.status_code == 503 and "retry-after" in r.headers


async def test_readiness_is_public_and_names_the_database(down: Any) -> None:
    client, _ = down
    r = await client.get("/readyz")
    assert r.status_code == 503 and int(r.headers["retry-after"]) > 0
    checks = r.json()["checks"]
    assert checks["database"] == {
        "ok": False,
        "detail": "base de datos inaccesible: OperationalError",
        "latency_ms": None,
    }
    assert "127.0.0.1" not in r.text and "asesor:asesor" not in r.text


async def test_a_browser_gets_a_spanish_page(down: Any) -> None:
    client, _ = down
    r = await client.post("/login", data={"username": "ana", "password": "x"}, headers={"accept": "text/html"})
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/html")
    assert "Servicio no disponible por un momento" in r.text and "retry-after" in r.headers
