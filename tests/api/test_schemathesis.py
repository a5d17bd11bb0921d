"""Property-based run of the OpenAPI schema (schemathesis): no 5xx, responses conform to the schema.

Bounded: a fixed number of examples per operation, derandomized, so it takes seconds and is reproducible.
Runs as an admin (who passes every role check) against SQLite with real data in it.
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


@pytest.fixture(scope="module")
def st_env(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from storage.db import migrate
    from tests.conftest import TEST_FERNET_KEY, TEST_PSEUDONYM_KEY

    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    url = f"sqlite:///{tmp / 'st.sqlite3'}"
    migrate(url)
    storage = Storage(url, pseudonym_key=TEST_PSEUDONYM_KEY, fernet_keys=TEST_FERNET_KEY, data_dir=tmp)
    settings = make_settings(url, tmp)
    admin = storage.create_user("admin", password_hash="x", role="admin")
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
    token = create_access_token(settings, subject=str(admin.id), role=Role.admin.value)
    yield app, token
    storage.dispose()


def _operations(app: Any) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ops = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            pytest.fail(f"invalid operation in the schema: {result.err()}")
        ops.append(result.ok())
    return ops


def test_openapi_contract(st_env: Any) -> None:
    """Every operation, MAX_EXAMPLES generated cases each (positive and negative), as an admin."""
    app, token = st_env
    headers = {"Authorization": f"Bearer {token}"}
    operations = _operations(app)
    assert len(operations) >= 25  # the whole API is in the schema
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
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
