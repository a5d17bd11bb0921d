"""The advisors' page (`/asesores`, role advisor): the queue and one case, worked through the case desk.

Server-rendered (Jinja2) with a small script (api/static/asesores.js) that keeps an open page current: it
listens to `/asesores/eventos` (server-sent events relayed from the desk's announcements on Redis, so a change
made in any API worker, or in the bot's process, reaches every open page) and, where EventSource is missing or
the stream breaks, polls `/asesores/version`. The forms work without the script: each posts to the desk and
redirects back (POST/redirect/GET). Forms carry a CSRF token bound to the session cookie (api/csrf.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from api import csrf, metrics
from api.deps import SettingsDep, StorageDep, cookie_user_sync, current_user_sync
from api.errors import ApiError
from api.routes.escalations import staff
from api.security import Role
from api.services import advisors_page as page
from api.services.handoff import policy_for
from api.templating import PAGE_HEADERS, templates
from core import copy_es as copy
from core.config import Settings
from core.text import Text
from dialogs import texts
from dialogs.cases import DeskAnswer

router = APIRouter(include_in_schema=False)

CASE_ID = Path(ge=1, le=2**31 - 1)
# the staff pages' headers, and the page's script may reach this origin (its events, fragments and version)
HEADERS = {
    **PAGE_HEADERS,
    "Content-Security-Policy": PAGE_HEADERS["Content-Security-Policy"].replace(
        "default-src 'none';", "default-src 'none'; connect-src 'self';"
    ),
}
STREAM_SECONDS = 300  # an event stream ends after this; the browser's EventSource reconnects by itself
# the notice after a form post: code -> (kind, Spanish text); the desk's results map onto these codes
NOTICES = {
    "tomado": ("ok", texts.CASE_YOURS_PAGE),
    "enviado": ("ok", texts.CASE_ANSWER_SENT),
    "nota": ("ok", texts.CASE_NOTE_SAVED),
    "resuelto": ("ok", texts.CASE_DONE),
    "reasignado": ("ok", "Caso reasignado."),
    "duplicate": ("ok", "Ese mensaje ya se había enviado; no se mandó otra vez."),
    "taken": ("error", "Otra persona ya tomó este caso."),
    "resolved": ("error", texts.CASE_ALREADY_RESOLVED),
    "not_claimed": ("error", texts.CASE_TAKE_FIRST_PAGE),
    "not_holder": ("error", "Este caso lo atiende otra persona."),
    "no_address": ("error", texts.CASE_NO_ADDRESS),
    "invalid": ("error", "Revisa los datos del formulario."),
    "not_found": ("error", texts.CASE_GONE),
    "vacio": ("error", "Escribe el mensaje antes de enviarlo."),
}
DONE = {"take": "tomado", "answer": "enviado", "note": "nota", "resolve": "resuelto", "reassign": "reasignado"}


def _forbidden(request: Request, user: Any) -> Response:
    return templates.TemplateResponse(
        request,
        "handoff_error.html",
        {"kind": "forbidden", "title": copy.PROBLEM_TITLES[403], "message": "Esta página es para asesores.",
         "hint": f"Tu rol es «{user.role.value}».", "folio": None},
        status_code=403,
        headers=HEADERS,
    )  # fmt: skip


def _user_or_redirect(request: Request, settings: Settings, storage: Any) -> Any:
    try:
        user = current_user_sync(request, settings, storage)
    except ApiError as exc:
        if exc.status == 401:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={target}", status_code=303)
        raise
    return user if user.has(Role.advisor) else _forbidden(request, user)


def _policy(settings: Settings) -> Any:
    return policy_for(settings)


@router.get("/asesores", response_class=HTMLResponse)
async def queue_page(
    request: Request,
    storage: StorageDep,
    settings: SettingsDep,
    vista: Annotated[str, Query(max_length=16)] = "abiertos",
    parcial: Annotated[bool, Query()] = False,
) -> Response:
    user = await run_in_threadpool(_user_or_redirect, request, settings, storage)
    if isinstance(user, Response):
        return user
    view = vista if vista in page.VIEWS else "abiertos"
    advisors = await request.app.state.advisors.get()

    def read() -> tuple[list[page.QueueRow], dict[str, int]]:
        return page.queue(storage, _policy(settings), view, user.id), page.counts(storage, user.id)

    rows, counts = await run_in_threadpool(read)
    context = {
        "rows": rows,
        "counts": counts,
        "view": view,
        "views": page.VIEWS,
        "user": user,
        "target": _policy(settings).escalation.first_answer_minutes,
        "version": await advisors.version(),
    }
    name = "_asesores_cola.html" if parcial else "asesores.html"
    return templates.TemplateResponse(request, name, context, headers=HEADERS)


@router.get("/asesores/casos/{case_id}", response_class=HTMLResponse)
async def case_page(
    request: Request,
    storage: StorageDep,
    settings: SettingsDep,
    case_id: Annotated[int, CASE_ID],
    parcial: Annotated[bool, Query()] = False,
    aviso: Annotated[str | None, Query(max_length=24)] = None,
) -> Response:
    user = await run_in_threadpool(_user_or_redirect, request, settings, storage)
    if isinstance(user, Response):
        return user
    advisors = await request.app.state.advisors.get()
    engine = None
    if not parcial:  # the what-if re-runs the engine: on the full page only, not on each live refresh
        from engine.pd.registry import ModelUnavailable

        holder = request.app.state.get_assessor
        with contextlib.suppress(ModelUnavailable):  # a refused model (logged): the case without its what-if
            engine = holder() if holder.ready else await run_in_threadpool(holder)
    view = await run_in_threadpool(page.case_view, storage, _policy(settings), case_id, user.id, engine=engine)
    if view is None:
        return templates.TemplateResponse(
            request, "handoff_error.html",
            {"kind": "not_found", "title": "Caso no encontrado", "message": "No existe ese caso.",
             "hint": "Vuelve a la cola de casos.", "folio": None},
            status_code=404, headers=HEADERS,
        )  # fmt: skip
    notice = NOTICES.get(aviso or "")
    context = {
        "case": view,
        "user": user,
        "notice": notice,
        "notice_code": aviso,
        "csrf": csrf.token_for(settings, request),
        "form_key": uuid.uuid4().hex,
        "outcomes": texts.OUTCOME_LABELS,
        "version": await advisors.version(),
    }
    name = "_asesores_caso_vivo.html" if parcial else "asesores_caso.html"
    return templates.TemplateResponse(request, name, context, headers=HEADERS)


@router.get("/asesores/version")
async def version(request: Request, storage: StorageDep, settings: SettingsDep) -> Response:
    """For pages without server-sent events: the queue's version (it changes with every case change)."""
    user = await run_in_threadpool(_user_or_redirect, request, settings, storage)
    if isinstance(user, Response):
        return JSONResponse({"error": "sin sesión"}, status_code=401)
    advisors = await request.app.state.advisors.get()
    return JSONResponse({"v": await advisors.version()}, headers={"Cache-Control": "no-store"})


