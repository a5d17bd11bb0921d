"""Fixtures of the fault suite: private PostgreSQL and Redis (tests/private_services.py) that the tests stop, kill
and restart; the processes under test and the HTTP client are in tests/processes.py."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# the bot tests' fake Bot API server and dialog helpers (as tests/bot/conftest.py puts them on the path)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bot"))

from tests.private_services import PrivatePostgres, PrivateRedis


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    if not PrivatePostgres.available():
        pytest.fail("PostgreSQL 15 binaries are missing: run scripts/services.sh")
    pg = PrivatePostgres()
    pg.start()
    yield pg
    pg.destroy()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fault_db(private_pg: PrivatePostgres) -> str:
    """A migrated database of its own on the private cluster."""
    from storage.db import migrate

    url = private_pg.create_database(f"faults_{uuid.uuid4().hex[:8]}")
    migrate(url)
    return url
