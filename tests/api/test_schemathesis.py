"""Property-based run of the OpenAPI schema (schemathesis): no 5xx, responses conform to the schema.

Bounded: a fixed number of examples per operation, derandomized, so it takes seconds and is reproducible.
Runs on SQLite and on PostgreSQL (which refuses NUL in text where SQLite stores it: the generated strings hold
NUL and other control characters), each with real data in it, as an admin (who passes every role check) with
MAX_EXAMPLES per operation, and as an advisor, an analyst and without a token with ROLE_EXAMPLES (those runs
mostly meet the role checks; they are there so no role's path to a 5xx goes untried).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.main import create_app
from api.security import Role, create_access_token
from storage.events import EventSink, SpoolOutbox
from storage.repositories import Storage
from tests.api.conftest import make_handoff, make_settings, seed_funnel, shared_assessor

# the policy lab takes a policy file as the body: generated strings go as text (none is a valid policy)
schemathesis.serializer.alias("application/toml", "text/plain")

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# bounded for the suite; a deeper run: ASESOR_SCHEMATHESIS_EXAMPLES=500 pytest tests/api/test_schemathesis.py
MAX_EXAMPLES = int(os.environ.get("ASESOR_SCHEMATHESIS_EXAMPLES", "25"))
ROLE_EXAMPLES = max(1, MAX_EXAMPLES // 3)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def st_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from sqlalchemy import text

    from storage.db import make_engine, migrate
    from tests.conftest import _TABLES, TEST_FERNET_KEY, TEST_PSEUDONYM_KEY

    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'st.sqlite3'}"
        migrate(url)
    else:  # the session's PostgreSQL database (tests/conftest.py), emptied for this module
        url = request.getfixturevalue("pg_url")
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE"))
        engine.dispose()
    storage = Storage(url, pseudonym_key=TEST_PSEUDONYM_KEY, fernet_keys=TEST_FERNET_KEY, data_dir=tmp)
    settings = make_settings(url, tmp)
    users = {role: storage.create_user(role, password_hash="x", role=role) for role in ("admin", "advisor", "analyst")}
    assessor = shared_assessor()
    seed_funnel(storage, assessor)
    make_handoff(storage, settings, assessor, telegram_id=99)
    key = storage.upsert_applicant(telegram_id=98).user_key
    storage.create_escalation(key, reason="revisar")
    app = create_app(
        settings,
        storage=storage,
        event_sink=EventSink(storage.engine, SpoolOutbox(tmp / "outbox", fsync=False)),
        assessor_factory=shared_assessor,
    )
    tokens = {
        role: create_access_token(settings, subject=str(u.id), role=Role(role).value) for role, u in users.items()
    }
    yield app, tokens
    storage.dispose()


def _operations(app: Any) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ops = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            pytest.fail(f"invalid operation in the schema: {result.err()}")
        ops.append(result.ok())
    return ops


@pytest.mark.parametrize("role", ["admin", "advisor", "analyst", "none"])
def test_openapi_contract(st_env: Any, role: str) -> None:
    """Every operation, generated cases (positive and negative) as this role: no 5xx, answers as documented."""
    app, tokens = st_env
    headers = {"Authorization": f"Bearer {tokens[role]}"} if role in tokens else {}
    examples = MAX_EXAMPLES if role == "admin" else ROLE_EXAMPLES
    # logout revokes the token the run uses: last, so it does not turn every later operation into a 401
    operations = sorted(_operations(app), key=lambda op: op.path == "/v1/auth/logout")
    assert len(operations) >= 25  # the whole API is in the schema
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them together
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
