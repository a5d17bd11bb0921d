"""The web handoff: from the bot's signed link to a stored financing request (seed 002, "Siguiente paso").

`open_handoff` checks the token and gathers what the form shows (profile, recommended bank, loan);
`validate_form` checks what the applicant typed (Spanish messages per field); `submit` stores the request
once per assessment (unique in storage) and once per token (the idempotency key comes from the token's nonce),
so a double click, a retry or a second link for the same assessment returns the first folio, and a later visit
shows "ya enviada" instead of a second request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from api.services import funnel
from core.config import Settings
from core.handoff import HandoffClaims, HandoffTokenError, verify_handoff_token
from dialogs import parsing
from storage.events import EventSink
from storage.repositories import Storage

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[A-Za-z]{2,24}$")
VEHICLE_AGE_MAX = 12  # model years accepted back from the current one (and one ahead)


@lru_cache(maxsize=4)
def _policy(policy_file: Path | None) -> Any:
    from engine.policy import default_policy, load_policy

    return load_policy(policy_file) if policy_file else default_policy()


def policy_for(settings: Settings) -> Any:
    return _policy(settings.policy_file)


class HandoffPageError(Exception):
    """A handoff page cannot be shown; `kind` picks the Spanish page, `status` the HTTP status."""

    def __init__(self, kind: str, status: int, *, folio: str | None = None) -> None:
        super().__init__(kind)
        self.kind, self.status, self.folio = kind, status, folio


@dataclass
class HandoffContext:
    claims: HandoffClaims
    assessment: Any
    applicant: Any | None
    banks: dict[str, str]  # code -> display name, table order
    eligible: list[str]
    recommended: str | None
    second: str | None
    low_score: bool
    vehicle_price: float | None
    term_months: int | None
    term_options: list[int]
    limits: Any
    policy_version: str | None = None
    model_version: str | None = None
    existing_folio: str | None = None

    @property
    def idempotency_key(self) -> str:
        return self.claims.idempotency_key


def open_handoff(storage: Storage, settings: Settings, events: EventSink | None, token: str) -> HandoffContext:
    """Check the token and load the form's data; records HandoffOpened when `events` is given."""
    try:
        claims = verify_handoff_token(token, settings=settings)
    except HandoffTokenError as exc:
        raise HandoffPageError(exc.reason, 410 if exc.reason == "expired" else 400) from None
    assessment = storage.get_assessment(claims.assessment_id)
    # a token for someone else's assessment is as good as forged: same page as a tampered link
    if assessment is None or assessment.user_key != claims.applicant_key:
        raise HandoffPageError("not_found", 404)
    policy = policy_for(settings)
    result: dict[str, Any] = assessment.result or {}
    request: dict[str, Any] = assessment.request or {}
    loan = request.get("loan") or {}
    bank_fit = result.get("bank_fit") or {}
    eligible = [b for b in bank_fit.get("eligible", []) if b in policy.banks]
    ctx = HandoffContext(
        claims=claims,
        assessment=assessment,
        applicant=storage.get_applicant(claims.applicant_key),
        banks=dict(policy.banks),
        eligible=eligible,
        recommended=assessment.recommended_bank,
        second=assessment.second_bank,
        low_score=bool(assessment.low_score),
        vehicle_price=loan.get("vehicle_price"),
        term_months=loan.get("term_months"),
        term_options=list(policy.offered_terms),
        limits=policy.limits,
        policy_version=assessment.policy_version,
        model_version=assessment.model_version,
    )
    existing = _existing_request(storage, ctx)
    if existing is not None:
        ctx.existing_folio = existing.folio
    elif events is not None:
        funnel.emit(
            events,
            "HandoffOpened",
            claims.applicant_key,
            event_id=funnel.event_id("HandoffOpened", ctx.idempotency_key),
            properties={"assessment_id": assessment.id, "recommended_bank": ctx.recommended},
            policy_version=ctx.policy_version,
            model_version=ctx.model_version,
        )
    return ctx


def _existing_request(storage: Storage, ctx: HandoffContext) -> Any | None:
    # one request per assessment: a second link the bot sent for it finds the first link's request
    return storage.find_financing_request(idempotency_key=ctx.idempotency_key, assessment_id=ctx.assessment.id)


@dataclass
class CleanForm:
    full_name: str
    phone: str
    email: str | None
    bank: str
    vehicle_brand: str
    vehicle_model: str
    vehicle_year: int
    vehicle_price: float
    term_months: int


