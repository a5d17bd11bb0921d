"""Text input that no database stores alike (NUL, other control characters, lone surrogates, too long) is a 422
problem naming the field, on SQLite and PostgreSQL alike, before it reaches a database (issue #13 item 2).

Before core/text.py every case here marked `pg500` was a 500 on PostgreSQL (psycopg: "PostgreSQL text fields
cannot contain NUL (0x00) bytes"; a surrogate: UnicodeEncodeError), and SQLite stored the NUL.
The client does not raise the app's exceptions, so a 500 shows as a status, as a real client sees it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter

from storage.db import InvalidText
from tests.api.conftest import PROFILE, handoff_form

pytestmark = pytest.mark.asyncio

NUL, BELL, SURROGATE = "a\x00b", "a\x07b", "\\ud800"  # the surrogate as a JSON escape: UTF-8 cannot carry it


@pytest.fixture
async def raw_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def _raw_json(template: dict[str, Any], field: str, escaped: str) -> bytes:
    """A JSON body whose `field` holds `escaped` verbatim (so `\\ud800` reaches the server as a lone surrogate)."""
    body = json.dumps({**template, field: "@@"})
    return body.replace('"@@"', f'"x{escaped}y"').encode()


def _assert_field(r: httpx.Response, field: str) -> None:
    assert r.status_code == 422, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/problem+json")
    fields = [e["field"] for e in r.json()["errors"]]
    assert field in fields, fields


@pytest.fixture
async def claimed(storage: Any, staff: dict, raw_client: httpx.AsyncClient) -> int:
    key = storage.upsert_applicant(telegram_id=4_242).user_key
    esc, _ = storage.create_escalation(key, reason="revisar")
    r = await raw_client.post(f"/v1/escalations/{esc.id}/claim", headers=staff["advisor"].headers)
    assert r.status_code == 200
    return int(esc.id)


@pytest.mark.parametrize("bad", [NUL, BELL, SURROGATE, "x" * 4001], ids=["nul", "control", "surrogate", "long"])
async def test_advisor_notes_and_resolution(
    raw_client: httpx.AsyncClient, staff: dict, claimed: int, storage: Any, bad: str
) -> None:
    headers = {**staff["advisor"].headers, "content-type": "application/json"}
    escaped = bad if bad == SURROGATE else json.dumps(bad)[1:-1]
    r = await raw_client.post(
        f"/v1/escalations/{claimed}/notes", content=_raw_json({}, "body", escaped), headers=headers
    )
    _assert_field(r, "body")
    r = await raw_client.post(
        f"/v1/escalations/{claimed}/resolve", content=_raw_json({}, "resolution", escaped), headers=headers
    )
    _assert_field(r, "resolution")
    assert storage.get_escalation(claimed).status == "claimed"  # nothing was stored


async def test_notes_keep_line_breaks_and_tabs(raw_client: httpx.AsyncClient, staff: dict, claimed: int) -> None:
    r = await raw_client.post(
        f"/v1/escalations/{claimed}/notes", json={"body": "Llamé:\n\tno contestó"}, headers=staff["advisor"].headers
    )
    assert r.status_code == 201 and r.json()["body"] == "Llamé:\n\tno contestó"


@pytest.mark.parametrize(
    ("field", "bad"),
    [("display_name", NUL), ("display_name", SURROGATE), ("password", NUL), ("username", NUL)],
)
async def test_user_creation(raw_client: httpx.AsyncClient, staff: dict, field: str, bad: str) -> None:
    template = {"username": "nueva.persona", "password": "una-contraseña-larga", "role": "analyst"}
    escaped = bad if bad == SURROGATE else json.dumps(bad)[1:-1]
    headers = {**staff["admin"].headers, "content-type": "application/json"}
    r = await raw_client.post("/v1/users", content=_raw_json(template, field, escaped), headers=headers)
    _assert_field(r, field)


@pytest.mark.parametrize("param", ["channel", "bank", "decision", "income_band", "tenure", "payroll_bank"])
async def test_analytics_filters(raw_client: httpx.AsyncClient, staff: dict, param: str) -> None:
    r = await raw_client.get("/v1/analytics/funnel", params={param: NUL}, headers=staff["analyst"].headers)
    _assert_field(r, param)


async def test_analytics_source_filter(raw_client: httpx.AsyncClient, staff: dict) -> None:
    r = await raw_client.get("/v1/analytics/default-rates", params={"source": NUL}, headers=staff["analyst"].headers)
    _assert_field(r, "source")


@pytest.mark.parametrize("suffix", ["", "/graph.ttl"])
async def test_assessment_ids(raw_client: httpx.AsyncClient, staff: dict, suffix: str) -> None:
    r = await raw_client.get(f"/v1/assessments/a%00b{suffix}", headers=staff["advisor"].headers)
    _assert_field(r, "assessment_id")


async def test_assessment_applicant_name(raw_client: httpx.AsyncClient, staff: dict) -> None:
    body = {**PROFILE, "applicant": {**PROFILE["applicant"], "name": NUL}}
    r = await raw_client.post("/v1/assessments", json=body, headers=staff["analyst"].headers)
    _assert_field(r, "applicant.name")


async def test_a_lone_surrogate_is_named_in_spanish(raw_client: httpx.AsyncClient, staff: dict) -> None:
    """pydantic's own str check meets a JSON `\\ud800` before core.text does: the same type and Spanish message."""
    template = {"username": "nueva.persona", "password": "una-contraseña-larga", "role": "analyst"}
    headers = {**staff["admin"].headers, "content-type": "application/json"}
    r = await raw_client.post("/v1/users", content=_raw_json(template, "username", SURROGATE), headers=headers)
    _assert_field(r, "username")
    (error,) = r.json()["errors"]
    assert error["type"] == "text_unicode" and "Unicode" in error["message"], error


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"answers": {"enganche": "20_30\xff\xfe"}}', "UTF-8"),  # bytes that are not UTF-8
        (b"[" * 5_000 + b"]" * 5_000, "anida"),  # deeper than the json module's recursion, under the 64 KiB cap
        (b'{"loan": {"vehicle_price": ' + b"9" * 5000 + b"}}", "dígitos"),  # over Python's 4,300 digits
    ],
    ids=["not-utf8", "too-deep", "huge-int"],
)
async def test_a_body_json_cannot_read_is_a_422_on_the_body(
    raw_client: httpx.AsyncClient, staff: dict, body: bytes, words: str
) -> None:
    """FastAPI answered these 400 "There was an error parsing the body", in English and naming nothing."""
    headers = {**staff["analyst"].headers, "content-type": "application/json"}
    r = await raw_client.post("/v1/assessments", content=body, headers=headers)
    _assert_field(r, "(cuerpo)")
    (error,) = r.json()["errors"]
    assert error["type"] == "json_invalid" and words in error["message"], error


