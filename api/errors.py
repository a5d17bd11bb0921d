"""Problem details (RFC 9457) for every error the API returns, in Spanish, naming the field when one is at fault.

HTML pages (the handoff form, the dashboard) render their own Spanish error pages; everything else, including
404s on unknown paths and unexpected exceptions, comes back as `application/problem+json`, built by the one
serialiser here (`problem`: the route handlers and the pure ASGI middlewares alike), with the request's id
(`request_id`, the `X-Request-ID` the RequestId middleware answers) so a client's report finds the log line.

An unexpected exception is answered by api.middleware.UnhandledErrors (a 500 problem, the connection kept), not
by a handler on `Exception`: Starlette runs that one in its outermost middleware and re-raises after answering,
and uvicorn then closes the keep-alive connection.

A dependency that is down (the database, Redis) is a 503 with `Retry-After`, type
`urn:asesor:unavailable:<dependency>`, logged at most once per dependency every few seconds (an outage must not
write a line per request). Its handlers answer without re-raising, so the server keeps the keep-alive
connection; only a bug reaches the generic 500 handler.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import redis.exceptions as redis_errors
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from core import copy_es as copy
from core.logging import current_request_id
from storage.db import DATABASE_UNAVAILABLE, InvalidText

log = logging.getLogger("asesor.api")

PROBLEM_JSON = "application/problem+json"


class FieldError(BaseModel):
    field: str = Field(description="Ruta del campo, p. ej. `answers.enganche`")
    message: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = Field(None, description="El `X-Request-ID` de la solicitud (para citarlo a soporte)")
    errors: list[FieldError] | None = None


class ApiError(Exception):
    """Raise from routes and services: becomes a problem response with this status and Spanish detail."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        type_: str = "about:blank",
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors, self.headers, self.type = status, detail, errors, headers, type_


