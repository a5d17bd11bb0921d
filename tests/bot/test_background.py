"""Work an update leaves for after its answer (bot/app.py `BotDeps.spawn`): the funnel events and the case
card in the advisors' chat. It must land, once, and never after the applicant's data was erased."""

from __future__ import annotations

import time

from bot_harness import ADVISORS_CHAT, BotHarness, run_to_summary
from fake_telegram import TestUser
from sqlalchemy import func, select

from dialogs import texts
from storage.models import Event


def _events_of(h: BotHarness, user_key: str) -> int:
    h.sink.flush()
    with h.storage.read() as s:
        return int(s.scalar(select(func.count()).select_from(Event).where(Event.user_key == user_key)) or 0)


async def test_events_land_after_the_answer(harness: BotHarness) -> None:
    h = harness
    u = TestUser(h.tg, 7601)
    await h.feed(u.text("/start"), settle=False)
    await h.feed(u.press("Acepto"), settle=False)
    assert "nombre" in h.tg.last_bot_message(u.chat_id).body.lower()  # answered already
    await h.settle()
    assert [n for n, _, _ in h.events()][:2] == ["BotStarted", "ConsentGiven"]


async def test_a_double_tap_on_the_advisor_button_posts_one_case(harness: BotHarness) -> None:
    h = harness
    u = TestUser(h.tg, 7602, "Lucía")
    await run_to_summary(h, u)
    await h.feed(u.press("Ver mi resultado"))
    assert not h.storage.list_escalations(status="open")  # a good profile is not escalated by itself
    card = [m for m in h.tg.bot_messages(u.chat_id) if m.buttons()][-1]
    tap = u.press(texts.BTN_ADVISOR, message_id=card.message_id)
    again = u.press(texts.BTN_ADVISOR, message_id=card.message_id)
    await h.feed(tap, settle=False)
    await h.feed(again, settle=False)  # before the first case card was posted
    await h.settle()
    cases = [m for m in h.tg.bot_messages(ADVISORS_CHAT) if m.text and "Caso #" in m.text]
    assert len(cases) == 1 and len(h.storage.list_escalations(status="open")) == 1


async def test_events_still_on_their_way_land_before_an_erasure(harness: BotHarness, monkeypatch) -> None:
    h = harness
    u = TestUser(h.tg, 7603)
    key = h.storage.user_key(u.user_id)
    await run_to_summary(h, u)
    emit_many = h.sink.emit_many

    def slow_emit_many(events: list) -> None:  # a busy outbox: the events arrive late
        time.sleep(0.3)
        emit_many(events)

    monkeypatch.setattr(h.sink, "emit_many", slow_emit_many)
    await h.feed(u.press("Ver mi resultado"), settle=False)  # its events are not written yet
    await h.feed(u.text("/borrar_mis_datos"), settle=False)
    await h.settle()
    assert "Borramos tus datos" in h.tg.last_bot_message(u.chat_id).body
    assert _events_of(h, key) == 0  # nothing left under the person's key, and nothing written after
    names = [n for n, _, _ in h.events()]
    assert "PerfilacionBancariaComplete" in names  # the funnel still counts the step, unlinked
