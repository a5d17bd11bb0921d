"""The public handoff: bot link -> result page -> prefilled form -> stored request with a folio -> events."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import time_machine
from sqlalchemy import select

from api.main import create_app
from core.handoff import make_handoff_token
from storage.models import Event, FinancingRequest
from tests.api.conftest import PROFILE, handoff_form, make_handoff, make_settings

pytestmark = pytest.mark.asyncio
HTML = {"accept": "text/html,application/xhtml+xml"}


def _form(**overrides: str) -> dict[str, str]:
    return handoff_form(**{"vehicle_price": "350,000", **overrides})  # the price as people type it


def _events(storage: Any, sink: Any) -> list[str]:
    sink.flush()
    with storage.session() as s:
        return sorted(s.scalars(select(Event.name)))


async def test_form_is_prefilled_and_submission_stores_once(
    client: httpx.AsyncClient, handoff: Any, storage: Any, event_sink: Any
) -> None:
    r = await client.get(handoff.form_url, headers=HTML)
    assert r.status_code == 200, r.text
    page = r.text
    rec = handoff.result.bank_fit.recommended
    assert 'value="Ana López Pérez"' in page and 'value="55 1234 5678"' in page
    assert 'name="full_name" autocomplete="name" maxlength="80"' in page  # the parser's NAME_MAX
    assert 'value="350000"' in page and 'value="48" selected' in page
    assert f'value="{rec}" selected' in page and "(recomendado)" in page
    assert r.headers["cache-control"] == "no-store"
    await client.get(handoff.form_url, headers=HTML)  # a reload is the same opening
    assert _events(storage, event_sink) == ["HandoffOpened"]

    r = await client.post(handoff.form_url, data=_form(bank="banorte"), headers=HTML)
    assert r.status_code == 303 and r.headers["location"].endswith("/confirmacion")
    done = await client.get(r.headers["location"], headers=HTML)
    assert done.status_code == 200 and "¡Recibimos tu solicitud!" in done.text
    with storage.session() as s:
        (fr,) = s.scalars(select(FinancingRequest)).all()
    assert fr.folio in done.text
    assert fr.bank == "banorte" and fr.term_months == 48 and fr.vehicle_price == 350000
    assert fr.assessment_id == handoff.assessment_id and fr.user_key == handoff.user_key
    assert fr.details["vehicle"] == {"brand": "Nissan", "model": "Versa", "year": 2025}
    assert fr.details["chose_recommended"] is (rec == "banorte")
    assert storage.financing_contact(fr) == {
        "name": "Ana López Pérez",
        "phone": "+525512345678",  # as the chat stores it (dialogs/parsing.py)
        "email": "ana@example.com",
    }
    assert b"5512345678" not in (fr.contact_enc or b"")  # encrypted at rest

    # the same link again: a retry stores nothing new, a visit shows the folio on a clear page
    retry = await client.post(handoff.form_url, data=_form(), headers=HTML)
    assert retry.status_code == 303
    reused = await client.get(handoff.form_url, headers=HTML)
    assert reused.status_code == 409 and "ya fue enviada" in reused.text and fr.folio in reused.text
    with storage.session() as s:
        assert len(s.scalars(select(FinancingRequest)).all()) == 1
    assert _events(storage, event_sink) == ["FinancingRequestSubmitted", "HandoffOpened"]


async def test_double_submit_race_stores_one_request(client: httpx.AsyncClient, handoff: Any, storage: Any) -> None:
    results = await asyncio.gather(*(client.post(handoff.form_url, data=_form(), headers=HTML) for _ in range(6)))
    assert {r.status_code for r in results} == {303}
    with storage.session() as s:
        assert len(s.scalars(select(FinancingRequest)).all()) == 1


async def test_invalid_fields_are_explained_in_spanish(client: httpx.AsyncClient, handoff: Any, storage: Any) -> None:
    bad = _form(
        phone="123", email="no-es-correo", vehicle_year="1950", vehicle_price="10", contact_consent="", bank="x"
    )
    r = await client.post(handoff.form_url, data=bad, headers=HTML)
    assert r.status_code == 422
    for message in (
        "Escribe un teléfono de 10 dígitos, por ejemplo 55 1234 5678.",
        "El correo no parece válido",
        "Escribe un año entre",
        "El precio del vehículo debe estar entre",
        "Necesitamos tu autorización",
        "Elige un banco de la lista.",
    ):
        assert message in r.text
    assert 'value="no-es-correo"' in r.text  # what was typed is kept
    with storage.session() as s:
        assert s.scalars(select(FinancingRequest)).all() == []
    api = await client.post(handoff.form_url, data=bad)  # a non-browser client gets problem+json
    assert api.status_code == 422 and "phone" in api.json()["detail"]


async def test_expired_tampered_and_foreign_links(
    client: httpx.AsyncClient, handoff: Any, storage: Any, api_settings: Any, db_url: str, tmp_path: Any
) -> None:
    tampered = handoff.token[:-4] + ("AAAA" if not handoff.token.endswith("AAAA") else "BBBB")
    r = await client.get(f"/solicitud/{tampered}", headers=HTML)
    assert r.status_code == 400 and "Este enlace no es válido" in r.text and "Traceback" not in r.text
    r = await client.post(f"/solicitud/{tampered}", data=_form(), headers=HTML)
    assert r.status_code == 400

    # a validly signed token for an assessment of someone else
    foreign = make_handoff_token("f" * 64, handoff.assessment_id, settings=api_settings)
    assert (await client.get(f"/solicitud/{foreign}", headers=HTML)).status_code == 404

    # HANDOFF_TTL_SECONDS=60 on a controlled clock (the token was signed moments ago): open at 30 s, gone at 61 s
    short_app = create_app(make_settings(db_url, tmp_path, HANDOFF_TTL_SECONDS=60), storage=storage)
    now = datetime.now(UTC)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=short_app), base_url="http://t") as c:
        with time_machine.travel(now + timedelta(seconds=30)):
            assert (await c.get(handoff.form_url, headers=HTML)).status_code == 200
        with time_machine.travel(now + timedelta(seconds=61)):
            r = await c.get(handoff.form_url, headers=HTML)
            assert r.status_code == 410 and "Este enlace ya expiró" in r.text
            api = await c.get(handoff.form_url)
        assert api.status_code == 410 and api.headers["content-type"].startswith("application/problem+json")
        assert api.json()["type"] == "urn:asesor:handoff:expired"


async def test_result_page_moves_on_to_the_form(client: httpx.AsyncClient, handoff: Any) -> None:
    r = await client.get(f"/resultado/{handoff.token}", headers=HTML)
    assert r.status_code == 200
    # moved on by /static/redirect.js after 7 s, with a pause control (WCAG 2.2.1; the browser test clicks it)
    assert f'data-seconds="7" data-url="/solicitud/{handoff.token}"' in r.text and 'id="pausar"' in r.text
    assert '<script src="/static/redirect.js" defer></script>' in r.text and "http-equiv" not in r.text
    assert "no es una aprobación" in r.text


async def test_result_page_with_no_eligible_bank_says_so(
    client: httpx.AsyncClient, storage: Any, api_settings: Any, assessor: Any
) -> None:
    """Seed 002's case 1: the page names the closest bank as such, not as a recommendation with a band."""
    answers = {**PROFILE["answers"], "historial_crediticio": "malo", "atrasos_12_meses": "varios_sin_regularizar"}
    h = make_handoff(storage, api_settings, assessor, telegram_id=5_550_777, answers=answers)
    band = h.result.bank_fit.band
    assert h.result.bank_fit.no_eligible_bank and band
    r = await client.get(f"/resultado/{h.token}", headers=HTML)
    assert r.status_code == 200
    assert "Ningún banco es elegible por ahora" in r.text and "El más cercano a tu perfil" in r.text
    assert "Banco recomendado" not in r.text and band not in r.text
    assert "ningún banco de la lista acepta tu perfil" in r.text


