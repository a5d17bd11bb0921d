"""`Cache-Control: no-store` and `Pragma: no-cache` on every response that does not choose its own caching.

Nearly every answer of the API is personal or per-user (assessments, cases, users, the dashboard, the handoff
pages, the web chat's transcript), so the safe default is that no browser, proxy or CDN keeps a copy. Only a
response that says otherwise keeps its header: the static files (`no-cache`, revalidated by ETag). Errors are
covered too: a 422 may echo what was typed.
"""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from api.middleware import HttpMiddleware, on_response_start

NO_STORE = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]


def _no_store_unless_chosen(message: Message) -> Message:
    headers = list(message.get("headers", []))
    names = {name.lower() for name, _ in headers}
    if b"cache-control" not in names:
        headers += NO_STORE
    elif b"pragma" not in names and (b"cache-control", b"no-store") in headers:
        headers.append((b"pragma", b"no-cache"))  # HTTP/1.0 caches read only Pragma
    return {**message, "headers": headers}


class NoStore(HttpMiddleware):
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, on_response_start(send, _no_store_unless_chosen))
