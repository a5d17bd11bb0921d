"""OAuth2 password flow (JWT), logout and password change (both revoke older tokens), user administration.

Logins go through the per-account back-off (api/login_backoff.py) after the per-address limit (LoginLimitDep).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, Response
from pydantic import BaseModel, Field

from api.deps import AdminDep, CurrentUserDep, LoginLimitDep, SettingsDep, StorageDep, forget_user
from api.errors import ApiError, FieldError, problem_responses
from api.security import Role, create_access_token
from api.services import users
from core.config import Settings
from core.text import Text

router = APIRouter(prefix="/v1", tags=["autenticación"])


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Segundos de validez")
    role: Role


class UserOut(BaseModel):
    id: int
    username: str
    role: Role
    display_name: str | None = None
    is_active: bool
    created_at: datetime | None = None


class UserCreate(BaseModel):
    username: Annotated[str, Text(64, min_length=3)]
    password: Annotated[str, Text(256, min_length=10)]
    role: Role
    display_name: Annotated[str, Text(128)] | None = None


class LoginForm(BaseModel):
    """OAuth2 password flow fields (RFC 6749 §4.3), checked like every other text input before any lookup."""

    grant_type: Literal["password"] | None = None
    username: Annotated[str, Text(64, min_length=1)]
    password: Annotated[str, Text(256, min_length=1)]
    scope: Annotated[str, Text(256)] = ""


@router.post(
    "/auth/token",
    response_model=Token,
    summary="Iniciar sesión (OAuth2 password) y obtener un JWT",
    responses=problem_responses(401, 422, 429),
    dependencies=[LoginLimitDep],
)
def login(request: Request, form: Annotated[LoginForm, Form()], storage: StorageDep, settings: SettingsDep) -> Token:
    try:
        user = users.login(storage, request.app.state.login_backoff, form.username, form.password)
    except users.LoginLocked as exc:
        raise ApiError(429, exc.message, headers={"Retry-After": str(exc.retry_after)}) from None
    if user is None:
        raise ApiError(401, "Usuario o contraseña incorrectos.", headers={"WWW-Authenticate": "Bearer"})
    return _token(settings, user.id, user.role, user.token_version)


def _token(settings: Settings, user_id: int, role: str, version: int) -> Token:
    token = create_access_token(settings, subject=str(user_id), role=role, version=version)
    return Token(access_token=token, expires_in=settings.jwt_expire_minutes * 60, role=Role(role))


@router.post(
    "/auth/logout",
    status_code=204,
    summary="Cerrar sesión: revoca todos los tokens de la cuenta emitidos hasta ahora",
    responses=problem_responses(401),
)
def logout(request: Request, user: CurrentUserDep, storage: StorageDep) -> Response:
    storage.revoke_tokens(user.id)
    forget_user(request, user.id)
    return Response(status_code=204)


class PasswordChange(BaseModel):
    current_password: Annotated[str, Text(256, min_length=1)]
    new_password: Annotated[str, Text(256, min_length=10)]


@router.post(
    "/auth/password",
    response_model=Token,
    summary="Cambiar la contraseña propia: revoca los tokens anteriores y devuelve uno nuevo",
    responses=problem_responses(401, 403, 422, 429),
    dependencies=[LoginLimitDep],
)
def change_password(
    request: Request, body: PasswordChange, user: CurrentUserDep, storage: StorageDep, settings: SettingsDep
) -> Token:
    # the current password under the login back-off: a stolen token must not become a password oracle
    try:
        checked = users.login(storage, request.app.state.login_backoff, user.username, body.current_password)
    except users.LoginLocked as exc:
        raise ApiError(429, exc.message, headers={"Retry-After": str(exc.retry_after)}) from None
    if checked is None or checked.id != user.id:
        wrong = "La contraseña actual no es correcta."
        raise ApiError(403, wrong, errors=[FieldError(field="current_password", message=wrong, type="value_error")])
    try:
        version = users.change_password(storage, user.id, body.new_password)
    except users.UserError as exc:
        field_error = FieldError(field=exc.field, message=str(exc), type="value_error")
        raise ApiError(422, str(exc), errors=[field_error]) from None
    forget_user(request, user.id)
    return _token(settings, user.id, user.role.value, version)


@router.get("/auth/me", response_model=UserOut, summary="Usuario de la sesión", responses=problem_responses(401))
def me(user: CurrentUserDep, storage: StorageDep) -> UserOut:
    row = storage.get_user(user.id)
    if row is None:  # deleted between the two reads
        raise ApiError(401, "La cuenta no existe.")
    return UserOut.model_validate(row, from_attributes=True)


@router.get("/users", response_model=list[UserOut], summary="Usuarios (admin)", responses=problem_responses(401, 403))
def list_users(_admin: AdminDep, storage: StorageDep) -> list[UserOut]:
    return [UserOut.model_validate(u, from_attributes=True) for u in storage.list_users()]


@router.post(
    "/users",
    response_model=UserOut,
    status_code=201,
    summary="Crear un usuario (admin)",
    responses=problem_responses(401, 403, 409, 422),
)
def create_user(body: UserCreate, _admin: AdminDep, storage: StorageDep) -> UserOut:
    try:
        user = users.create_user(
            storage, username=body.username, password=body.password, role=body.role, display_name=body.display_name
        )
    except users.UserError as exc:
        status = 409 if exc.conflict else 422
        field_error = FieldError(field=exc.field, message=str(exc), type="value_error")
        raise ApiError(status, str(exc), errors=[field_error]) from None
    return UserOut.model_validate(user, from_attributes=True)