@router.get("/asesores/eventos")
async def events(request: Request, storage: StorageDep, settings: SettingsDep) -> Response:
    """Server-sent events: one `caso` event per change of any case ({case, kind, v})."""
    user = await run_in_threadpool(_user_or_redirect, request, settings, storage)
    if isinstance(user, Response):
        return Response(status_code=401)
    advisors = await request.app.state.advisors.get()

    async def stream() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        end = loop.time() + STREAM_SECONDS
        yield b"retry: 3000\n" + b"event: hola\ndata: " + orjson.dumps({"v": await advisors.version()}) + b"\n\n"
        changes = advisors.listen()
        try:
            async for change in changes:
                if loop.time() > end or await request.is_disconnected():
                    break
                if not change:
                    yield b": sigo aqui\n\n"  # a comment keeps proxies from closing an idle stream
                    continue
                yield b"event: caso\ndata: " + orjson.dumps(change) + b"\n\n"
        finally:
            await changes.aclose()

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no", "X-Content-Type-Options": "nosniff"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


# ------------------------------------------------------------------------------------------------ actions
async def _act(request: Request, storage: Any, settings: Settings, case_id: int, token: str | None, action: str,
               **fields: Any) -> Response:  # fmt: skip
    if not csrf.valid(settings, request, token):
        return templates.TemplateResponse(
            request, "handoff_error.html",
            {"kind": "csrf", "title": "El formulario caducó", "message": "No pudimos confirmar que el formulario "
             "viene de esta página.", "hint": "Recarga la página e inténtalo de nuevo.", "folio": None},
            status_code=403, headers=HEADERS,
        )  # fmt: skip
    try:
        user = await run_in_threadpool(cookie_user_sync, request, settings, storage)
    except ApiError as exc:
        if exc.status == 401:
            return RedirectResponse(f"/login?next=/asesores/casos/{case_id}", status_code=303)
        raise
    if not user.has(Role.advisor):
        return _forbidden(request, user)
    advisors = await request.app.state.advisors.get()
    who = await run_in_threadpool(staff, user, storage)
    desk = advisors.desk
    answer: DeskAnswer
    if action == "take":
        answer = await desk.take(case_id, who)
    elif action == "answer":
        answer = await desk.answer(case_id, who, fields["text"], key=f"page:{user.id}:{fields['key']}")
    elif action == "note":
        answer = await desk.note(case_id, who, fields["text"])
    elif action == "reassign":
        answer = await desk.reassign(case_id, who, fields["to"])
    else:
        answer = await desk.resolve(case_id, who, fields["outcome"], note=fields.get("note"))
    await advisors.deliver(answer)
    if answer.result == "ok":
        metrics.ESCALATION_ACTIONS.labels(action).inc()
    code = DONE[action] if answer.result == "ok" else answer.result
    return RedirectResponse(f"/asesores/casos/{case_id}?aviso={code}#aviso", status_code=303)


