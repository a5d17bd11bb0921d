"""Users of the API (advisors, analysts, admins): validation, argon2 hashing and password login.

Rows live in storage (`Storage.create_user` etc.); this module adds what belongs to auth.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from api.login_backoff import LoginBackoff
from api.security import Role, burn_password_check, hash_password, verify_password
from storage.models import User
from storage.repositories import Conflict, Storage

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MIN_PASSWORD_LEN = 10


class UserError(ValueError):
    def __init__(self, field: str, message: str, *, conflict: bool = False) -> None:
        super().__init__(message)
        self.field, self.conflict = field, conflict


def create_user(
    storage: Storage,
    *,
    username: str,
    password: str,
    role: Role | str,
    display_name: str | None = None,
    email: str | None = None,
) -> User:
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise UserError("username", "Usa de 3 a 64 caracteres: minúsculas, dígitos, punto, guion o guion bajo.")
    if len(password) < MIN_PASSWORD_LEN:
        raise UserError("password", f"La contraseña debe tener al menos {MIN_PASSWORD_LEN} caracteres.")
    try:
        role = Role(role)
    except ValueError:
        raise UserError("role", f"Rol desconocido; usa uno de: {', '.join(r.value for r in Role)}.") from None
    try:
        return storage.create_user(
            username, password_hash=hash_password(password), role=role.value, email=email, display_name=display_name
        )
    except Conflict:
        raise UserError("username", "Ese usuario (o su correo) ya existe.", conflict=True) from None


class LoginLocked(Exception):
    """Too many failed logins of this username: wait `retry_after` seconds (api/login_backoff.py)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after

    @property
    def message(self) -> str:
        return (
            "Demasiados intentos fallidos con esta cuenta; por seguridad espera "
            f"{_duration(self.retry_after)} antes de intentarlo de nuevo."
        )


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} segundos" if seconds != 1 else "1 segundo"
    return f"{math.ceil(seconds / 60)} minutos"


def login(storage: Storage, backoff: LoginBackoff, username: str, password: str) -> User | None:
    """A password login under the per-account back-off: the user, None (wrong username or password, the
    same answer either way), or LoginLocked while the account waits (the password is not even checked)."""
    retry_after = backoff.wait(username)
    if retry_after:
        raise LoginLocked(retry_after)
    user = authenticate(storage, username, password)
    if user is None:
        retry_after = backoff.failed(username)
        if retry_after:
            raise LoginLocked(retry_after)
        return None
    backoff.succeeded(username)
    return user


def change_password(storage: Storage, user_id: int, new_password: str) -> int:
    """Set a new password and revoke every token issued before it; returns the new token version."""
    if len(new_password) < MIN_PASSWORD_LEN:
        raise UserError("new_password", f"La contraseña debe tener al menos {MIN_PASSWORD_LEN} caracteres.")
    return storage.revoke_tokens(user_id, password_hash=hash_password(new_password))


def authenticate(storage: Storage, username: str, password: str) -> User | None:
    user = storage.get_user_by_username(username.strip().lower())
    if user is None:
        burn_password_check(password)  # same cost as a real check: no username oracle by timing
        return None
    if not user.is_active or not verify_password(password, user.password_hash):
        return None
    return storage.update_user(user.id, last_login_at=datetime.now(UTC))
