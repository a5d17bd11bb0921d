"""Annotated dependencies of the routes (the FastAPI full-stack template's `deps.py` idea).

Authentication: `Authorization: Bearer <JWT>` from `POST /v1/auth/token` (OAuth2 password flow). Browser pages
(the dashboard) also accept the same JWT from the HttpOnly `asesor_session` cookie set by `/login`, but only on
safe methods (GET/HEAD), so a cookie can never authorise a state change from another site (no CSRF surface).
The user row behind a token is re-read at most every ASESOR_AUTH_CACHE_SECONDS (default 5 s) per worker, so
a deactivated account or a changed role takes effect within that, without a database read on every call.
Every token carries the user's token version (claim `ver`); logout and a password change bump it in the
database (`Storage.revoke_tokens`), which refuses every older token: the worker that handled it drops its cache
entry and tells the others through Redis to drop theirs (api/revocations.py); without that message (no Redis)
a worker's cached row expires within ASESOR_AUTH_CACHE_SECONDS.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from starlette.concurrency import run_in_threadpool

from api import revocations
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
    """The assessor in service (core.model_reload): one per request, so the stored result names the model used."""
    from engine.pd.registry import ModelUnavailable

    holder = request.app.state.get_assessor
    try:
        if holder.ready:
            return holder()
        return await run_in_threadpool(holder)  # the first build takes seconds: never on the event loop
    except ModelUnavailable as exc:
        raise model_unavailable(exc) from None


def model_unavailable(exc: Any) -> ApiError:
    """503 problem naming the model that cannot serve (never replaced by another)."""
    from core.copy_es import model_reason

    what = " ".join(p for p in (exc.name, exc.version) if p)
    reason = model_reason(str(getattr(exc, "kind", "")), dict(getattr(exc, "ctx", None) or {}))
    return ApiError(
        503,
        f"El modelo en servicio ({what}) no puede usarse: {reason}. Las evaluaciones vuelven cuando se "
        "promueva una versión válida (asesor train promote).",
        headers={"Retry-After": "30"},
        type_="urn:asesor:unavailable:model",
    )


AssessorDep = Annotated[Any, Depends(get_assessor)]


@dataclass(frozen=True, slots=True)
class CurrentUser:
    id: int
    username: str
    role: Role
    token_version: int = 0

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


def _user_id(request: Request, settings: Settings, bearer: str | None) -> tuple[int, int]:
    """The user id and token version of the request's token (401 when there is none or it is not valid)."""
    token = _token_from(request, bearer)
    if not token:
        raise ApiError(401, "Inicia sesión para usar esta ruta (token Bearer).", headers=_UNAUTHENTICATED)
    # a verified token stays valid until its `exp`: remember it instead of re-checking the HMAC per call
    verified: dict[str, tuple[float, int, int]] = request.app.state.token_cache
    hit = verified.get(token)
    if hit is not None and hit[0] > time.time():
        return hit[1], hit[2]
    try:
        claims = decode_access_token(settings, token)
    except TokenError as exc:
        raise ApiError(401, str(exc), headers=_UNAUTHENTICATED) from None
    try:
        user_id, version = int(claims["sub"]), int(claims.get("ver", 0))
    except (TypeError, ValueError):
        raise ApiError(401, "El token de acceso no es válido.", headers=_UNAUTHENTICATED) from None
    if len(verified) > 4096:  # bounded
        verified.clear()
    verified[token] = (float(claims["exp"]), user_id, version)
    return user_id, version


def _cached(request: Request, user_id: int) -> Any:
    hit = request.app.state.user_cache.get(user_id)
    return hit[1] if hit is not None and hit[0] > time.monotonic() else _MISS


def _load(request: Request, settings: Settings, storage: Storage, user_id: int) -> CurrentUser | None:
    user = storage.get_user(user_id)
    current = (
        CurrentUser(id=user.id, username=user.username, role=Role(user.role), token_version=user.token_version)
        if user is not None and user.is_active
        else None
    )
    if settings.auth_cache_seconds > 0:
        cache: dict[int, tuple[float, CurrentUser | None]] = request.app.state.user_cache
        if len(cache) > 10_000:  # bounded: staff accounts are few; a flood of ids must not grow it
            cache.clear()
        cache[user_id] = (time.monotonic() + settings.auth_cache_seconds, current)
    return current


def _checked(current: CurrentUser | None, version: int) -> CurrentUser:
    if current is None:
        raise ApiError(401, "La cuenta no existe o está desactivada.", headers=_UNAUTHENTICATED)
    if version != current.token_version:  # issued before a logout or a password change
        raise ApiError(401, "La sesión se cerró; inicia sesión de nuevo.", headers=_UNAUTHENTICATED)
    return current


def forget_user(request: Request, user_id: int) -> None:
    """After a revocation: drop this worker's cached row of the user and tell the other workers to drop theirs
    (api/revocations.py), so the next call anywhere re-reads the token version."""
    request.app.state.user_cache.pop(user_id, None)
    revocations.publish(request.app.state.settings.redis_url, user_id)


async def get_current_user(
    request: Request,
    settings: SettingsDep,
    storage: StorageDep,
    bearer: Annotated[str | None, Depends(oauth2_scheme)],
) -> CurrentUser:
    user_id, version = _user_id(request, settings, bearer)
    current = _cached(request, user_id)
    if current is _MISS:  # the database read goes to the thread pool, never on the event loop
        current = await run_in_threadpool(_load, request, settings, storage, user_id)
    return _checked(current, version)


def current_user_sync(request: Request, settings: Settings, storage: Storage) -> CurrentUser:
    """The same check from sync code already in the thread pool (the HTML pages)."""
    user_id, version = _user_id(request, settings, None)
    current = _cached(request, user_id)
    if current is _MISS:
        current = _load(request, settings, storage, user_id)
    return _checked(current, version)


def cookie_user_sync(request: Request, settings: Settings, storage: Storage) -> CurrentUser:
    """The session cookie's user for a page's *form post*, whatever the method: only for routes that have
    checked the form's CSRF token first (api/csrf.py), which a page from another site cannot know."""
    user_id, version = _user_id(request, settings, request.cookies.get(SESSION_COOKIE))
    current = _cached(request, user_id)
    if current is _MISS:
        current = _load(request, settings, storage, user_id)
    return _checked(current, version)


CurrentUserDep = Annotated[CurrentUser, Depends(get_current_user)]


async def login_rate_limit(request: Request) -> None:
    """Password guessing from one address: at most ASESOR_LOGIN_RATE_LIMIT attempts (token and page together),
    counted in the shared slowapi limiter's backend (Redis when configured), keyed by the client address, which
    is the proxy's X-Forwarded-For only when the peer is in ASESOR_TRUSTED_PROXIES (api/main.py)."""
    from limits import parse
    from slowapi.util import get_remote_address

    settings: Settings = request.app.state.settings
    item = parse(settings.login_rate_limit)
    try:
        allowed = request.app.state.limiter.limiter.hit(
            item, request.app.state.namespace, "login", get_remote_address(request)
        )
    except Exception:  # the counter store is down: do not lock staff out, the password check still applies
        return
    if not allowed:
        retry_after = str(int(item.get_expiry()))
        raise ApiError(
            429, "Demasiados intentos de inicio de sesión; espera un minuto.", headers={"Retry-After": retry_after}
        )


LoginLimitDep = Depends(login_rate_limit)


def require_roles(*roles: Role) -> Callable[[CurrentUser], Awaitable[CurrentUser]]:
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
