"""Jinja2 templates of the HTML pages (api/templates/), autoescaped; and HTML-vs-JSON negotiation."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates

from dialogs.parsing import NAME_MAX, money

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
# the templates ship with the package and change only with a new release (a restart): no stat of the file on every
# render (Jinja's default, ~1.5 % of a web chat turn's CPU)
templates.env.auto_reload = False

# the bot's format (dialogs/parsing.py): `x|money` as the applicant typed it, `x|money(whole=True)` for estimates
templates.env.filters["money"] = money
templates.env.globals["NAME_MAX"] = NAME_MAX  # the handoff form's maxlength: the longest name the parser takes


def wants_html(request: Request) -> bool:
    """Browsers ask for text/html; API clients (and schemathesis) get problem+json on the same routes."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept


# pages hold personal data: never cache them, never embed them elsewhere, never leak the token as Referer
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}
