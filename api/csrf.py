"""CSRF protection of the staff pages' forms (the advisors' page, `/asesores`).

The session cookie (`asesor_session`, set by `/login`) is HttpOnly and SameSite=Strict, and api/deps.py accepts
it on GET and HEAD only. A page whose forms change something posts, besides the cookie, a token bound to that
cookie: an HMAC of it under a key derived from ASESOR_JWT_SECRET (the cookie's own key). Another site can
neither read the cookie nor compute the token, and a post whose `Origin` is another host is refused before the
token is looked at.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from fastapi import Request

from api.deps import SESSION_COOKIE
from core.config import Settings

FIELD = "csrf"


def _key(settings: Settings) -> bytes:
    # a distinct derivation: the token can never double as a JWT or a handoff signature
    return hashlib.sha256(f"csrf:{settings.jwt_secret.get_secret_value()}".encode()).digest()


def token_for(settings: Settings, request: Request) -> str:
    """The token the page's forms carry (empty without a session: the form will be refused anyway)."""
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if not cookie:
        return ""
    return hmac.new(_key(settings), cookie.encode(), hashlib.sha256).hexdigest()


def same_origin(request: Request) -> bool:
    """A browser names the page that posts (`Origin`); with the pages' no-referrer policy it may say `null`."""
    origin = request.headers.get("origin")
    return not origin or origin == "null" or urlsplit(origin).netloc == request.headers.get("host", "")


def valid(settings: Settings, request: Request, token: str | None) -> bool:
    expected = token_for(settings, request)
    return bool(expected) and bool(token) and same_origin(request) and hmac.compare_digest(expected, token or "")
