"""Staff pages: `/login` (sets the session cookie), `/logout`, `/dashboard` (analysts), and the static JS.

The dashboard's charts are drawn on the server as HTML and CSS (api/services/charts.py and
api/templates/_charts.html): no chart library, no script, real text labels, and a data table under every chart.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from api import csrf
from api.deps import (
    SESSION_COOKIE,
    LoginLimitDep,
    SettingsDep,
    StorageDep,
    cookie_user_sync,
    current_user_sync,
    forget_user,
)
from api.errors import ApiError
from api.routes.analytics import FIRST_DAY, LAST_DAY
from api.security import Role, create_access_token
from api.services import dashboard as dash
from api.services import users
from api.templating import PAGE_HEADERS, templates
from core import copy_es as copy
from core.text import Text

router = APIRouter(include_in_schema=False)

STATIC_DIR = FsPath(__file__).resolve().parent.parent / "static"


class _StaticFiles(StaticFiles):
    """api/static (our JS/CSS and the vendored Swagger UI): revalidated by ETag, never sniffed as another type."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def install_static(app: FastAPI) -> None:
    """Mounted after the routers, so a route never hides behind a static file."""
    app.mount("/static", _StaticFiles(directory=STATIC_DIR), name="static")


def _safe_next(target: str | None) -> str:
    # only local paths: `next` must not turn the login page into an open redirect
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/dashboard"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: Annotated[Annotated[str, Text(200)] | None, Query()] = None) -> Response:
    return templates.TemplateResponse(
        request, "login.html", {"next": _safe_next(next) if next else "", "error": None}, headers=PAGE_HEADERS
    )


@router.post("/login", response_class=HTMLResponse, dependencies=[LoginLimitDep])
def login_submit(
    request: Request,
    storage: StorageDep,
    settings: SettingsDep,
    username: Annotated[str, Text(64), Form()] = "",
    password: Annotated[str, Text(256), Form()] = "",
    next: Annotated[str, Text(200), Form()] = "",
) -> Response:
    try:
        user = users.login(storage, request.app.state.login_backoff, username, password)
    except users.LoginLocked as exc:
        return _login_error(request, next, exc.message, 429, {"Retry-After": str(exc.retry_after)})
    if user is None:
        return _login_error(request, next, "Usuario o contraseña incorrectos.", 401)
    token = create_access_token(settings, subject=str(user.id), role=user.role, version=user.token_version)
    # no page asked for: each role's home (an advisor's is the case queue)
    target = _safe_next(next) if next else ("/asesores" if user.role == Role.advisor.value else "/dashboard")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.jwt_expire_minutes * 60,
        httponly=True,
        samesite="strict",
        secure=settings.api_public_url.startswith("https://"),
        path="/",
    )
    return response


def _login_error(
    request: Request, next: str, message: str, status: int, headers: dict[str, str] | None = None
) -> Response:
    return templates.TemplateResponse(
        request,
        "login.html",
        {"next": _safe_next(next) if next else "", "error": message},
        status_code=status,
        headers={**PAGE_HEADERS, **(headers or {})},
    )


@router.post("/logout")
def logout(request: Request, storage: StorageDep, settings: SettingsDep) -> Response:
    """Revoke the session's tokens (the cookie and any token of the account issued before), then drop the cookie.
    The cookie is SameSite=Strict, so a post from another site arrives without it and revokes nothing."""
    try:
        user = cookie_user_sync(request, settings, storage)
    except ApiError:  # no session, or already closed: nothing to revoke
        user = None
    if user is not None and csrf.same_origin(request):
        storage.revoke_tokens(user.id)
        forget_user(request, user.id)
    response = RedirectResponse("/login", status_code=303, headers=PAGE_HEADERS)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(
    request: Request,
    storage: StorageDep,
    settings: SettingsDep,
    start: date | None = Query(default=None, alias="desde"),
    end: date | None = Query(default=None, alias="hasta"),
) -> Response:
    try:
        user = current_user_sync(request, settings, storage)
    except ApiError as exc:
        if exc.status == 401:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        raise
    if not user.has(Role.analyst):
        return templates.TemplateResponse(
            request,
            "handoff_error.html",
            {
                "kind": "forbidden",
                "title": copy.PROBLEM_TITLES[403],
                "message": "El tablero es para analistas.",
                "hint": f"Tu rol es «{user.role.value}».",
                "folio": None,
            },
            status_code=403,
            headers=PAGE_HEADERS,
        )
    end = min(max(end or date.today(), FIRST_DAY + timedelta(days=dash.DEFAULT_DAYS)), LAST_DAY)
    start = min(max(start or end - timedelta(days=dash.DEFAULT_DAYS - 1), FIRST_DAY), LAST_DAY)
    if start > end:
        start, end = end, start
    data: dict[str, Any] = dash.dashboard_data(
        storage, settings, start, end, params=dict(request.query_params), app_state=request.app.state
    )
    return templates.TemplateResponse(
        request,
        "dashboard.html",
        {"data": data, "start": start.isoformat(), "end": end.isoformat(), "user": user},
        headers=PAGE_HEADERS,
    )
