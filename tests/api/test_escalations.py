"""Advisors' queue: list by status, claim (one winner when two advisors race), notes, resolve, detail."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from dialogs.ports import occurrence_id

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
    r = await client.post(f"/v1/escalations/{ids[0]}/claim", headers=other)
    assert "asesora" in r.json()["detail"]  # the loser is told who has it
    r = await client.post(f"/v1/escalations/{ids[0]}/resolve", json={"outcome": "contactado"}, headers=other)
    assert r.status_code == 409
    r = await client.post(f"/v1/escalations/{ids[0]}/messages", json={"text": "Hola"}, headers=other)
    assert r.status_code == 409 and "asesora" in r.json()["detail"]

    # the holder writes to the applicant: stored first, with its delivery state; a retry is the same message
    hello = {"text": "Hola, soy tu asesora <Ana>."}
    r = await client.post(f"/v1/escalations/{ids[0]}/messages", json=hello, headers={**adv, "Idempotency-Key": "k1"})
    assert r.status_code == 201 and r.json()["author"] == "advisor" and r.json()["state"] == "pending"
    assert r.json()["text"] == "💬 <b>Tu asesor:</b> Hola, soy tu asesora &lt;Ana&gt;."
    keyed = {**adv, "Idempotency-Key": "k1"}
    again = await client.post(f"/v1/escalations/{ids[0]}/messages", json=hello, headers=keyed)
    assert again.json()["id"] == r.json()["id"]
    detail = (await client.get(f"/v1/escalations/{ids[0]}", headers=adv)).json()
    assert [m["author"] for m in detail["messages"]] == ["system", "advisor"]  # "tomó tu caso", the answer
    assert detail["first_answer_at"] is not None

    r = await client.post(f"/v1/escalations/{ids[0]}/notes", json={"body": "Llamé, pide tasa fija."}, headers=adv)
    assert r.status_code == 201 and r.json()["author_id"] == staff["advisor"].id
    done = {"outcome": "solicitud_enviada", "resolution": "Enviado a BBVA"}
    r = await client.post(f"/v1/escalations/{ids[0]}/resolve", json=done, headers=adv)
    assert r.status_code == 200
    assert r.json()["status"] == "resolved" and r.json()["notes"][0]["body"] == "Llamé, pide tasa fija."
    assert r.json()["outcome"] == "solicitud_enviada" and r.json()["resolution"] == "Enviado a BBVA"
    again = await client.post(f"/v1/escalations/{ids[0]}/resolve", json={"outcome": "contactado"}, headers=adv)
    assert again.status_code == 409
    r = await client.post(f"/v1/escalations/{ids[1]}/resolve", json={"outcome": "cerrado"}, headers=adv)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "outcome"

    mine = await client.get("/v1/escalations", params={"mine": "true"}, headers=adv)
    assert [e["id"] for e in mine.json()] == [ids[0]]
    event_sink.flush()
    from sqlalchemy import select

    from storage.models import Event

    with storage.session() as s:
        events = list(s.scalars(select(Event)))
    # once, from the desk, with the id derived from the case (a retry or another surface cannot double it)
    assert [(e.name, e.id) for e in events] == [("EscalationResolved", occurrence_id("EscalationResolved", ids[0]))]
    assert events[0].properties == {"escalation_id": ids[0], "reason": "revisar", "outcome": "solicitud_enviada"}


async def test_reassign(client: httpx.AsyncClient, staff: dict, storage: Any) -> None:
    (esc_id,) = _open_escalations(storage, 1)
    adv, other = staff["advisor"], staff["advisor2"]
    r = await client.post(f"/v1/escalations/{esc_id}/reassign", json={"advisor_id": other.id}, headers=adv.headers)
    assert r.status_code == 409  # nobody holds it yet
    await client.post(f"/v1/escalations/{esc_id}/claim", headers=adv.headers)
    r = await client.post(f"/v1/escalations/{esc_id}/reassign", json={"advisor_id": other.id}, headers=other.headers)
    assert r.status_code == 409  # only the holder (or an admin) hands it over
    r = await client.post(
        f"/v1/escalations/{esc_id}/reassign", json={"advisor_id": staff["analyst"].id}, headers=adv.headers
    )
    assert r.status_code == 422  # an analyst is not an advisor
    r = await client.post(f"/v1/escalations/{esc_id}/reassign", json={"advisor_id": other.id}, headers=adv.headers)
    assert r.status_code == 200 and r.json()["advisor_id"] == other.id
    r = await client.post(f"/v1/escalations/{esc_id}/resolve", json={"outcome": "contactado"}, headers=adv.headers)
    assert r.status_code == 409
    r = await client.post(
        f"/v1/escalations/{esc_id}/resolve", json={"outcome": "sin_respuesta"}, headers=staff["admin"].headers
    )
    assert r.status_code == 200 and r.json()["outcome"] == "sin_respuesta"  # an admin may close anyone's


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
    winner = storage.get_escalation(esc_id).advisor_id
    for head, r in zip(heads, results, strict=True):  # the holder's repeats are idempotent, the other loses
        mine = head == next(s.headers for s in staff.values() if s.id == winner)
        assert r.status_code == (200 if mine else 409), r.text
    # the applicant is told once, whatever the number of taps
    from storage.case_log import CaseLog

    assert [e.author for e in CaseLog(storage).entries(esc_id)] == ["system"]


async def test_errors_are_problem_details(client: httpx.AsyncClient, staff: dict) -> None:
    adv = staff["advisor"].headers
    r = await client.get("/v1/escalations/999", headers=adv)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = await client.get("/v1/escalations", params={"status": "cerrada"}, headers=adv)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "status"
    r = await client.post("/v1/escalations/1/notes", json={"body": ""}, headers=adv)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
