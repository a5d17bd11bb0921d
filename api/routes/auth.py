"""OAuth2 password flow (JWT) and user administration (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Form
from pydantic import BaseModel, Field

from api.deps import AdminDep, CurrentUserDep, LoginLimitDep, SettingsDep, StorageDep
from api.errors import ApiError, FieldError, problem_responses
from api.security import Role, create_access_token
from api.services import users
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
    username: Text(64, min_length=3)
    password: Text(256, min_length=10)
    role: Role
    display_name: Text(128) | None = None


class LoginForm(BaseModel):
    """OAuth2 password flow fields (RFC 6749 §4.3), checked like every other text input before any lookup."""

    grant_type: Literal["password"] | None = None
    username: Text(64, min_length=1)
    password: Text(256, min_length=1)
    scope: Text(256) = ""


@router.post(
    "/auth/token",
    response_model=Token,
    summary="Iniciar sesión (OAuth2 password) y obtener un JWT",
    responses=problem_responses(401, 422, 429),
    dependencies=[LoginLimitDep],
)
def login(form: Annotated[LoginForm, Form()], storage: StorageDep, settings: SettingsDep) -> Token:
    user = users.authenticate(storage, form.username, form.password)
    if user is None:
        raise ApiError(401, "Usuario o contraseña incorrectos.", headers={"WWW-Authenticate": "Bearer"})
    token = create_access_token(settings, subject=str(user.id), role=user.role)
    return Token(access_token=token, expires_in=settings.jwt_expire_minutes * 60, role=Role(user.role))


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
