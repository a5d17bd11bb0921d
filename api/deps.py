"""Annotated dependencies of the routes (the FastAPI full-stack template's `deps.py` idea).

Authentication: `Authorization: Bearer <JWT>` from `POST /v1/auth/token` (OAuth2 password flow). Browser pages
(the dashboard) also accept the same JWT from the HttpOnly `asesor_session` cookie set by `/login`, but only on
safe methods (GET/HEAD), so a cookie can never authorise a state change from another site (no CSRF surface).
The user row behind a token is re-read at most every ASESOR_AUTH_CACHE_SECONDS (default 5 s) per worker, so
a deactivated account or a changed role takes effect within that, without a database read on every call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from starlette.concurrency import run_in_threadpool

from api.errors import ApiError
from api.security import Role, TokenError, decode_access_token
from core.config import Settings
from storage.events import EventSink
from storage.repositories import Storage

SESSION_COOKIE = "asesor_session"

# auto_error=False: we raise our own Spanish problem details (and try the cookie first on pages)
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)


# The trivial dependencies are `async def` on purpose: FastAPI runs a sync dependency in the thread pool, and a
# thread hop per dependency per request is a measurable share of a ~1 ms assessment.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_storage(request: Request) -> Storage:
    return request.app.state.storage


StorageDep = Annotated[Storage, Depends(get_storage)]


async def get_events(request: Request) -> EventSink:
    return request.app.state.events


EventsDep = Annotated[EventSink, Depends(get_events)]


async def get_assessor(request: Request) -> Any:
    holder = request.app.state.get_assessor
    if holder.ready:
        return holder()
    return await run_in_threadpool(holder)  # the first build takes seconds: never on the event loop


AssessorDep = Annotated[Any, Depends(get_assessor)]


@dataclass(frozen=True, slots=True)
class CurrentUser:
    id: int
    username: str
    role: Role

    def has(self, *roles: Role) -> bool:
        return self.role == Role.admin or self.role in roles


_UNAUTHENTICATED = {"WWW-Authenticate": "Bearer"}
_MISS = object()


def _token_from(request: Request, bearer: str | None) -> str | None:
    if bearer:
        return bearer
    if request.method in {"GET", "HEAD"}:
        return request.cookies.get(SESSION_COOKIE)
    return None


def _user_id(request: Request, settings: Settings, bearer: str | None) -> int:
    token = _token_from(request, bearer)
    if not token:
        raise ApiError(401, "Inicia sesión para usar esta ruta (token Bearer).", headers=_UNAUTHENTICATED)
    # a verified token stays valid until its `exp`: remember it instead of re-checking the HMAC per call
    verified: dict[str, tuple[float, int]] = request.app.state.token_cache
    hit = verified.get(token)
    if hit is not None and hit[0] > time.time():
        return hit[1]
    try:
        claims = decode_access_token(settings, token)
    except TokenError as exc:
        raise ApiError(401, str(exc), headers=_UNAUTHENTICATED) from None
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError):
        raise ApiError(401, "El token de acceso no es válido.", headers=_UNAUTHENTICATED) from None
    if len(verified) > 4096:  # bounded
        verified.clear()
    verified[token] = (float(claims["exp"]), user_id)
    return user_id


def _cached(request: Request, user_id: int) -> Any:
    hit = request.app.state.user_cache.get(user_id)
    return hit[1] if hit is not None and hit[0] > time.monotonic() else _MISS


def _load(request: Request, settings: Settings, storage: Storage, user_id: int) -> CurrentUser | None:
    user = storage.get_user(user_id)
    current = (
        CurrentUser(id=user.id, username=user.username, role=Role(user.role))
        if user is not None and user.is_active
        else None
    )
    if settings.auth_cache_seconds > 0:
        cache: dict[int, tuple[float, CurrentUser | None]] = request.app.state.user_cache
        if len(cache) > 10_000:  # bounded: staff accounts are few; a flood of ids must not grow it
            cache.clear()
        cache[user_id] = (time.monotonic() + settings.auth_cache_seconds, current)
    return current


def _checked(current: CurrentUser | None) -> CurrentUser:
    if current is None:
        raise ApiError(401, "La cuenta no existe o está desactivada.", headers=_UNAUTHENTICATED)
    return current


async def get_current_user(
    request: Request,
    settings: SettingsDep,
    storage: StorageDep,
    bearer: Annotated[str | None, Depends(oauth2_scheme)],
) -> CurrentUser:
    user_id = _user_id(request, settings, bearer)
    current = _cached(request, user_id)
    if current is _MISS:  # the database read goes to the thread pool, never on the event loop
        current = await run_in_threadpool(_load, request, settings, storage, user_id)
    return _checked(current)


def current_user_sync(request: Request, settings: Settings, storage: Storage) -> CurrentUser:
    """The same check from sync code already in the thread pool (the HTML pages)."""
    user_id = _user_id(request, settings, None)
    current = _cached(request, user_id)
    if current is _MISS:
        current = _load(request, settings, storage, user_id)
    return _checked(current)


def cookie_user_sync(request: Request, settings: Settings, storage: Storage) -> CurrentUser:
    """The session cookie's user for a page's *form post*, whatever the method: only for routes that have
    checked the form's CSRF token first (api/csrf.py), which a page from another site cannot know."""
    user_id = _user_id(request, settings, request.cookies.get(SESSION_COOKIE))
    current = _cached(request, user_id)
    if current is _MISS:
        current = _load(request, settings, storage, user_id)
    return _checked(current)


CurrentUserDep = Annotated[CurrentUser, Depends(get_current_user)]

# password guessing: at most this many login attempts per client address per minute (token and page)
LOGIN_RATE_LIMIT = "10/minute"


async def login_rate_limit(request: Request) -> None:
    """The shared slowapi limiter's backend (Redis when configured), keyed by client address."""
    from limits import parse
    from slowapi.util import get_remote_address

    item = parse(LOGIN_RATE_LIMIT)
    try:
        allowed = request.app.state.limiter.limiter.hit(item, "login", get_remote_address(request))
    except Exception:  # the counter store is down: do not lock staff out, the password check still applies
        return
    if not allowed:
        raise ApiError(429, "Demasiados intentos de inicio de sesión; espera un minuto.", headers={"Retry-After": "60"})


LoginLimitDep = Depends(login_rate_limit)


def require_roles(*roles: Role) -> Callable[[CurrentUser], CurrentUser]:
    """Dependency factory: the user must hold one of `roles` (admin always may)."""
    allowed = ", ".join(r.value for r in roles)

    async def _check(user: CurrentUserDep) -> CurrentUser:
        if not user.has(*roles):
            raise ApiError(403, f"Tu rol ({user.role.value}) no permite esta acción; se requiere: {allowed}.")
        return user

    return _check


AdvisorDep = Annotated[CurrentUser, Depends(require_roles(Role.advisor))]
AnalystDep = Annotated[CurrentUser, Depends(require_roles(Role.analyst))]
AdminDep = Annotated[CurrentUser, Depends(require_roles(Role.admin))]
# who may run and store an assessment: anyone signed in (the input is theirs; stored ones are read by advisors)
AnyUserDep = CurrentUserDep
