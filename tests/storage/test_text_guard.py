"""The storage guard: text no database stores alike raises `InvalidText`, on SQLite and PostgreSQL alike,
instead of a driver error (PostgreSQL: DataError for NUL; both: UnicodeEncodeError for a lone surrogate)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from storage.db import InvalidText
from storage.models import EscalationNote


@pytest.mark.parametrize("bad", ["nota\x00oculta", "nota \ud800"], ids=["nul", "surrogate"])
def test_text_that_cannot_be_stored_alike_is_refused_with_a_typed_error(storage: Any, bad: str) -> None:
    key = storage.upsert_applicant(telegram_id=31_337).user_key
    esc, _ = storage.create_escalation(key, reason="revisar")
    with pytest.raises(InvalidText) as err:
        storage.add_escalation_note(esc.id, bad)
    assert bad not in str(err.value)  # the value (an advisor's note) never goes into messages or logs
    with pytest.raises(InvalidText):
        storage.create_user("ana" + bad, password_hash="x", role="analyst")
    # nothing was stored, and the storage keeps working afterwards
    storage.add_escalation_note(esc.id, "nota buena")
    with storage.session() as s:
        assert list(s.scalars(select(EscalationNote.body))) == ["nota buena"]


@pytest.mark.postgres
def test_nul_inside_json_is_refused_on_postgresql(clean_pg_url: str) -> None:
    from sqlalchemy import text

    from storage.db import make_engine

    engine = make_engine(clean_pg_url)
    try:
        with pytest.raises(InvalidText), engine.connect() as conn:
            conn.execute(text("SELECT CAST(:v AS JSONB)"), {"v": '{"a": "\\u0000"}'})
    finally:
        engine.dispose()
