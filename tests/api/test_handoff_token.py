"""Handoff tokens: round trip, expiry, tampering, wrong key."""

from __future__ import annotations

import pytest
import time_machine
from pydantic import SecretStr

from core.config import Settings
from core.handoff import (
    HandoffTokenExpired,
    HandoffTokenInvalid,
    handoff_url,
    make_handoff_token,
    verify_handoff_token,
)


def _settings(key: str = "k1") -> Settings:
    return Settings(
        ASESOR_HANDOFF_SECRET=SecretStr(key), API_PUBLIC_URL="https://asesor.example/", HANDOFF_TTL_SECONDS=60
    )


def test_round_trip_carries_ids_and_distinct_nonces() -> None:
    s = _settings()
    t1 = make_handoff_token("user-abc", 42, settings=s)
    t2 = make_handoff_token("user-abc", 42, settings=s)
    assert t1 != t2
    c1, c2 = verify_handoff_token(t1, settings=s), verify_handoff_token(t2, settings=s)
    assert (c1.applicant_key, c1.assessment_id, c1.channel) == ("user-abc", "42", "telegram")
    assert c1.idempotency_key != c2.idempotency_key
    # the key is stable for one token and does not leak the ids
    assert c1.idempotency_key == verify_handoff_token(t1, settings=s).idempotency_key
    assert "user-abc" not in c1.idempotency_key


def test_expired_token_raises_expired() -> None:
    """HANDOFF_TTL_SECONDS=60 on a controlled clock: valid up to the TTL, expired after it."""
    s = _settings()
    with time_machine.travel("2026-11-24 12:00:00+00:00", tick=False) as clock:
        token = make_handoff_token("u", "a1", settings=s)
        clock.shift(59)
        assert verify_handoff_token(token, settings=s).assessment_id == "a1"
        clock.shift(2)
        with pytest.raises(HandoffTokenExpired):
            verify_handoff_token(token, settings=s)
        assert verify_handoff_token(token, max_age_seconds=120, settings=s).assessment_id == "a1"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: "x" + t,
        lambda t: t.split(".")[0],
        lambda t: "garbage",
    ],
)
def test_tampered_token_raises_invalid(mutate) -> None:
    s = _settings()
    token = make_handoff_token("u", "a1", settings=s)
    with pytest.raises(HandoffTokenInvalid):
        verify_handoff_token(mutate(token), settings=s)


def test_other_key_is_invalid_not_expired() -> None:
    token = make_handoff_token("u", "a1", settings=_settings("k1"))
    with pytest.raises(HandoffTokenInvalid):
        verify_handoff_token(token, settings=_settings("k2"))


def test_url_uses_public_base() -> None:
    s = _settings()
    url = handoff_url("u", 7, settings=s)
    assert url.startswith("https://asesor.example/solicitud/")
    assert verify_handoff_token(url.rsplit("/", 1)[1], settings=s).assessment_id == "7"
