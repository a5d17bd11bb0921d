"""`Cache-Control: no-store` and `Pragma: no-cache` on every response that does not choose its own caching.

Nearly every answer of the API is personal or per-user (assessments, cases, users, the dashboard, the handoff
pages, the web chat's transcript), so the safe default is that no browser, proxy or CDN keeps a copy. Only a
response that says otherwise keeps its header: the static files (`no-cache`, revalidated by ETag). Errors are
covered too: a 422 may echo what was typed.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NO_STORE = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]


class NoStore:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                if b"cache-control" not in names:
                    headers += NO_STORE
                elif b"pragma" not in names and (b"cache-control", b"no-store") in headers:
                    headers.append((b"pragma", b"no-cache"))  # HTTP/1.0 caches read only Pragma
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
