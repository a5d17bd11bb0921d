"""Users of the API (advisors, analysts, admins): validation, argon2 hashing and password login.

Rows live in storage (`Storage.create_user` etc.); this module adds what belongs to auth.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

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


def authenticate(storage: Storage, username: str, password: str) -> User | None:
    user = storage.get_user_by_username(username.strip().lower())
    if user is None:
        burn_password_check(password)  # same cost as a real check: no username oracle by timing
        return None
    if not user.is_active or not verify_password(password, user.password_hash):
        return None
    return storage.update_user(user.id, last_login_at=datetime.now(UTC))
