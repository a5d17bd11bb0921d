"""Passwords (argon2id via pwdlib) and JWT access tokens (pyjwt, HS256, short-lived)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt
from pwdlib import PasswordHash

from core.config import Settings

JWT_ALGORITHM = "HS256"
JWT_AUDIENCE = "asesor-api"

_password_hash = PasswordHash.recommended()  # argon2id with the library's current parameters


class Role(StrEnum):
    advisor = "advisor"
    analyst = "analyst"
    admin = "admin"


def hash_password(password: str) -> str:
    return _password_hash.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _password_hash.verify(password, password_hash)
    except Exception:  # an unknown or corrupt hash is a failed login, not a 500
        return False


# a valid hash to verify against when the user does not exist, so timing does not reveal usernames
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def burn_password_check(password: str) -> None:
    verify_password(password, _DUMMY_HASH)


def create_access_token(
    settings: Settings, *, subject: str, role: str, version: int = 0, now: datetime | None = None
) -> str:
    """A JWT signed with the current ASESOR_JWT_SECRET. `version` is the user's token version: logout and a
    password change bump it in the database, which revokes every token issued before (api/deps.py)."""
    now = now or datetime.now(UTC)
    payload: dict[str, Any] = {
        "sub": subject,
        "role": role,
        "ver": version,
        "aud": JWT_AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=settings.jwt_expire_minutes)).timestamp()),
    }
    return jwt.encode(payload, _jwt_key(settings.signing_keys("jwt")[0]), algorithm=JWT_ALGORITHM)


class TokenError(Exception):
    pass


def decode_access_token(settings: Settings, token: str) -> dict[str, Any]:
    """Claims of a valid token, checked against the current key and, during a rotation, the previous one."""
    keys = settings.signing_keys("jwt")
    for i, secret in enumerate(keys):
        try:
            return jwt.decode(
                token,
                _jwt_key(secret),
                algorithms=[JWT_ALGORITHM],
                audience=JWT_AUDIENCE,
                options={"require": ["exp", "sub", "role"]},
            )
        except jwt.InvalidSignatureError as exc:
            if i == len(keys) - 1:
                raise TokenError("El token de acceso no es válido.") from exc
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("La sesión expiró; inicia sesión de nuevo.") from exc
        except jwt.PyJWTError as exc:
            raise TokenError("El token de acceso no es válido.") from exc
    raise TokenError("El token de acceso no es válido.")  # pragma: no cover - keys is never empty


def _jwt_key(secret: str) -> str:
    # ASESOR_JWT_SECRET is used for nothing else; the labelled hash only gives HS256 a 256-bit key whatever
    # the secret's length (a short development value included)
    return hashlib.sha256(f"jwt:{secret}".encode()).hexdigest()
