"""Pure ASGI middlewares (no BaseHTTPMiddleware: it costs a task and a copy per request on the hot path).

- `RequestId` (outermost): takes the client's `X-Request-ID` when it is a plain token of at most 64 characters,
  else makes one; answers it in `X-Request-ID` and binds it (core.logging.bound, contextvars) to every log line
  written while the request is served, in its task and the threads it hands work to.
- `UnhandledErrors` (innermost of ours): an exception no handler took becomes a 500 problem+json in Spanish with
  the request id, answered without re-raising so uvicorn keeps the keep-alive connection; its log line names
  the route *template*, never the raw path (a handoff token there opens an applicant's form).
- `BodySizeLimit`: refuses bodies above the configured size, by Content-Length up front and by counting the
  streamed bytes otherwise (a chunked upload cannot slip past it).
- `PrometheusMetrics`: request count and latency by method, route *template* (never the raw path: handoff
  tokens and ids would explode the label set and leak into the metrics) and status.

Every problem body comes from api.errors.problem, the one serialiser. Each is an `HttpMiddleware` (lifespan and
other scopes pass straight through); those that only look at or add to the response's start use
`on_response_start`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import metrics
from api.errors import problem, route_of, unexpected_detail
from core.logging import bound, current_request_id
from dialogs.ids import new_uuid

log = logging.getLogger("asesor.api")

REQUEST_ID_HEADER = "X-Request-ID"
_CLIENT_ID = re.compile(r"[A-Za-z0-9_\-]{8,64}")


class HttpMiddleware:
    """A pure ASGI middleware for HTTP requests; every other scope (lifespan, websocket) passes straight through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


def on_response_start(send: Send, hook: Callable[[Message], Message | None]) -> Send:
    """`send`, with `hook` called on the response's start message (the status and headers) before it goes out;
    the hook may return a replacement message."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = hook(message) or message
        await send(message)

    return wrapped


def _client_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1").strip()
            return candidate if _CLIENT_ID.fullmatch(candidate) else None
    return None


class RequestId(HttpMiddleware):
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = _client_request_id(scope) or new_uuid().hex

        def answer_id(message: Message) -> None:
            MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id

        with bound(request_id=request_id):
            await self.app(scope, receive, on_response_start(send, answer_id))


class UnhandledErrors(HttpMiddleware):
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        def mark_started(_message: Message) -> None:
            nonlocal started
            started = True

        try:
            await self.app(scope, receive, on_response_start(send, mark_started))
        except Exception as exc:
            log.error("unhandled error on %s %s", scope["method"], route_of(scope), exc_info=exc)
            if started:  # half a response is out: nothing sound can follow on this connection
                raise
            await problem(scope, 500, unexpected_detail(current_request_id()))(scope, receive, send)


class BodySizeLimit(HttpMiddleware):
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"El cuerpo de la solicitud supera el máximo de {self.max_bytes} bytes."
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = True
                if too_big:
                    await problem(scope, 413, detail)(scope, receive, send)
                    return
        received = 0
        response_started = rejected = False

        async def limited_receive() -> Message:
            nonlocal received, rejected, response_started
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # answer now and tell the app the client left: whatever it sends next is dropped
                    rejected = True
                    if not response_started:
                        response_started = True
                        await problem(scope, 413, detail)(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if rejected:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)


class PrometheusMetrics(HttpMiddleware):
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        status = 500

        def note_status(message: Message) -> None:
            nonlocal status
            status = message["status"]

        try:
            await self.app(scope, receive, on_response_start(send, note_status))
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "(sin ruta)"
            metrics.observe_request(scope["method"], template, status, time.perf_counter() - start)
