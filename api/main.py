"""The FastAPI application factory (`create_app`) and the module-level `app` uvicorn imports.

`create_app(settings)` builds everything from settings (tests pass their own database and secrets): the
database engine, the rate limiter, middlewares, error handlers and routers. The assessment engine is loaded
once per process, lazily or at start-up (`warm_engine=True`, what `asesor api serve` does).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded
from slowapi.util import get_remote_address
from starlette.responses import Response
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api import errors
from api.cache_headers import NoStore
from api.errors import Problem, install_error_handlers
from api.login_backoff import LoginBackoff
from api.middleware import BodySizeLimit, PrometheusMetrics, RequestId, UnhandledErrors
from api.revocations import RevocationListener
from api.services.advisors import AdvisorsHolder
from api.services.chat import WebChatHolder
from core.config import Settings, UnsafeSettings, exit_refused, get_settings, load_settings, require_safe
from core.heap import freeze_startup_heap
from storage.events import EventSink
from storage.privacy import MissingKeyError
from storage.repositories import Storage

log = logging.getLogger("asesor.api")

API_TITLE = "Asesor API"
API_DESCRIPTION = (
    "Evaluación de crédito automotriz (motor de Asesor), solicitud de financiamiento desde el bot, cola de "
    "asesores y analítica. Errores en formato *problem details* (RFC 9457)."
)


def _make_limiter(settings: Settings, namespace: str) -> Limiter:
    # Redis when configured, so the limit holds across uvicorn workers; memory otherwise. If Redis fails,
    # limits fall back to per-process memory rather than turning the public form into 500s. The client address
    # is the TCP peer's, or the proxy's X-Forwarded-For when the peer is a trusted proxy (ProxyHeadersMiddleware).
    storage = settings.redis_url or "memory://"
    return Limiter(
        key_func=get_remote_address,
        key_prefix=namespace,
        storage_uri=storage,
        key_style="endpoint",  # per client and route: every handoff token is a different URL
        in_memory_fallback_enabled=storage != "memory://",
        swallow_errors=True,
        headers_enabled=False,
    )


def _make_served_assessor(settings: Settings, factory: Any | None) -> Any:
    """The engine of this worker: the model the registry's `current` names, switched on a promotion without a
    restart (core.model_reload); built on first use or at start-up."""
    from core.model_reload import ServedAssessor

    if factory is not None:
        return ServedAssessor(factory=factory)
    return ServedAssessor(settings.load_policy, settings.resolved_model_dir, watch_seconds=settings.model_watch_seconds)


def _make_psi_collector(state: Any, settings: Settings) -> Any:
    """The model's PSI on /metrics (api.services.monitoring), over the last ASESOR_PSI_WINDOW_DAYS days."""
    from api.services import monitoring

    def compute() -> dict[str, Any]:
        from api.services.handoff import policy_for
        from storage.analytics import Analytics

        analytics = Analytics(state.storage.engine, policy_for(settings))
        filters = monitoring.window_filters(settings.psi_window_days)
        return monitoring.population_psi(analytics, monitoring.served_artifact(state), filters)

    return monitoring.PsiCollector(compute, settings.psi_cache_seconds, settings.psi_window_days)


