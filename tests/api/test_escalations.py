"""Advisors' queue: list by status, claim (one winner when two advisors race), notes, resolve, detail."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.asyncio


def _open_escalations(storage: Any, n: int) -> list[int]:
    ids = []
    for i in range(n):
        key = storage.upsert_applicant(telegram_id=900_000 + i, chat_id=900_000 + i).user_key
        storage.save_profile(key, name=f"Solicitante {i}", phone="5512345678", birth_year=1990)
        esc, created = storage.create_escalation(key, reason="revisar")
        assert created
        ids.append(esc.id)
    return ids


async def test_list_claim_note_resolve(client: httpx.AsyncClient, staff: dict, storage: Any, event_sink) -> None:
    ids = _open_escalations(storage, 3)
    adv = staff["advisor"].headers
    r = await client.get("/v1/escalations", params={"status": "open"}, headers=adv)
    assert r.status_code == 200 and [e["id"] for e in r.json()] == ids

    r = await client.post("/v1/escalations/claim-next", headers=adv)
    assert r.status_code == 200
    first = r.json()
    assert first["id"] == ids[0] and first["status"] == "claimed"
    assert first["advisor_id"] == staff["advisor"].id
    assert first["applicant"]["name"] == "Solicitante 0"  # advisors see personal data

    # another advisor cannot take or resolve it
    other = staff["advisor2"].headers
    assert (await client.post(f"/v1/escalations/{ids[0]}/claim", headers=other)).status_code == 409
    r = await client.post(f"/v1/escalations/{ids[0]}/resolve", json={"resolution": "x"}, headers=other)
    assert r.status_code == 409

    r = await client.post(f"/v1/escalations/{ids[0]}/notes", json={"body": "Llamé, pide tasa fija."}, headers=adv)
    assert r.status_code == 201 and r.json()["author_id"] == staff["advisor"].id
    r = await client.post(f"/v1/escalations/{ids[0]}/resolve", json={"resolution": "Enviado a BBVA"}, headers=adv)
    assert r.status_code == 200
    assert r.json()["status"] == "resolved" and r.json()["notes"][0]["body"] == "Llamé, pide tasa fija."
    again = await client.post(f"/v1/escalations/{ids[0]}/resolve", json={"resolution": "otra"}, headers=adv)
    assert again.status_code == 409

    mine = await client.get("/v1/escalations", params={"mine": "true"}, headers=adv)
    assert [e["id"] for e in mine.json()] == [ids[0]]
    event_sink.flush()
    from sqlalchemy import select

    from storage.models import Event

    with storage.session() as s:
        names = list(s.scalars(select(Event.name)))
    assert names == ["EscalationResolved"]


async def test_two_advisors_claiming_at_once_get_different_cases(
    client: httpx.AsyncClient, staff: dict, storage: Any
) -> None:
    ids = _open_escalations(storage, 4)
    heads = [staff["advisor"].headers, staff["advisor2"].headers] * 3
    results = await asyncio.gather(*(client.post("/v1/escalations/claim-next", headers=h) for h in heads))
    claimed = [r.json()["id"] for r in results if r.status_code == 200]
    assert sorted(claimed) == ids  # every case exactly once
    assert sum(r.status_code == 204 for r in results) == 2


async def test_same_case_claimed_concurrently_has_one_winner(
    client: httpx.AsyncClient, staff: dict, storage: Any
) -> None:
    (esc_id,) = _open_escalations(storage, 1)
    heads = [staff["advisor"].headers, staff["advisor2"].headers] * 4
    results = await asyncio.gather(*(client.post(f"/v1/escalations/{esc_id}/claim", headers=h) for h in heads))
    codes = sorted(r.status_code for r in results)
    assert codes.count(200) == 1 and codes.count(409) == 7


async def test_errors_are_problem_details(client: httpx.AsyncClient, staff: dict) -> None:
    adv = staff["advisor"].headers
    r = await client.get("/v1/escalations/999", headers=adv)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = await client.get("/v1/escalations", params={"status": "cerrada"}, headers=adv)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "status"
    r = await client.post("/v1/escalations/1/notes", json={"body": ""}, headers=adv)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
