"""Migration 0009 (issue #13, sessions and one request per assessment) on a database that already holds what
earlier versions stored: several financing requests for one assessment (one per handoff link). The upgrade keeps
every folio, leaves the oldest linked to the assessment and builds the unique index; users get token_version 0."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from storage.db import downgrade, make_engine, migrate
from tests.samples import sample_profile


def test_upgrade_keeps_every_request_and_links_the_oldest(db_url: str, storage: Any) -> None:
    from tests.models import get_assessor

    user = storage.create_user("vieja", password_hash="x", role="advisor")
    key = storage.upsert_applicant(telegram_id=4242).user_key
    result = get_assessor().assess(sample_profile())
    assessment_id = storage.save_assessment(result, user_key=key, request=sample_profile())
    downgrade(db_url, "0008")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            for i in range(3):  # what three links of one assessment stored before
                conn.execute(
                    text(
                        "INSERT INTO financing_requests (folio, idempotency_key, user_key, assessment_id, status, "
                        "details, created_at, updated_at) VALUES (:folio, :key, :user_key, :aid, 'received', '{}', "
                        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {"folio": f"AS-OLD-{i}", "key": f"link-{i}", "user_key": key, "aid": assessment_id},
                )
        migrate(db_url)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT folio, assessment_id FROM financing_requests ORDER BY id")).all()
            version = conn.execute(text("SELECT token_version FROM users WHERE id = :id"), {"id": user.id}).scalar()
    finally:
        engine.dispose()
    assert rows == [("AS-OLD-0", assessment_id), ("AS-OLD-1", None), ("AS-OLD-2", None)]
    assert version == 0
    # and from now on the database itself refuses a second request for the assessment
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"), storage.session() as s:
        s.execute(
            text("UPDATE financing_requests SET assessment_id = :aid WHERE folio = 'AS-OLD-1'"),
            {"aid": assessment_id},
        )
