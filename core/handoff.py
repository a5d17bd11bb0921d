"""Signed, expiring handoff tokens: the bot's link from a result card to the web financing request.

The token carries only opaque ids (the pseudonymous applicant key and the stored assessment id), never
personal data, and is signed with ASESOR_HANDOFF_SECRET (itsdangerous, salt "handoff"), a key used for nothing
else, so nobody can forge or edit one. During a rotation ASESOR_HANDOFF_SECRET_PREVIOUS still verifies the links
already sent (itsdangerous signs with the last key of its list and accepts any).
Expiry is checked here; single use is enforced by the API when the form is submitted (the financing request
is stored under an idempotency key derived from the token's nonce, see `HandoffClaims.idempotency_key`).

The bot builds `{API_PUBLIC_URL}/solicitud/{token}` with `handoff_url(...)`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from itsdangerous import BadSignature, BadTimeSignature, SignatureExpired, URLSafeTimedSerializer

from core.config import Settings, get_settings

SALT = "handoff"
# bump when the payload's shape changes; old tokens then read as invalid, not mis-parsed
TOKEN_VERSION = 1


class HandoffTokenError(Exception):
    """Base class: the token cannot be used. `reason` is a stable code for pages, logs and metrics."""

    reason = "invalid"


class HandoffTokenExpired(HandoffTokenError):
    reason = "expired"


class HandoffTokenInvalid(HandoffTokenError):
    """Tampered, truncated, signed with another key, or not a handoff token at all."""

    reason = "invalid"


@dataclass(frozen=True, slots=True)
class HandoffClaims:
    applicant_key: str
    assessment_id: str
    nonce: str
    issued_at: datetime
    channel: str | None = None

    @property
    def idempotency_key(self) -> str:
        """One financing request per token: a stable key that reveals neither the token nor its ids."""
        digest = hashlib.sha256(f"handoff:{self.nonce}:{self.assessment_id}".encode()).hexdigest()
        return f"handoff-{digest[:40]}"


def _serializer(settings: Settings | None = None) -> URLSafeTimedSerializer:
    settings = settings or get_settings()
    # itsdangerous signs with the *last* key and verifies with any: oldest first
    return URLSafeTimedSerializer(list(reversed(settings.signing_keys("handoff"))), salt=SALT)


def make_handoff_token(
    applicant_key: str,
    assessment_id: str | int,
    *,
    channel: str | None = "telegram",
    nonce: str | None = None,
    settings: Settings | None = None,
) -> str:
    """A URL-safe token for one applicant's assessment. A fresh nonce makes each link distinct."""
    if not applicant_key:
        raise ValueError("applicant_key is required")
    if assessment_id is None or str(assessment_id) == "":
        raise ValueError("assessment_id is required")
    payload: dict[str, object] = {
        "v": TOKEN_VERSION,
        "a": applicant_key,
        "s": str(assessment_id),
        "n": nonce or secrets.token_urlsafe(12),
    }
    if channel:
        payload["c"] = channel
    return _serializer(settings).dumps(payload)


def verify_handoff_token(
    token: str, max_age_seconds: int | None = None, *, settings: Settings | None = None
) -> HandoffClaims:
    """Claims of a valid token. Raises HandoffTokenExpired or HandoffTokenInvalid (never anything else)."""
    settings = settings or get_settings()
    max_age = settings.handoff_ttl_seconds if max_age_seconds is None else max_age_seconds
    try:
        payload, signed_at = _serializer(settings).loads(token, max_age=max_age, return_timestamp=True)
    except SignatureExpired as exc:
        raise HandoffTokenExpired("handoff token expired") from exc
    except (BadTimeSignature, BadSignature) as exc:
        raise HandoffTokenInvalid("handoff token signature does not match") from exc
    except Exception as exc:  # malformed base64/JSON inside a validly shaped string
        raise HandoffTokenInvalid("handoff token is malformed") from exc
    if not isinstance(payload, dict) or payload.get("v") != TOKEN_VERSION:
        raise HandoffTokenInvalid("handoff token has an unknown format")
    try:
        applicant_key, assessment_id, nonce = str(payload["a"]), str(payload["s"]), str(payload["n"])
    except KeyError as exc:
        raise HandoffTokenInvalid("handoff token lacks a claim") from exc
    issued_at = signed_at if signed_at.tzinfo else signed_at.replace(tzinfo=UTC)
    channel = payload.get("c")
    return HandoffClaims(
        applicant_key=applicant_key,
        assessment_id=assessment_id,
        nonce=nonce,
        issued_at=issued_at.astimezone(UTC),
        channel=str(channel) if channel else None,
    )


def handoff_url(
    applicant_key: str, assessment_id: str | int, *, settings: Settings | None = None, **kwargs: Any
) -> str:
    """The link the bot sends: `{API_PUBLIC_URL}/solicitud/{token}`."""
    settings = settings or get_settings()
    token = make_handoff_token(applicant_key, assessment_id, settings=settings, **kwargs)
    return f"{settings.api_public_url.rstrip('/')}/solicitud/{token}"