def problem(
    scope: Scope,
    status: int,
    detail: str | None,
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    type_: str = "about:blank",
) -> JSONResponse:
    """The one problem+json serialiser: a response (also an ASGI app, for the middlewares) for this request."""
    title = copy.PROBLEM_TITLES.get(status) or HTTPStatus(status).phrase
    body = Problem(
        type=type_,
        title=title,
        status=status,
        detail=detail,
        instance=scope.get("path"),
        request_id=current_request_id(),
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    # drop the request part FastAPI prefixes ("body", "query", …) so the path reads like the input JSON
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "(cuerpo)"


def field_errors_from_pydantic(errors: list[Any]) -> list[FieldError]:
    out = []
    for err in errors:
        kind = str(err.get("type", "value_error"))
        if kind == "string_unicode":  # pydantic's str check met a lone surrogate before core.text could: the same
            kind = "text_unicode"
        message = copy.field_message(kind, str(err.get("msg") or "") or None, err.get("ctx"))
        loc = tuple(err.get("loc", ()))
        if kind == "json_invalid":  # loc is ("body", <character offset>): the offset is no field
            offset = loc[1] if len(loc) > 1 else None
            message = f"{message} (carácter {offset})" if offset is not None else message
            loc = ()
        out.append(FieldError(field=_field_path(loc), message=message, type=kind))
    return out


# seconds a client should wait before retrying during an outage (recovery after a restart takes about one)
RETRY_AFTER_SECONDS = 5
# what "the dependency is down" looks like: connection refused or lost, a pool that cannot hand out a connection
DEPENDENCY_ERRORS: dict[type[Exception], str] = {
    **dict.fromkeys(DATABASE_UNAVAILABLE, "database"),
    redis_errors.ConnectionError: "redis",
    redis_errors.TimeoutError: "redis",
}


def dependency_down(exc: BaseException) -> str | None:
    """'database' or 'redis' when `exc` means that dependency is unreachable; None otherwise."""
    return next((name for kind, name in DEPENDENCY_ERRORS.items() if isinstance(exc, kind)), None)


def unavailable_response(request: Request, dependency: str) -> Response:
    from api.templating import PAGE_HEADERS, templates, wants_html

    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    detail = copy.UNAVAILABLE[dependency]
    if wants_html(request):  # an applicant on the handoff form, an analyst on the dashboard
        context = {
            "kind": "unavailable",
            "title": "Servicio no disponible por un momento",
            "message": "Estamos teniendo un problema técnico momentáneo; no se perdió nada de lo que enviaste.",
            "hint": f"Vuelve a intentarlo en unos {RETRY_AFTER_SECONDS} segundos.",
            "folio": None,
        }
        return templates.TemplateResponse(
            request, "handoff_error.html", context, status_code=503, headers={**PAGE_HEADERS, **headers}
        )
    return problem(request.scope, 503, detail, headers=headers, type_=f"urn:asesor:unavailable:{dependency}")


INVALID_TEXT_MESSAGE = "Un texto contiene caracteres que no se pueden guardar (NUL, de control o Unicode inválido)."


def route_of(scope: Scope) -> str:
    """The route template, never the raw path (handoff tokens are credentials)."""
    route = scope.get("route")
    return getattr(route, "path", None) or "(sin ruta)"


def _route_of(request: Request) -> str:
    return route_of(request.scope)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return problem(request.scope, exc.status, exc.detail, errors=exc.errors, headers=exc.headers, type_=exc.type)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors_from_pydantic(list(exc.errors()))
        fields = ", ".join(dict.fromkeys(e.field for e in errors))
        return problem(request.scope, 422, f"Revisa estos campos: {fields}.", errors=errors)

    async def _unavailable(request: Request, exc: Exception) -> Response:
        dependency = dependency_down(exc) or "database"
        log.warning(  # at most once per dependency every few seconds (core.logging.RepeatFilter)
            "%s unavailable (%s) on %s %s; answering 503",
            dependency,
            type(exc).__name__,
            request.method,
            _route_of(request),
            extra={"throttle": f"unavailable:{dependency}"},
        )
        return unavailable_response(request, dependency)

    for kind in DEPENDENCY_ERRORS:
        app.add_exception_handler(kind, _unavailable)

    @app.exception_handler(InvalidText)
    async def _invalid_text(request: Request, exc: InvalidText) -> JSONResponse:
        # input that core.text should have refused reached the database: still bad input, never a 500
        log.warning("text refused by the storage guard on %s %s", request.method, _route_of(request))
        error = FieldError(field="(cuerpo)", message=INVALID_TEXT_MESSAGE, type="text_invalid")
        return problem(request.scope, 422, INVALID_TEXT_MESSAGE, errors=[error])

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else None
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            return _unreadable_body(request, exc.__cause__)
        if exc.status_code == 404 and detail in {None, "Not Found"}:
            detail = "La ruta solicitada no existe."
        elif exc.status_code == 405 and detail in {None, "Method Not Allowed"}:
            detail = "Este método no se admite en esta ruta."
        return problem(request.scope, exc.status_code, detail, headers=getattr(exc, "headers", None))

    # unexpected exceptions: api.middleware.UnhandledErrors (see the module's docstring)


def _unreadable_body(request: Request, cause: BaseException | None) -> JSONResponse:
    """A JSON body FastAPI could not read for a reason other than its syntax (which is its own 422
    `json_invalid`): bytes that are not UTF-8, nesting deeper than the parser's recursion, an integer longer than
    Python converts (4,300 digits). Bad input like any other: a 422 on the body, in Spanish (#13 item 2)."""
    if isinstance(cause, UnicodeDecodeError):
        message = copy.BODY_NOT_UTF8.format(start=cause.start)
    elif isinstance(cause, RecursionError):
        message = copy.BODY_TOO_DEEP
    elif isinstance(cause, ValueError) and "digits" in str(cause):
        message = copy.BODY_NUMBER_TOO_LONG
    else:
        return problem(request.scope, 400, copy.BODY_UNREADABLE)
    error = FieldError(field="(cuerpo)", message=message, type="json_invalid")
    return problem(request.scope, 422, f"Revisa estos campos: {error.field}.", errors=[error])


def unexpected_detail(request_id: str | None) -> str:
    detail = "Ocurrió un error inesperado; inténtalo de nuevo más tarde."
    return f"{detail} Si escribes a soporte, cita el identificador {request_id}." if request_id else detail


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries so clients (and schemathesis) know every error is a Problem."""
    return {
        s: {
            "model": Problem,
            "description": copy.PROBLEM_TITLES.get(s, HTTPStatus(s).phrase),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for s in statuses
    }
