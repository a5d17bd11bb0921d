"""Database errors carry the statement but never its values (issue #13 item 3: a failed insert logged an
advisor's note, a login username, an argon2 hash). Both backends, through storage.db.make_engine."""

from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import insert

from core.redaction import redact
from storage.db import make_engine
from storage.models import User

ARGON2 = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g"


def test_an_integrity_error_names_no_value(db_url: str) -> None:
    engine = make_engine(db_url)
    row = {"username": "usuaria-secreta", "password_hash": ARGON2, "role": "advisor"}
    try:
        with engine.begin() as conn:
            conn.execute(insert(User).values(**row))
        with pytest.raises(sa_exc.IntegrityError) as caught, engine.begin() as conn:
            conn.execute(insert(User).values(**row))  # the same username again
    finally:
        engine.dispose()
    message = str(caught.value)
    assert "INSERT INTO users" in message  # what failed is still said
    assert ARGON2 not in message and "SQL parameters hidden" in message, message
    # PostgreSQL's own DETAIL line quotes the key ("Key (username)=(…) already exists"): the redactor drops it
    assert "usuaria-secreta" not in redact(message)