@dataclass
class FormResult:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    clean: CleanForm | None = None


def validate_form(ctx: HandoffContext, raw: dict[str, str], *, now: datetime | None = None) -> FormResult:
    values = {k: (v or "").strip() for k, v in raw.items()}
    errors: dict[str, str] = {}
    # name, phone, price and year parse as in the chat (dialogs/parsing.py): same forms accepted, same value stored
    name = ""
    try:
        name = parsing.parse_name(values.get("full_name", ""))
    except parsing.InputError as exc:
        errors["full_name"] = str(exc)
    phone = ""
    try:
        phone = parsing.parse_phone(values.get("phone", ""))
    except parsing.InputError:
        errors["phone"] = "Escribe un teléfono de 10 dígitos, por ejemplo 55 1234 5678."
    email = values.get("email") or None
    if email and not EMAIL_RE.match(email):
        errors["email"] = "El correo no parece válido (ejemplo: nombre@correo.com)."
    bank = values.get("bank", "")
    if bank not in ctx.banks:
        errors["bank"] = "Elige un banco de la lista."
    brand, model = values.get("vehicle_brand", ""), values.get("vehicle_model", "")
    if not 1 <= len(brand) <= 60:
        errors["vehicle_brand"] = "Escribe la marca del vehículo."
    if not 1 <= len(model) <= 60:
        errors["vehicle_model"] = "Escribe el modelo del vehículo."
    year_now = (now or datetime.now(UTC)).year
    try:
        year = parsing.parse_year(values.get("vehicle_year", ""), example=year_now)
    except parsing.InputError:
        year = 0
    if not year_now - VEHICLE_AGE_MAX <= year <= year_now + 1:
        errors["vehicle_year"] = f"Escribe un año entre {year_now - VEHICLE_AGE_MAX} y {year_now + 1}."
    lim = ctx.limits
    price: float | None = None
    try:
        price = parsing.parse_vehicle_price(
            values.get("vehicle_price", ""), lim.vehicle_price_min, lim.vehicle_price_max
        )
    except parsing.InputError as exc:
        errors["vehicle_price"] = str(exc)
    try:
        term = int(values.get("term_months", ""))
    except ValueError:
        term = 0
    if term not in ctx.term_options:
        errors["term_months"] = "Elige un plazo de la lista."
    if values.get("contact_consent") not in {"on", "true", "1", "si", "sí"}:
        errors["contact_consent"] = "Necesitamos tu autorización para que un asesor te contacte."
    if errors:
        return FormResult(values=values, errors=errors)
    assert price is not None
    return FormResult(
        values=values,
        clean=CleanForm(
            full_name=name,
            phone=phone,
            email=email,
            bank=bank,
            vehicle_brand=brand,
            vehicle_model=model,
            vehicle_year=year,
            vehicle_price=price,
            term_months=term,
        ),
    )


def submit(storage: Storage, events: EventSink, ctx: HandoffContext, form: CleanForm) -> tuple[Any, bool]:
    """Store the financing request once per token; emit FinancingRequestSubmitted the first time."""
    fr, created = storage.create_financing_request(
        ctx.idempotency_key,
        ctx.claims.applicant_key,
        assessment_id=ctx.assessment.id,
        bank=form.bank,
        vehicle_price=form.vehicle_price,
        term_months=form.term_months,
        contact={"name": form.full_name, "phone": form.phone, "email": form.email},
        details={
            "vehicle": {"brand": form.vehicle_brand, "model": form.vehicle_model, "year": form.vehicle_year},
            "recommended_bank": ctx.recommended,
            "chose_recommended": form.bank == ctx.recommended,
            "channel": ctx.claims.channel,
        },
    )
    if created:
        funnel.emit(
            events,
            "FinancingRequestSubmitted",
            ctx.claims.applicant_key,
            event_id=funnel.event_id("FinancingRequestSubmitted", ctx.idempotency_key),
            properties={
                "assessment_id": ctx.assessment.id,
                "bank": form.bank,
                "recommended_bank": ctx.recommended,
                "chose_recommended": form.bank == ctx.recommended,
                "folio": fr.folio,
            },
            policy_version=ctx.policy_version,
            model_version=ctx.model_version,
        )
    return fr, created


def folio_for(storage: Storage, ctx: HandoffContext) -> str | None:
    existing = _existing_request(storage, ctx)
    return existing.folio if existing else None
