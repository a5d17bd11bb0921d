"""Pure ASGI middlewares (no BaseHTTPMiddleware: it costs a task and a copy per request on the hot path).

- `BodySizeLimit`: refuses bodies above the configured size, by Content-Length up front and by counting the
  streamed bytes otherwise (a chunked upload cannot slip past it).
- `PrometheusMetrics`: request count and latency by method, route *template* (never the raw path: handoff
  tokens and ids would explode the label set and leak into the metrics) and status.
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import metrics
from api.errors import PROBLEM_JSON
from core import copy_es as copy


async def _send_problem(send: Send, scope: Scope, status: int, title: str, detail: str) -> None:
    body = json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail, "instance": scope["path"]},
        ensure_ascii=False,
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"El cuerpo de la solicitud supera el máximo de {self.max_bytes} bytes."
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = True
                if too_big:
                    await _send_problem(send, scope, 413, copy.PROBLEM_TITLES[413], detail)
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
                        await _send_problem(send, scope, 413, copy.PROBLEM_TITLES[413], detail)
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


class PrometheusMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "(sin ruta)"
            metrics.observe_request(scope["method"], template, status, time.perf_counter() - start)