async def test_rate_limit_on_public_routes(storage: Any, handoff: Any, db_url: str, tmp_path: Any) -> None:
    app = create_app(make_settings(db_url, tmp_path, ASESOR_HANDOFF_RATE_LIMIT="3/minute"), storage=storage)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        codes = [(await c.get(handoff.form_url, headers=HTML)).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
        r = await c.get(handoff.form_url, headers=HTML)
        assert "Demasiados intentos" in r.text and int(r.headers["retry-after"]) > 0
        # the healthz route is not limited
        assert (await c.get("/healthz")).status_code == 200


async def test_link_of_an_erased_applicant_opens_nothing(client: httpx.AsyncClient, handoff: Any, storage: Any) -> None:
    storage.erase_applicant(handoff.user_key)
    r = await client.get(handoff.form_url, headers=HTML)
    assert r.status_code == 404 and "No encontramos tu evaluación" in r.text
    assert "Ana" not in r.text


@pytest.mark.parametrize(
    ("phone", "price"),
    [("+52 55 1234 5678", "350 mil"), ("(55) 1234-5678", "$350,000.00 MXN"), ("52 5512345678", "350k")],
)
async def test_the_form_reads_phone_and_price_as_the_chat_does(
    client: httpx.AsyncClient, handoff: Any, storage: Any, phone: str, price: str
) -> None:
    """The chat's forms ("350 mil", +52) are accepted and stored as the chat stores them."""
    from dialogs.parsing import parse_amount, parse_phone

    r = await client.post(handoff.form_url, data=_form(phone=phone, vehicle_price=price), headers=HTML)
    assert r.status_code == 303, r.text
    with storage.session() as s:
        (fr,) = s.scalars(select(FinancingRequest)).all()
    assert fr.vehicle_price == 350_000 == parse_amount(price)
    assert storage.financing_contact(fr)["phone"] == "+525512345678" == parse_phone(phone)


async def test_the_form_refuses_what_the_chat_refuses(client: httpx.AsyncClient, handoff: Any, storage: Any) -> None:
    for field, typed in (("phone", "55123456789"), ("vehicle_price", "un millón"), ("vehicle_year", "25")):
        r = await client.post(handoff.form_url, data=_form(**{field: typed}), headers=HTML)
        assert r.status_code == 422 and f'id="{field}-error"' in r.text, (field, typed)
    with storage.session() as s:
        assert s.scalars(select(FinancingRequest)).all() == []


# what the bot (and the web chat: the same dialog) and the form do with a typed name; None is refused
NAMES = [
    ("Ana López Pérez", "Ana López Pérez"),
    ("  maría   josé  ", "maría josé"),
    ("Ma. Guadalupe Hernández", "Ma. Guadalupe Hernández"),
    ("O\u2019Connor-Ruiz", "O'Connor-Ruiz"),
    ("Li", "Li"),
    ("x", None),
    ("Ana 2", None),
    ("<b>Ana</b>", None),
    ("Ana_López", None),
    ("a" * 81, None),
]


def _the_bot_reads_name(typed: str) -> str | None:
    from dialogs.flow import Command, Flow, Press, Text
    from dialogs.state import NAME
    from engine.policy import default_policy

    flow = Flow(default_policy())
    started = flow.handle(None, Command("start")).state
    assert started is not None
    raw = started.dump()
    consented = flow.handle(raw, Press(f"{raw['rev']}:ok")).state
    assert consented is not None
    raw = consented.dump()
    assert raw["step"] == NAME
    state = flow.handle(raw, Text(typed)).state
    assert state is not None
    return None if state.step == NAME else state.name


@pytest.mark.parametrize(("typed", "stored"), NAMES)
async def test_the_form_and_the_bot_take_the_same_names(
    client: httpx.AsyncClient, handoff: Any, storage: Any, typed: str, stored: str | None
) -> None:
    """One name parser (dialogs/parsing.parse_name): what the bot stores the form stores, what it refuses the form
    refuses, with a Spanish message under the field. Before #18 the form took any 3 to 120 characters, digits
    and markup included, and refused "Li"; the bot refused "Ma. Guadalupe" and a phone keyboard's apostrophe."""
    assert _the_bot_reads_name(typed) == stored
    r = await client.post(handoff.form_url, data=_form(full_name=typed), headers=HTML)
    with storage.session() as s:
        requests = s.scalars(select(FinancingRequest)).all()
    if stored is None:
        assert r.status_code == 422 and 'id="full_name-error"' in r.text and "Escribe tu nombre" in r.text
        assert requests == []
    else:
        assert r.status_code == 303, r.text
        (fr,) = requests
        assert storage.financing_contact(fr)["name"] == stored
