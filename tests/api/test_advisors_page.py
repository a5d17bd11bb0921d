"""The advisors' page over HTTP (no browser): who may see it, the queue's filters and service level, the case
view with the assessment explained, and every form through the case desk with its CSRF token. Both databases.
The browser drives it in tests/api/test_advisors_browser.py."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.api.conftest import PASSWORD, PROFILE

pytestmark = pytest.mark.asyncio


async def _login(client: httpx.AsyncClient, username: str) -> None:
    r = await client.post("/login", data={"username": username, "password": PASSWORD, "next": "/dashboard"})
    assert r.status_code == 303


def _case(storage: Any, assessor: Any, telegram_id: int = 930_001, **answers: str) -> int:
    import copy

    key = storage.upsert_applicant(telegram_id=telegram_id, chat_id=telegram_id).user_key
    storage.save_profile(key, name="Ana Torres", phone="5598765432", birth_year=1988)
    profile = copy.deepcopy(PROFILE)
    profile["answers"].update(answers)
    result = assessor.assess(profile)
    aid = storage.save_assessment(result, user_key=key, request=profile)
    esc, _ = storage.create_escalation(key, reason="low_score,revisar", assessment_id=aid)
    return int(esc.id)


def _field(pattern: str, html: str) -> str:
    found = re.search(pattern, html)
    assert found, f"{pattern!r} not in the page"
    return found.group(1)


def _csrf(html: str) -> str:
    return _field(r'name="csrf" value="([0-9a-f]+)"', html)


async def test_who_sees_the_page(client: httpx.AsyncClient, staff: dict) -> None:
    r = await client.get("/asesores")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/asesores"
    await _login(client, "analista")
    r = await client.get("/asesores")
    assert r.status_code == 403 and "para asesores" in r.text
    client.cookies.clear()
    r = await client.post("/login", data={"username": "asesora", "password": PASSWORD})
    assert r.headers["location"] == "/asesores"  # an advisor lands on the queue
    r = await client.post("/login", data={"username": "asesora", "password": PASSWORD, "next": "/dashboard"})
    assert r.headers["location"] == "/dashboard"  # unless another page was asked for


async def test_work_a_case_from_the_page(client: httpx.AsyncClient, staff: dict, storage: Any, assessor: Any) -> None:
    case_id = _case(storage, assessor, historial_crediticio="malo", atrasos_12_meses="varios_sin_regularizar")  # low
    await _login(client, "asesora")
    r = await client.get("/asesores")
    assert r.status_code == 200 and f"Caso #{case_id}" in r.text
    assert "puntaje bajo, dictamen «revisar»" in r.text and "objetivo 15 min" in r.text
    assert 'id="vista-abiertos" aria-current="page"' in r.text

    r = await client.get(f"/asesores/casos/{case_id}")
    assert r.status_code == 200
    page = r.text
    assert "Ana Torres" in page and "5598765432" in page
    assert "<tr><td>K1</td>" in page  # the fired-rule trace
    assert "ningún banco elegible · el más cercano:" in page and "Banco recomendado" not in page
    assert "historial crediticio «Malo»" in page and "la rechazan" in page  # the knock-outs
    assert 'id="que-pasaria"' in page  # the what-if line
    assert 'id="tomar"' in page and 'id="enviar"' not in page

    # a form post without the page's token is refused, and changes nothing
    r = await client.post(f"/asesores/casos/{case_id}/tomar", data={})
    assert r.status_code == 403 and storage.get_escalation(case_id).status == "open"
    r = await client.post(f"/asesores/casos/{case_id}/tomar", data={"csrf": "0" * 64})
    assert r.status_code == 403
    # nor from another site, token or not
    token = _csrf(page)
    r = await client.post(f"/asesores/casos/{case_id}/tomar", data={"csrf": token},
                          headers={"Origin": "https://evil.example"})  # fmt: skip
    assert r.status_code == 403

    r = await client.post(f"/asesores/casos/{case_id}/tomar", data={"csrf": token})
    assert r.status_code == 303 and r.headers["location"].endswith("aviso=tomado#aviso")
    page = (await client.get(r.headers["location"])).text
    assert "Caso tomado" in page and 'id="enviar"' in page and storage.get_escalation(case_id).status == "claimed"

    key = _field(r'name="clave" value="(\w+)"', page)
    form = {"csrf": token, "clave": key, "texto": "Hola Ana, ¿te llamo?"}
    r = await client.post(f"/asesores/casos/{case_id}/responder", data=form)
    again = await client.post(f"/asesores/casos/{case_id}/responder", data=form)  # a double submit
    assert again.headers["location"].endswith("aviso=duplicate#aviso")
    page = (await client.get(r.headers["location"])).text
    assert page.count("Hola Ana, ¿te llamo?") == 1 and "pendiente" in page  # no Redis here: not sent yet

    r = await client.post(f"/asesores/casos/{case_id}/nota", data={"csrf": token, "texto": "Pide tasa fija"})
    assert "Pide tasa fija" in (await client.get(r.headers["location"])).text

    r = await client.post(f"/asesores/casos/{case_id}/resolver", data={"csrf": token, "resultado": "x"})
    assert r.headers["location"].endswith("aviso=invalid#aviso")
    r = await client.post(f"/asesores/casos/{case_id}/resolver", data={"csrf": token, "resultado": "contactado"})
    esc = storage.get_escalation(case_id)
    assert esc.status == "resolved" and esc.outcome == "contactado"
    r = await client.get("/asesores", params={"vista": "resueltos"})
    assert f"Caso #{case_id}" in r.text and "Contactado" in r.text


async def test_the_loser_is_told_who_has_it(
    client: httpx.AsyncClient, staff: dict, storage: Any, assessor: Any
) -> None:
    case_id = _case(storage, assessor)
    storage.claim_escalation(case_id, staff["advisor2"].id)
    await _login(client, "asesora")
    page = (await client.get(f"/asesores/casos/{case_id}")).text
    assert "solo esa persona puede" in page
    r = await client.post(f"/asesores/casos/{case_id}/tomar", data={"csrf": _csrf(page)})
    page = (await client.get(r.headers["location"])).text
    assert "Otra persona ya tomó este caso. Lo atiende asesor2." in page
    r = await client.get("/asesores", params={"vista": "otros"})
    assert f"Caso #{case_id}" in r.text and "lo atiende asesor2" in r.text
    assert (await client.get("/asesores/version")).json()["v"] >= 0


async def test_the_case_page_shows_pesos_as_the_case_topic_does(
    client: httpx.AsyncClient, staff: dict, storage: Any, assessor: Any
) -> None:
    """Income and price in the one format of dialogs/parsing.money, the advisors' Telegram topic's
    (dialogs/cases.py): cents when the applicant typed some (the page rounded $23,500.50 to $23,500)."""
    from dialogs.parsing import money

    case_id = _case(storage, assessor)
    storage.save_profile(storage.get_escalation(case_id).user_key, monthly_income=23_500.5)
    await _login(client, "asesora")
    page = (await client.get(f"/asesores/casos/{case_id}")).text
    assert f"<dd>{money(23_500.5)} al mes</dd>" in page and "$23,500.50 al mes" in page
    assert f"<dd>{money(PROFILE['loan']['vehicle_price'])} a " in page