@router.post("/asesores/casos/{case_id}/tomar")
async def take(
    request: Request, storage: StorageDep, settings: SettingsDep, case_id: Annotated[int, CASE_ID],
    csrf_token: Annotated[Annotated[str, Text(128)] | None, Form(alias=csrf.FIELD)] = None,
) -> Response:  # fmt: skip
    return await _act(request, storage, settings, case_id, csrf_token, "take")


@router.post("/asesores/casos/{case_id}/responder")
async def answer(
    request: Request, storage: StorageDep, settings: SettingsDep, case_id: Annotated[int, CASE_ID],
    texto: Annotated[str, Text(2000, multiline=True), Form()] = "",
    clave: Annotated[str, Text(64), Form()] = "",
    csrf_token: Annotated[Annotated[str, Text(128)] | None, Form(alias=csrf.FIELD)] = None,
) -> Response:  # fmt: skip
    if not texto.strip():
        return RedirectResponse(f"/asesores/casos/{case_id}?aviso=vacio#aviso", status_code=303)
    key = clave or uuid.uuid4().hex
    return await _act(request, storage, settings, case_id, csrf_token, "answer", text=texto.strip(), key=key)


@router.post("/asesores/casos/{case_id}/nota")
async def note(
    request: Request, storage: StorageDep, settings: SettingsDep, case_id: Annotated[int, CASE_ID],
    texto: Annotated[str, Text(4000, multiline=True), Form()] = "",
    csrf_token: Annotated[Annotated[str, Text(128)] | None, Form(alias=csrf.FIELD)] = None,
) -> Response:  # fmt: skip
    if not texto.strip():
        return RedirectResponse(f"/asesores/casos/{case_id}?aviso=vacio#aviso", status_code=303)
    return await _act(request, storage, settings, case_id, csrf_token, "note", text=texto.strip())


@router.post("/asesores/casos/{case_id}/reasignar")
async def reassign(
    request: Request, storage: StorageDep, settings: SettingsDep, case_id: Annotated[int, CASE_ID],
    asesor: Annotated[int, Form(ge=1, le=2**31 - 1)],
    csrf_token: Annotated[Annotated[str, Text(128)] | None, Form(alias=csrf.FIELD)] = None,
) -> Response:  # fmt: skip
    return await _act(request, storage, settings, case_id, csrf_token, "reassign", to=asesor)


@router.post("/asesores/casos/{case_id}/resolver")
async def resolve(
    request: Request, storage: StorageDep, settings: SettingsDep, case_id: Annotated[int, CASE_ID],
    resultado: Annotated[str, Text(24), Form()] = "",
    nota: Annotated[str, Text(4000, multiline=True), Form()] = "",
    csrf_token: Annotated[Annotated[str, Text(128)] | None, Form(alias=csrf.FIELD)] = None,
) -> Response:  # fmt: skip
    if resultado not in texts.OUTCOME_LABELS:
        return RedirectResponse(f"/asesores/casos/{case_id}?aviso=invalid#aviso", status_code=303)
    return await _act(request, storage, settings, case_id, csrf_token, "resolve", outcome=resultado,
                      note=nota.strip() or None)  # fmt: skip