def create_app(
    settings: Settings | None = None,
    *,
    storage: Storage | None = None,
    event_sink: EventSink | None = None,
    assessor_factory: Any | None = None,
    warm_engine: bool = False,
    chat_namespace: str = "asesor",
) -> FastAPI:
    """`chat_namespace`: the Redis key space of the case routes, the web chat's transcripts and the mailboxes
    (tests isolate theirs; the bot must use the same)."""
    settings = settings or get_settings()
    owns_storage = storage is None
    storage = storage or Storage.from_settings(settings)
    # refuse unsafe secrets outside development, and a storage that could not decrypt personal data, now rather
    # than at the first read of an applicant (raises core.config.UnsafeSettings)
    try:
        require_safe(settings, "api", cipher_ready=_cipher_ready(storage))
    except UnsafeSettings:
        if owns_storage:
            storage.dispose()
        raise

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if warm_engine:
            from core.model_reload import ModelUnavailable

            with contextlib.suppress(ModelUnavailable):  # logged; assessments answer 503 naming it until a promotion
                app.state.get_assessor()
            if app.state.web_chat.available:
                with contextlib.suppress(Exception):  # Redis not up yet: the chat is built on its first visit
                    await app.state.web_chat.get()
            freeze_startup_heap()  # the engine is loaded: keep it out of the collector's full passes
        app.state.events.start()  # background flusher: outbox -> events table
        app.state.revocations.start()  # other workers' logouts drop this worker's cached user rows
        app.state.get_assessor.start()  # watches the registry's `current`: a promotion switches this worker
        try:
            yield
        finally:
            app.state.get_assessor.stop()
            await app.state.advisors.close()
            await app.state.web_chat.close()
            app.state.events.stop()
            app.state.login_backoff.close()
            await app.state.revocations.stop()
            if app.state.owns_storage:
                app.state.storage.dispose()

    app = FastAPI(
        title=API_TITLE,
        description=API_DESCRIPTION,
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,  # served by api.routes.docs from the vendored Swagger UI (offline)
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.owns_storage = owns_storage
    app.state.storage = storage
    app.state.events = event_sink or EventSink.from_settings(app.state.storage.engine, settings)
    app.state.get_assessor = _make_served_assessor(settings, assessor_factory)
    app.state.web_chat = WebChatHolder(
        settings, app.state.storage, app.state.events, app.state.get_assessor, namespace=chat_namespace
    )
    app.state.advisors = AdvisorsHolder(settings, app.state.storage, app.state.events, namespace=chat_namespace)
    app.state.user_cache = {}
    app.state.token_cache = {}
    app.state.revocations = RevocationListener(settings.redis_url, app.state.user_cache)
    app.state.namespace = chat_namespace
    app.state.limiter = limiter = _make_limiter(settings, chat_namespace)
    app.state.login_backoff = LoginBackoff.from_settings(settings, namespace=chat_namespace)
    app.state.psi_metrics = _make_psi_collector(app.state, settings)

    install_error_handlers(app)

    @app.exception_handler(RateLimitExceeded)
    async def _rate_limited(request: Request, exc: RateLimitExceeded) -> Response:
        from api.routes.handoff import rate_limited_response

        return rate_limited_response(request, exc)

    from api.routes import (
        advisors,
        analytics,
        assessments,
        auth,
        case_analytics,
        chat,
        docs,
        escalations,
        handoff,
        health,
        pages,
        policy_lab,
    )

    app.include_router(chat.router)  # first: the chat's turns are the most frequent requests, and routes match in order
    app.include_router(docs.router)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(assessments.router)
    app.include_router(escalations.router)
    app.include_router(analytics.router)
    app.include_router(case_analytics.router)
    app.include_router(policy_lab.router)
    app.include_router(handoff.make_router(limiter, settings.handoff_rate_limit))
    app.include_router(pages.router)
    app.include_router(advisors.router)
    pages.install_static(app)

    # innermost first (each add wraps the ones before): UnhandledErrors innermost (no-store, the metrics and
    # CORS see its 500); sizes are checked before bodies are read; CORS answers preflights before anything; the
    # client address is settled before anything reads it; RequestId outermost (every answer, a 413 or a
    # preflight too, carries the id, and every log line of the request)
    app.add_middleware(UnhandledErrors)
    app.add_middleware(NoStore)
    app.add_middleware(BodySizeLimit, max_bytes=settings.api_max_body_bytes)
    app.add_middleware(PrometheusMetrics)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
            allow_credentials=False,
            max_age=600,
        )
    if settings.trusted_proxies:
        # X-Forwarded-For / -Proto only from these peers (uvicorn's middleware): anyone else's header is ignored,
        # so it cannot pick its own rate-limit bucket; without trusted proxies the TCP peer is the client
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    app.add_middleware(RequestId)

    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        # every error is a Problem: drop FastAPI's default 422 models in favour of ours
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        for defs_name, defs in components["Problem"].pop("$defs", {}).items():
            components.setdefault(defs_name, defs)
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                for code, resp in operation["responses"].items():
                    if code.startswith(("4", "5")):
                        _problem_content(resp)
        app.openapi_schema = schema
        return schema

    app.openapi = custom_openapi  # type: ignore[method-assign]  # FastAPI documents overriding the schema this way
    return app


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_ERROR_REFS = {"#/components/schemas/Problem", "#/components/schemas/HTTPValidationError"}


def _problem_content(resp: dict[str, Any]) -> None:
    """Error responses are problem+json: replace FastAPI's application/json error models, keep the rest
    (the handoff pages also answer errors as text/html; /readyz answers 503 with its own model)."""
    content = resp.setdefault("content", {})
    app_json = content.get("application/json")
    if app_json is None or app_json.get("schema", {}).get("$ref") in _ERROR_REFS:
        content.pop("application/json", None)
        content[errors.PROBLEM_JSON] = {"schema": dict(_PROBLEM_REF)}


def _cipher_ready(storage: Storage) -> bool:
    try:
        storage.cipher  # noqa: B018 - built lazily; building it is the check
    except MissingKeyError:
        return False
    return True


def app_from_env() -> FastAPI:
    """uvicorn factory target: `uvicorn api.main:app_from_env --factory`. An unsafe or invalid configuration
    ends the worker with a JSON error and exit code 3 (core.config.EXIT_CONFIG), never a traceback."""
    from core.logging import configure_logging

    try:
        settings = load_settings()
        configure_logging(settings=settings)  # a worker process: `asesor api serve` exported its level and format
        return create_app(settings, warm_engine=True)
    except UnsafeSettings as exc:
        exit_refused(exc.to_json())
        raise  # unreachable
