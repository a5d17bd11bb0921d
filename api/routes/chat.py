"""The web chat's pages (`/chat`), the applicant's conversation without Telegram (api/services/chat.py).

- `GET /chat`: the conversation so far (a first visit starts it, as /start does on Telegram) with the current
  step's buttons, a text box and the commands; sets the session cookie (signed, HttpOnly, SameSite=Lax).
- `POST /chat`: one answer (`press` = a button's payload, `text`, or `command`) with the page's `turn` id (a
  form posted twice is handled once) and `seen` (the last entry the page shows). A plain form gets a 303 back to
  `GET /chat` (post/redirect/get: a reload does not resubmit); the page's script (`/static/chat.js`, header
  `X-Asesor-Chat`) gets JSON with the HTML of the new entries.
- `GET /chat/log?after=N`: what was added after entry N (an advisor's answer, another tab's turn), 204 if
  nothing; the script polls it.

It works with JavaScript off (every button is a button of a plain form) and on a 390 px screen.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl, urlsplit

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from api.services.chat import COOKIE, COOKIE_MAX_AGE, ChatView, WebChat, WebChatHolder
from api.templating import PAGE_HEADERS, templates
from dialogs import texts

log = logging.getLogger("asesor.api.chat")

router = APIRouter(include_in_schema=False)

SCRIPT_HEADER = "X-Asesor-Chat"
# the page's script fetches its turns and the transcript from this origin
CHAT_HEADERS = {
    **PAGE_HEADERS,
    "Content-Security-Policy": PAGE_HEADERS["Content-Security-Policy"] + "; connect-src 'self'",
}


def _holder(request: Request) -> WebChatHolder:
    return request.app.state.web_chat


def _unavailable(request: Request, *, script: bool) -> Response:
    if script:
        return JSONResponse({"error": texts.CHAT_UNAVAILABLE}, status_code=503, headers=CHAT_HEADERS)
    return templates.TemplateResponse(
        request, "chat_unavailable.html", {"message": texts.CHAT_UNAVAILABLE}, status_code=503, headers=CHAT_HEADERS
    )


def _entries_html(view: ChatView) -> str:
    return templates.get_template("chat_entries.html").render(view=view)


def _json(view: ChatView) -> Response:
    body = {"seq": view.seq, "rev": view.rev, "turn": view.turn, "reset": view.reset, "html": _entries_html(view)}
    return Response(orjson.dumps(body), media_type="application/json", headers=CHAT_HEADERS)


# the longest value each field of the page's form may carry (a turn id is 32 hex digits, a payload 64 at most)
_FIELD_MAX = {"turn": 64, "seen": 12, "press": 64, "text": 2000, "command": 32}


@dataclass(frozen=True, slots=True)
class ChatPost:
    """The page's form (`application/x-www-form-urlencoded`), read without FastAPI's form machinery: this is
    the web chat's hot path, and solving six form parameters cost ~7 % of its CPU per turn (py-spy)."""

    turn: str = ""
    seen: int = 0
    press: str | None = None
    text: str | None = None
    command: str | None = None

    @classmethod
    async def read(cls, request: Request) -> ChatPost | None:
        """The posted form, or None for what the page never sends: an unknown or repeated field, a value too
        long, a bad `seen`. The page posts URL-encoded forms; a multipart one (an older copy of its script) is
        read through Starlette."""
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            try:
                async with request.form(max_files=0, max_fields=8) as form:
                    return cls.of([(k, v) for k, v in form.multi_items() if isinstance(v, str)])
            except Exception:  # a malformed body (Starlette's and python-multipart's own errors)
                return None
        try:
            pairs = parse_qsl((await request.body()).decode(), keep_blank_values=True, max_num_fields=8)
        except (UnicodeDecodeError, ValueError):
            return None
        return cls.of(pairs)

    @classmethod
    def of(cls, pairs: list[tuple[str, str]]) -> ChatPost | None:
        fields = dict(pairs)
        if len(fields) != len(pairs) or any(k not in _FIELD_MAX or len(v) > _FIELD_MAX[k] for k, v in pairs):
            return None
        seen = fields.pop("seen", "0") or "0"
        if not seen.isascii() or not seen.isdigit():
            return None
        return cls(seen=int(seen), **fields)


