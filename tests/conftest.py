"""Shared database fixtures (owned by storage, issue #4). Other areas add fixtures in their own subfolders.

- `db_url`: parametrised over SQLite and PostgreSQL; the schema comes from the Alembic migrations and every
  test starts from empty tables.
    * SQLite: a fresh file per test (a copy of one migrated template, so it costs a file copy).
    * PostgreSQL: one database per test session (`asesor_t_<pid>_<hex>` on TEST_DATABASE_URL's server,
      created and migrated here, dropped at the end), emptied with TRUNCATE before each test. Helpers
      running test sessions at the same time therefore never share a database.
- `sqlite_url`, `pg_url`: one backend only. `storage`: a `Storage` facade on `db_url` with test keys.

TEST_DATABASE_URL (default postgresql+psycopg://asesor:asesor@127.0.0.1:5432/asesor_test) names the server
and the role (which must be allowed to CREATE DATABASE); scripts/test.sh starts that server.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from storage.db import make_engine, migrate, normalize_url

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://asesor:asesor@127.0.0.1:5432/asesor_test")
TEST_PSEUDONYM_KEY = "test-pseudonym-key"
TEST_FERNET_KEY = Fernet.generate_key().decode()

# every table of the schema, children first (TRUNCATE … CASCADE handles the rest)
_TABLES = (
    "case_messages, escalation_notes, escalations, financing_requests, bank_profiles, applicants, events, assessments, "
    "loan_outcomes, etl_loads, policy_runs, users, funnel_progress, funnel_step_seconds, funnel_step_histogram"
)


def _admin_url(url: str) -> str:
    return make_url(normalize_url(url)).set(database="postgres").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A migrated PostgreSQL database private to this test session."""
    base = make_url(normalize_url(TEST_DATABASE_URL))
    name = f"asesor_t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(_admin_url(TEST_DATABASE_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the server the test command starts is a prerequisite, not optional
        admin.dispose()
        pytest.fail(f"PostgreSQL at {base.render_as_string()} is not usable ({exc}); run scripts/services.sh")
    url = base.set(database=name).render_as_string(hide_password=False)
    migrate(url)
    yield url
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"
            ),
            {"d": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def _pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "asesor.sqlite3"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def clean_pg_url(pg_url: str, _pg_engine: Engine) -> str:
    with _pg_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE"))
    return pg_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("clean_pg_url")


@pytest.fixture
def storage(db_url: str, tmp_path: Path) -> Iterator[object]:
    from storage.repositories import Storage

    st = Storage(db_url, pseudonym_key=TEST_PSEUDONYM_KEY, fernet_keys=TEST_FERNET_KEY, data_dir=tmp_path)
    yield st
    st.dispose()
