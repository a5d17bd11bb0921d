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


def create_access_token(settings: Settings, *, subject: str, role: str, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    payload: dict[str, Any] = {
        "sub": subject,
        "role": role,
        "aud": JWT_AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=settings.jwt_expire_minutes)).timestamp()),
    }
    return jwt.encode(payload, _jwt_key(settings), algorithm=JWT_ALGORITHM)


class TokenError(Exception):
    pass


def decode_access_token(settings: Settings, token: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(
            token,
            _jwt_key(settings),
            algorithms=[JWT_ALGORITHM],
            audience=JWT_AUDIENCE,
            options={"require": ["exp", "sub", "role"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("La sesión expiró; inicia sesión de nuevo.") from exc
    except jwt.PyJWTError as exc:
        raise TokenError("El token de acceso no es válido.") from exc
    return claims


def _jwt_key(settings: Settings) -> str:
    # a distinct derivation so a JWT can never double as a handoff token (both use ASESOR_SECRET_KEY)
    secret = settings.secret_key.get_secret_value()
    return hashlib.sha256(f"jwt:{secret}".encode()).hexdigest()
