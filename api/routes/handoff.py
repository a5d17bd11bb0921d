"""Public handoff pages behind the bot's signed link (no login: the token is the credential).

- `GET /resultado/{token}`: the result (recommended bank, second option, low-score warning) and, after
  `ASESOR_HANDOFF_REDIRECT_SECONDS` (7, seed 002), an automatic move to the form.
- `GET /solicitud/{token}`: the Spanish form, prefilled; records HandoffOpened.
- `POST /solicitud/{token}`: validates, stores once per token, records FinancingRequestSubmitted, then
  redirects (303) to the confirmation with the folio (POST/redirect/GET: a reload does not resubmit).
- `GET /solicitud/{token}/confirmacion`: the folio.

Every route is rate-limited per client (slowapi). An expired, tampered or reused link gets a clear Spanish
page (or problem+json for a client that does not ask for HTML); never a stack trace.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded

from api import metrics
from api.deps import EventsDep, SettingsDep, StorageDep
from api.errors import PROBLEM_JSON, problem
from api.services import handoff as svc
from api.templating import PAGE_HEADERS, templates, wants_html
from core.text import Text
from dialogs.card import shown_band
from dialogs.case_view import as_result

HandoffToken = Annotated[str, Text(512, min_length=1), Path(description="Token firmado del enlace que envía el bot")]

_PAGES: dict[str, tuple[str, str, str]] = {
    # kind -> (title, message, hint)
    "expired": (
        "Este enlace ya expiró",
        "Por tu seguridad, los enlaces de solicitud tienen una vigencia limitada.",
        "Vuelve al chat de Asesor en Telegram y toca «Solicitar financiamiento» para recibir un enlace nuevo.",
    ),
    "invalid": (
        "Este enlace no es válido",
        "El enlace está incompleto o fue modificado, así que no podemos abrir tu solicitud.",
        "Copia el enlace completo desde el chat de Asesor en Telegram o pide uno nuevo ahí mismo.",
    ),
    "not_found": (
        "No encontramos tu evaluación",
        "La evaluación de este enlace ya no está disponible (por ejemplo, si pediste borrar tus datos).",
        "Puedes empezar de nuevo en el chat de Asesor en Telegram.",
    ),
    "used": (
        "Esta solicitud ya fue enviada",
        "Ya recibimos la solicitud de esta evaluación (aunque hayas recibido otro enlace); no es necesario "
        "enviarla otra vez.",
        "Si quieres cambiar algún dato, escríbele a tu asesor desde el chat de Asesor en Telegram.",
    ),
    "rate_limited": (
        "Demasiados intentos",
        "Recibimos muchas solicitudes desde tu conexión en poco tiempo.",
        "Espera un minuto y vuelve a intentarlo.",
    ),
}

_HTML_AND_PROBLEM = {
    "text/html": {"schema": {"type": "string"}},
    PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}},
}


def _error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        s: {"description": "Página de error en español (o problem+json)", "content": _HTML_AND_PROBLEM}
        for s in statuses
    }


def error_page(request: Request, kind: str, status: int, *, folio: str | None = None) -> Response:
    title, message, hint = _PAGES[kind]
    metrics.HANDOFF.labels(kind).inc()
    if not wants_html(request):
        return problem(request.scope, status, f"{title}. {message}", type_=f"urn:asesor:handoff:{kind}")
    return templates.TemplateResponse(
        request,
        "handoff_error.html",
        {"kind": kind, "title": title, "message": message, "hint": hint, "folio": folio},
        status_code=status,
        headers=PAGE_HEADERS,
    )


def rate_limited_response(request: Request, exc: RateLimitExceeded) -> Response:
    retry_after = "60"
    with contextlib.suppress(Exception):  # slowapi's Limit shape is not part of its API: default to 60 s
        if exc.limit is not None:
            retry_after = str(int(exc.limit.limit.get_expiry()))
    response = error_page(request, "rate_limited", 429)
    response.headers["Retry-After"] = retry_after
    return response


class HandoffForm(BaseModel):
    """Fields of the form; lenient types so the page can answer each mistake in Spanish."""

    full_name: Annotated[str, Text(200)] = ""
    phone: Annotated[str, Text(40)] = ""
    email: Annotated[str, Text(254)] = ""
    vehicle_brand: Annotated[str, Text(100)] = ""
    vehicle_model: Annotated[str, Text(100)] = ""
    vehicle_year: Annotated[str, Text(10)] = ""
    vehicle_price: Annotated[str, Text(30)] = ""
    term_months: Annotated[str, Text(10)] = ""
    bank: Annotated[str, Text(40)] = ""
    contact_consent: Annotated[str, Text(10)] = ""


def _prefill(ctx: svc.HandoffContext) -> dict[str, str]:
    applicant = ctx.applicant
    price = ctx.vehicle_price
    return {
        "full_name": (applicant.name or "") if applicant else "",
        "phone": (applicant.phone or "") if applicant else "",
        "email": "",
        "vehicle_brand": "",
        "vehicle_model": "",
        "vehicle_year": "",
        "vehicle_price": f"{price:.0f}" if price else "",
        "term_months": str(ctx.term_months or ""),
        "bank": ctx.recommended or "",
        "contact_consent": "",
    }


def _form_page(
    request: Request, ctx: svc.HandoffContext, token: str, values: dict[str, str], errors: dict[str, str], status: int
) -> Response:
    # eligible banks first (best first), then the rest in table order: the applicant may still choose any
    order = ctx.eligible + [b for b in ctx.banks if b not in ctx.eligible]
    term_options = list(ctx.term_options)
    if ctx.term_months and ctx.term_months not in term_options:
        term_options = sorted({*term_options, ctx.term_months})
        ctx.term_options = term_options
    return templates.TemplateResponse(
        request,
        "handoff_form.html",
        {
            "action": f"/solicitud/{token}",
            "banks": ctx.banks,
            "bank_order": order,
            "eligible": ctx.eligible,
            "recommended": ctx.recommended,
            "second": ctx.second,
            "low_score": ctx.low_score,
            "term_options": term_options,
            "values": values,
            "errors": errors,
        },
        status_code=status,
        headers=PAGE_HEADERS,
    )


def make_router(limiter: Limiter, limit: str) -> APIRouter:
    router = APIRouter(tags=["solicitud (público)"])

    @router.get(
        "/resultado/{token}",
        response_class=HTMLResponse,
        summary="Resultado y paso automático a la solicitud (semilla 002)",
        responses=_error_responses(400, 404, 410, 422, 429),
    )
    @limiter.limit(limit)
    def result_page(request: Request, storage: StorageDep, settings: SettingsDep, token: HandoffToken) -> Response:
        try:
            ctx = svc.open_handoff(storage, settings, None, token)
        except svc.HandoffPageError as exc:
            return error_page(request, exc.kind, exc.status)
        result = as_result(ctx.assessment.result)
        no_eligible_bank = result is not None and result.bank_fit.no_eligible_bank
        return templates.TemplateResponse(
            request,
            "handoff_result.html",
            {
                "banks": ctx.banks,
                "recommended": ctx.recommended,
                "second": ctx.second,
                "low_score": ctx.low_score,
                "band": shown_band(result.bank_fit) if result is not None else None,
                "no_eligible_bank": no_eligible_bank,
                "redirect_seconds": settings.handoff_redirect_seconds,
                "form_url": f"/solicitud/{token}",
            },
            headers=PAGE_HEADERS,
        )

    @router.get(
        "/solicitud/{token}",
        response_class=HTMLResponse,
        summary="Formulario de solicitud de financiamiento, prellenado",
        responses=_error_responses(400, 404, 409, 410, 422, 429),
    )
    @limiter.limit(limit)
    def form_page(
        request: Request, storage: StorageDep, settings: SettingsDep, events: EventsDep, token: HandoffToken
    ) -> Response:
        try:
            ctx = svc.open_handoff(storage, settings, events, token)
        except svc.HandoffPageError as exc:
            return error_page(request, exc.kind, exc.status)
        if ctx.existing_folio:
            return error_page(request, "used", 409, folio=ctx.existing_folio)
        metrics.HANDOFF.labels("opened").inc()
        return _form_page(request, ctx, token, _prefill(ctx), {}, 200)

    @router.post(
        "/solicitud/{token}",
        response_class=HTMLResponse,
        status_code=303,
        summary="Enviar la solicitud (una por enlace; reintentos devuelven el mismo folio)",
        responses={
            303: {"description": "Guardada: redirige a la confirmación"},
            **_error_responses(400, 404, 410, 413, 422, 429),
        },
    )
    @limiter.limit(limit)
    def submit_form(
        request: Request,
        form: Annotated[HandoffForm, Form()],
        storage: StorageDep,
        settings: SettingsDep,
        events: EventsDep,
        token: HandoffToken,
    ) -> Response:
        try:
            ctx = svc.open_handoff(storage, settings, None, token)
        except svc.HandoffPageError as exc:
            return error_page(request, exc.kind, exc.status)
        confirmation = f"/solicitud/{token}/confirmacion"
        if ctx.existing_folio:  # a retry, a second tab or another link of the assessment: nothing stored twice
            metrics.HANDOFF.labels("duplicate").inc()
            return RedirectResponse(f"{confirmation}?repetida=1", status_code=303, headers=PAGE_HEADERS)
        checked = svc.validate_form(ctx, form.model_dump())
        if checked.clean is None:
            if not wants_html(request):
                fields = ", ".join(checked.errors)
                detail = f"Revisa estos campos: {fields}. " + " ".join(checked.errors.values())
                return problem(request.scope, 422, detail)
            return _form_page(request, ctx, token, checked.values, checked.errors, 422)
        _fr, created = svc.submit(storage, events, ctx, checked.clean)
        metrics.HANDOFF.labels("submitted" if created else "duplicate").inc()
        target = confirmation if created else f"{confirmation}?repetida=1"  # lost a race with a twin: its folio
        return RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)

    @router.get(
        "/solicitud/{token}/confirmacion",
        response_class=HTMLResponse,
        summary="Confirmación con folio",
        responses=_error_responses(400, 404, 410, 422, 429),
    )
    @limiter.limit(limit)
    def confirmation_page(
        request: Request,
        storage: StorageDep,
        settings: SettingsDep,
        token: HandoffToken,
        repetida: Annotated[bool, Query(description="La solicitud ya existía (otro envío o enlace)")] = False,
    ) -> Response:
        try:
            ctx = svc.open_handoff(storage, settings, None, token)
        except svc.HandoffPageError as exc:
            return error_page(request, exc.kind, exc.status)
        if not ctx.existing_folio:
            # nothing submitted yet with this link: send the applicant to the form
            return RedirectResponse(f"/solicitud/{token}", status_code=303, headers=PAGE_HEADERS)
        fr = storage.get_financing_request(ctx.existing_folio)
        contact = storage.financing_contact(fr) if fr is not None else None
        return templates.TemplateResponse(
            request,
            "handoff_done.html",
            {
                "folio": ctx.existing_folio,
                "bank": ctx.banks.get(fr.bank or "") if fr is not None else None,
                "has_email": bool(contact and contact.get("email")),
                "duplicate": repetida,
            },
            headers=PAGE_HEADERS,
        )

    return router
