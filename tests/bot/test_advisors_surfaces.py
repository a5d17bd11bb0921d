"""One case, whatever the advisors' surface: what the API does through the case desk reaches the Telegram card
and the applicant (on Telegram or in the web chat); a claim races across surfaces with one winner; a message sent
while the Bot API fails is retried until it arrives, once. Both frameworks, the fake Bot API, real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from advisors_harness import Surfaces, surfaces
from bot_harness import ADVISORS_CHAT, GOOD_ANSWERS, run_to_summary
from fake_telegram import StoredMessage, TestUser

from dialogs.ports import occurrence_id
from storage.case_log import CaseLog

LOW = {**GOOD_ANSWERS, "historial_crediticio": "malo", "atrasos_12_meses": "varios_sin_regularizar"}


@pytest.fixture
async def s(redis_url: str, sqlite_url: str, tmp_path: Path, framework: str) -> AsyncIterator[Surfaces]:
    async with surfaces(redis_url=redis_url, db_url=sqlite_url, data_dir=tmp_path, framework=framework) as got:
        yield got


async def _case(s: Surfaces, user: TestUser) -> tuple[int, StoredMessage]:
    await run_to_summary(s.h, user, LOW, name="Ana Torres", phone="5598765432")
    await s.h.feed(user.press("Ver mi resultado"))
    esc = s.h.storage.list_escalations(status="open")[-1]
    card = next(m for m in s.h.tg.bot_messages(ADVISORS_CHAT) if m.text and f"Caso #{esc.id}" in m.text)
    return esc.id, card


def _card_text(s: Surfaces, card: StoredMessage) -> str:
    return s.h.tg.messages[ADVISORS_CHAT][card.message_id].body


async def test_api_actions_reach_the_card_and_the_applicant(s: Surfaces) -> None:
    ana = TestUser(s.h.tg, 7601, "Ana")
    case_id, card = await _case(s, ana)
    uno = s.staff("asesora1", "Asesora Uno")

    r = await s.api.post(f"/v1/escalations/{case_id}/claim", headers=uno.headers)
    assert r.status_code == 200, r.text
    # the bot's process gets the card's update and the applicant's notice through the mailbox
    await s.until(lambda: "atendido por Asesora Uno" in _card_text(s, card))
    await s.until(lambda: "tomó tu caso" in s.h.tg.last_bot_message(ana.chat_id).body)

    # a Telegram advisor tapping *Tomar* now is told who has it
    beto = TestUser(s.h.tg, 9101, "Beto", chat_id=ADVISORS_CHAT)
    await s.h.feed(beto.press_data(card, f"esc:take:{case_id}"))
    assert s.h.tg.calls_of("answerCallbackQuery")[-1].params["text"] == "Este caso ya lo tomó Asesora Uno."

    # notes: one from the API is posted in the case's topic; `/nota` in the topic stores one
    r = await s.api.post(f"/v1/escalations/{case_id}/notes", json={"body": "Llamar a las 5"}, headers=uno.headers)
    assert r.status_code == 201
    await s.until(lambda: "Nota de Asesora Uno (caso #" in (s.h.tg.bot_messages(ADVISORS_CHAT)[-1].text or ""))
    await s.h.feed(beto.text("/nota Tiene aval", thread_id=card.thread_id))
    assert s.h.tg.last_bot_message(ADVISORS_CHAT).text == "Nota guardada."
    esc = s.h.storage.get_escalation(case_id)
    assert esc is not None
    assert [n.body for n in esc.notes] == ["Llamar a las 5", "Tiene aval"]

    r = await s.api.post(f"/v1/escalations/{case_id}/messages", json={"text": "Hola Ana"}, headers=uno.headers)
    assert r.status_code == 201
    await s.until(lambda: s.h.tg.last_bot_message(ana.chat_id).text == "💬 <b>Tu asesor:</b> Hola Ana")
    await s.until(lambda: CaseLog(s.h.storage).state_of(r.json()["id"]) == "delivered")
    # ... and the advisors' chat reads it in the case's topic, as it reads the applicant's answers
    said = f"💬 <b>Asesora Uno al cliente (caso #{case_id}):</b> Hola Ana"
    await s.until(lambda: [m.thread_id for m in s.h.tg.bot_messages(ADVISORS_CHAT) if m.text == said]
                  == [card.thread_id])  # fmt: skip

    # the applicant answers on Telegram: the message is in the case's conversation for the page and the API
    await s.h.feed(ana.text("Gracias, ¿qué necesito?"))
    detail = (await s.api.get(f"/v1/escalations/{case_id}", headers=uno.headers)).json()
    assert [(m["author"], m["state"]) for m in detail["messages"]][-3:] == [
        ("system", "delivered"), ("advisor", "delivered"), ("applicant", "received")
    ]  # fmt: skip

    closing_note = {"outcome": "no_interesado", "resolution": "Prefiere esperar"}
    r = await s.api.post(f"/v1/escalations/{case_id}/resolve", json=closing_note, headers=uno.headers)
    assert r.status_code == 200
    await s.until(lambda: "resuelto</b> por Asesora Uno — no interesado" in _card_text(s, card))
    # the closing note is in the case's topic, as on the page
    closing = f"📝 <b>Nota de cierre de Asesora Uno (caso #{case_id}):</b> Prefiere esperar"
    await s.until(lambda: [m.thread_id for m in s.h.tg.bot_messages(ADVISORS_CHAT) if m.text == closing]
                  == [card.thread_id])  # fmt: skip
    await s.until(lambda: "cerró la conversación" in s.h.tg.last_bot_message(ana.chat_id).body)
    assert s.h.tg.messages[ADVISORS_CHAT][card.message_id].buttons() == []
    # a second resolve from Telegram changes nothing and counts nothing
    await s.h.feed(beto.press_data(card, f"esc:out:{case_id}:contactado"))
    resolved = [e for e in s.h.events() if e[0] == "EscalationResolved"]
    esc = s.h.storage.get_escalation(case_id)
    assert esc is not None
    reason = esc.reason
    assert resolved == [("EscalationResolved", None, {"escalation_id": case_id, "reason": reason,
                                                      "outcome": "no_interesado"})]  # fmt: skip
    from storage.models import Event

    with s.h.storage.session() as db:
        ids = [e.id for e in db.query(Event).filter(Event.name.in_(["EscalationCreated", "EscalationResolved"]))]
    assert sorted(ids) == sorted([occurrence_id("EscalationCreated", case_id),
                                  occurrence_id("EscalationResolved", case_id)])  # fmt: skip


async def test_a_reply_while_telegram_fails_is_retried_once(s: Surfaces) -> None:
    ana = TestUser(s.h.tg, 7602, "Ana")
    case_id, card = await _case(s, ana)
    uno = s.staff("asesora1", "Asesora Uno")
    await s.api.post(f"/v1/escalations/{case_id}/claim", headers=uno.headers)
    await s.until(lambda: "tomó tu caso" in s.h.tg.last_bot_message(ana.chat_id).body)

    s.h.tg.fail("sendMessage", 3)  # the next three sends fail (502), as a Bot API outage would (one of them the
    # copy of the reply posted in the case's topic, sent after the applicant's first try: the mailbox retries it)
    r = await s.api.post(
        f"/v1/escalations/{case_id}/messages", json={"text": "¿Sigues ahí?"}, headers={**uno.headers,
                                                                                       "Idempotency-Key": "m1"},
    )  # fmt: skip
    message_id = r.json()["id"]
    log = CaseLog(s.h.storage)
    await s.until(lambda: log.state_of(message_id) == "delivered", timeout=20)
    got = [m for m in s.h.tg.bot_messages(ana.chat_id) if m.text == "💬 <b>Tu asesor:</b> ¿Sigues ahí?"]
    assert len(got) == 1  # never lost, never doubled
    entry = next(e for e in log.entries(case_id) if e.id == message_id)
    failed = [c for c in s.h.tg.calls_of("sendMessage") if c.failed]
    assert len(failed) == 3
    to_ana = [c for c in failed if str(c.params.get("chat_id")) == str(ana.chat_id)]
    assert entry.attempts == len(to_ana) + 1 >= 3  # each failed try to the applicant, then the one that arrived
    # the API retry with the same key is the same message: nothing more is sent
    again = await s.api.post(
        f"/v1/escalations/{case_id}/messages", json={"text": "¿Sigues ahí?"}, headers={**uno.headers,
                                                                                       "Idempotency-Key": "m1"},
    )  # fmt: skip
    assert again.json()["id"] == message_id and again.json()["state"] == "delivered"
    await asyncio.sleep(0.3)
    assert len([m for m in s.h.tg.bot_messages(ana.chat_id) if "¿Sigues ahí?" in (m.text or "")]) == 1

    # a Telegram advisor's own message while the Bot API fails: retried the same way
    beto = TestUser(s.h.tg, 9102, "Beto", chat_id=ADVISORS_CHAT)
    r = await s.api.post(f"/v1/escalations/{case_id}/reassign", json={"advisor_id": s.staff("b", "Beto").id},
                         headers=uno.headers)  # fmt: skip
    assert r.status_code == 200
    await s.until(lambda: "atendido por Beto" in _card_text(s, card))
    s.h.storage.update_user(r.json()["advisor_id"], telegram_user_id=beto.user_id)  # Beto's Telegram account
    s.h.tg.fail("sendMessage", 1)
    await s.h.feed(beto.text("Te escribo por aquí", thread_id=card.thread_id))
    await s.until(lambda: s.h.tg.last_bot_message(ana.chat_id).text == "💬 <b>Tu asesor:</b> Te escribo por aquí")
    assert len([m for m in s.h.tg.bot_messages(ana.chat_id) if "Te escribo por aquí" in (m.text or "")]) == 1
    # written in the topic itself: not posted there a second time
    assert not [m for m in s.h.tg.bot_messages(ADVISORS_CHAT) if "Te escribo por aquí" in (m.text or "")]


async def test_a_message_that_keeps_failing_is_marked_failed(s: Surfaces) -> None:
    ana = TestUser(s.h.tg, 7603, "Ana")
    case_id, _card = await _case(s, ana)
    uno = s.staff("asesora1", "Asesora Uno")
    await s.api.post(f"/v1/escalations/{case_id}/claim", headers=uno.headers)
    await s.until(lambda: "tomó tu caso" in s.h.tg.last_bot_message(ana.chat_id).body)
    s.h.tg.fail("sendMessage", 100, code=403, description="Forbidden: bot was blocked by the user")
    r = await s.api.post(f"/v1/escalations/{case_id}/messages", json={"text": "Hola"}, headers=uno.headers)
    log = CaseLog(s.h.storage)
    await s.until(lambda: log.state_of(r.json()["id"]) == "failed", timeout=20)
    s.h.tg.failures.clear()
    await asyncio.sleep(0.3)  # a failed message is not taken again
    assert not [m for m in s.h.tg.bot_messages(ana.chat_id) if m.text == "💬 <b>Tu asesor:</b> Hola"]


@pytest.mark.postgres
async def test_two_advisors_claim_at_once_on_two_surfaces(
    redis_url: str, clean_pg_url: str, tmp_path: Path, framework: str
) -> None:
    """A Telegram advisor taps *Tomar* while another claims through the API, on PostgreSQL: one wins, every
    time; the other is told who has it; the card and the queue agree."""
    async with surfaces(redis_url=redis_url, db_url=clean_pg_url, data_dir=tmp_path, framework=framework) as s:
        uno = s.staff("asesora1", "Asesora Uno")
        beto = TestUser(s.h.tg, 9201, "Beto", chat_id=ADVISORS_CHAT)
        for i in range(4):
            ana = TestUser(s.h.tg, 7700 + i, f"Ana{i}")
            case_id, card = await _case(s, ana)
            tap = beto.press_data(card, f"esc:take:{case_id}")
            api, _ = await asyncio.gather(
                s.api.post(f"/v1/escalations/{case_id}/claim", headers=uno.headers), s.h.feed(tap)
            )
            toast = s.h.tg.calls_of("answerCallbackQuery")[-1].params.get("text")
            esc = s.h.storage.get_escalation(case_id)
            assert esc is not None
            if api.status_code == 200:
                assert esc.advisor_id == uno.id and toast == "Este caso ya lo tomó Asesora Uno."
                holder = "Asesora Uno"
            else:
                assert api.status_code == 409 and api.json()["detail"] == "Este caso ya lo tomó Beto."
                assert esc.advisor_id != uno.id and isinstance(toast, str) and toast.startswith("Caso tomado")
                holder = "Beto"
            await s.until(lambda holder=holder, card=card: f"atendido por {holder}" in _card_text(s, card))

            def told(ana: TestUser = ana) -> int:
                return len([m for m in s.h.tg.bot_messages(ana.chat_id) if "tomó tu caso" in (m.text or "")])

            await s.until(told)
            await asyncio.sleep(0.2)
            assert told() == 1  # the applicant is told once


async def test_a_web_chat_applicant_is_told_in_their_transcript(s: Surfaces) -> None:
    """A case whose applicant talks in the web chat (`web:<session>`): what the desk sends them goes to the
    session's transcript (the page polls it), tracked like a Telegram message."""
    from dialogs.ports import CaseRoute

    key = s.h.storage.session_user_key("sesion-web-123456")
    s.h.storage.ensure_applicant(key)
    esc, _ = s.h.storage.create_escalation(key, reason="applicant_request")
    await s.h.parts.board.save(CaseRoute(esc.id, key, "web:sesion-web-123456", card="🆘 <b>Caso</b>"))
    uno = s.staff("asesora1", "Asesora Uno")
    assert (await s.api.post(f"/v1/escalations/{esc.id}/claim", headers=uno.headers)).status_code == 200
    r = await s.api.post(f"/v1/escalations/{esc.id}/messages", json={"text": "Hola desde el equipo"},
                         headers=uno.headers)  # fmt: skip
    assert r.status_code == 201 and r.json()["surface"] == "web" and r.json()["state"] == "delivered"
    await s.api.post(f"/v1/escalations/{esc.id}/resolve", json={"outcome": "contactado"}, headers=uno.headers)
    entries = await s.h.parts.chat_log.tail("sesion-web-123456", 10)
    from dialogs import texts

    assert [(e.who, e.text) for e in entries] == [
        ("advisor", texts.CASE_TAKEN),
        ("advisor", "💬 <b>Tu asesor:</b> Hola desde el equipo"),
        ("advisor", texts.CASE_RESOLVED),
    ]
    assert {e.state for e in CaseLog(s.h.storage).entries(esc.id)} == {"delivered"}
    assert not [m for m in s.h.tg.calls_of("sendMessage") if m.params.get("chat_id") != ADVISORS_CHAT]