def _set_cookie(request: Request, response: Response, chat: WebChat, session: str) -> None:
    secure = chat.settings.api_public_url.startswith("https://") or request.url.scheme == "https"
    response.set_cookie(
        COOKIE, chat.cookie_for(session), max_age=COOKIE_MAX_AGE, path="/chat", httponly=True, samesite="lax",
        secure=secure,
    )  # fmt: skip


def _same_origin(request: Request) -> bool:
    """Refuse a post another site's page makes (SameSite=Lax already keeps the cookie off it). The page's
    no-referrer policy makes browsers send `Origin: null` for its own plain forms, so only a foreign origin, or a
    browser's own `Sec-Fetch-Site: cross-site`, is refused."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin")
    return not origin or origin == "null" or urlsplit(origin).netloc == request.headers.get("host", "")


@router.get("/chat", response_class=HTMLResponse)
async def chat_page(request: Request) -> Response:
    holder = _holder(request)
    if not holder.available:
        return _unavailable(request, script=False)
    try:
        chat = await holder.get()
        session = chat.session_of(request.cookies.get(COOKIE))
        new = session is None
        if session is None:
            session = chat.new_session()
        if new or not (await chat.parts.chat_log.marks(session))[0]:
            await chat.start(session)  # a first visit: the welcome and the privacy notice, as /start
        view = await chat.view(session)
    except Exception as exc:  # Redis or the database down: a polite page, never a traceback
        log.error("chat page failed: %s", type(exc).__name__)
        return _unavailable(request, script=False)
    response = templates.TemplateResponse(request, "chat.html", {"view": view}, headers=CHAT_HEADERS)
    if new:
        _set_cookie(request, response, chat, session)
    return response


@router.post("/chat", response_class=HTMLResponse)
async def chat_turn(request: Request) -> Response:
    script = SCRIPT_HEADER.lower() in request.headers
    holder = _holder(request)
    if not holder.available:
        return _unavailable(request, script=script)
    if not _same_origin(request):
        return Response(status_code=403, headers=CHAT_HEADERS)
    form = await ChatPost.read(request)
    if form is None:  # not the page's form: nothing is applied, the page is shown again
        if script:
            return JSONResponse({"error": texts.CHAT_BAD_FORM}, status_code=422, headers=CHAT_HEADERS)
        return RedirectResponse("/chat", status_code=303, headers=CHAT_HEADERS)
    chat = await holder.get()
    session = chat.session_of(request.cookies.get(COOKIE))
    if session is None:  # no (valid) cookie: start a session on the page
        if script:
            return JSONResponse({"reload": True}, status_code=409, headers=CHAT_HEADERS)
        return RedirectResponse("/chat", status_code=303, headers=CHAT_HEADERS)
    event = chat.event_of(form.press, form.text, form.command)
    try:
        seen = form.seen
        view = await (chat.turn(session, event, form.turn or None, seen) if event else chat.view(session, seen))
    except Exception as exc:  # Redis down while taking the lock: nothing was applied; the applicant retries
        log.error("chat turn failed: %s", type(exc).__name__)
        if script:
            return JSONResponse({"error": texts.TEMPORARY_ERROR}, status_code=503, headers=CHAT_HEADERS)
        return _unavailable(request, script=False)
    if script:
        return _json(view)
    return RedirectResponse(f"/chat#m{view.seq}", status_code=303, headers=CHAT_HEADERS)


@router.get("/chat/log")
async def chat_log(request: Request, after: Annotated[int, Query(ge=0)] = 0) -> Response:
    holder = _holder(request)
    if not holder.available:
        return _unavailable(request, script=True)
    chat = await holder.get()
    session = chat.session_of(request.cookies.get(COOKIE))
    if session is None:
        return JSONResponse({"reload": True}, status_code=409, headers=CHAT_HEADERS)
    try:
        if not await chat.changed(session, after):
            return Response(status_code=204, headers=CHAT_HEADERS)
        view = await chat.view(session, after)
    except Exception as exc:
        log.error("chat log failed: %s", type(exc).__name__)
        return JSONResponse({"error": texts.TEMPORARY_ERROR}, status_code=503, headers=CHAT_HEADERS)
    return _json(view)