# ------------------------------------------------------------------------------------ routes without login
async def test_token_login(raw_client: httpx.AsyncClient) -> None:
    r = await raw_client.post("/v1/auth/token", data={"username": NUL, "password": "lo-que-sea-123"})
    _assert_field(r, "username")
    r = await raw_client.post("/v1/auth/token", data={"username": "ana", "password": BELL})
    _assert_field(r, "password")


async def test_login_page(raw_client: httpx.AsyncClient) -> None:
    r = await raw_client.post("/login", data={"username": NUL, "password": "lo-que-sea-123"})
    _assert_field(r, "username")
    r = await raw_client.get("/login", params={"next": "/dashboard\x00"})
    _assert_field(r, "next")


@pytest.mark.parametrize("field", ["full_name", "phone", "email", "vehicle_brand", "vehicle_model", "bank"])
async def test_handoff_form(raw_client: httpx.AsyncClient, handoff: Any, storage: Any, field: str) -> None:
    form = handoff_form(**{field: NUL})
    r = await raw_client.post(handoff.form_url, data=form)
    _assert_field(r, field)
    r = await raw_client.post(handoff.form_url, data={**form, field: "x" * 300})
    _assert_field(r, field)


# ------------------------------------------------------------------------------------------- the guard
async def test_what_slips_through_to_storage_is_a_422_not_a_500(app: Any, raw_client: httpx.AsyncClient) -> None:
    router = APIRouter()

    @router.get("/_test/guard")
    def guarded() -> None:
        raise InvalidText("a text value holds NUL")

    app.include_router(router)
    r = await raw_client.get("/_test/guard")
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["type"] == "text_invalid"
