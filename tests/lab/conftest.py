"""Fixtures of the policy-lab tests: a book of assessments stored by the real engine, and a changed policy."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from storage.repositories import Storage
from tests.samples import policy_variant, random_profiles

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
BOOK_SIZE = 80


def store_book(storage: Storage, n: int = BOOK_SIZE, seed: int = 5) -> list[dict[str, Any]]:
    """`n` assessments by the shipped policy, one every 5 hours from T0, stored as the bot and API do."""
    from storage.models import Assessment
    from tests.models import get_assessor

    assessor = get_assessor()
    rows = []
    for i, profile in enumerate(random_profiles(n, seed=seed)):
        created = T0 + timedelta(hours=5 * i)
        result = assessor.assess(profile, created.date())
        rows.append(
            Storage.assessment_row(
                result, user_key=hashlib.sha256(f"u{i}".encode()).hexdigest(), request=profile, created_at=created
            )
        )
    with storage.session() as s:
        s.add_all([Assessment(**r) for r in rows])
    return rows


def table_digest(storage: Storage) -> str:
    """A digest of every stored assessment, to prove a replay changed nothing."""
    from sqlalchemy import select

    from storage.models import Assessment

    with storage.read() as s:
        rows = s.execute(select(Assessment).order_by(Assessment.id)).scalars().all()
        blob = [
            {c.name: getattr(r, c.name) for c in Assessment.__table__.columns if c.name not in ("request", "result")}
            | {"request": r.request, "result": r.result}
            for r in rows
        ]
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()


@pytest.fixture
def stricter_policy(tmp_path: Path) -> Path:
    """Rejects terms over 36 months (R7) and doubles the LGD: verdicts and expected loss both move."""
    return policy_variant(
        tmp_path / "stricter.toml",
        {"reject_term_above = 60": "reject_term_above = 36", "lgd = 0.45": "lgd = 0.90"},
        version="2026.12-estricta",
    )
