"""What Telegram's delivery can do: the same update twice, two taps 5 ms apart, long polling through
getUpdates with a redelivery, and the webhook endpoint receiving one update twice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp.test_utils import TestClient, TestServer
from bot_harness import BotHarness, label, step_of
from fake_telegram import TestUser

from bot.app import WEBHOOK_PATH


async def _to_first_question(h: BotHarness, u: TestUser) -> None:
    await h.feed(u.text("/start"))
    await h.feed(u.press("Acepto"))
    await h.feed(u.text("Eva Soto"))
    await h.feed(u.text("1992"))
    await h.feed(u.press("Prefiero no darlo"))


def _bot_output(h: BotHarness, since: int) -> list[str]:
    return [c.method for c in h.tg.calls[since:] if c.method in ("sendMessage", "editMessageText")]


async def test_same_update_twice_is_one_step(harness: BotHarness) -> None:
    h = harness
    u = TestUser(h.tg, 7301)
    await _to_first_question(h, u)
    update = u.press(label("trabajo_tiempo", "mas_2a"))
    n = len(h.tg.calls)
    await h.feed(update)
    once = _bot_output(h, n)
    state_once = await h.dialog(u.chat_id)
    await h.feed(update)  # Telegram redelivers it
    assert _bot_output(h, n) == once
    assert await h.dialog(u.chat_id) == state_once
    # and a duplicated text message does not answer the next question with the same text
    await h.feed(u.press(label("banco_nomina", "bbva")))
    text_update = u.text("/ayuda")
    await h.feed(text_update)
    n = len(h.tg.calls)
    await h.feed(text_update)
    assert _bot_output(h, n) == []
    assert [n for n, _, _ in h.events()].count("QuestionAnswered") == 2


async def test_the_duplicate_check_rides_on_the_chat_lock(harness: BotHarness, monkeypatch) -> None:
    """For an update of an applicant's chat, the guard's `SET NX` is done by the script that takes the chat's
    lock (storage/dialog_state.py): the separate round trip is only for updates without a dialog."""
    from storage.dialog_state import DialogStore

    separate: list[str] = []
    original = DialogStore.first_time

    async def counted(self: DialogStore, seen: str) -> bool:
        separate.append(seen)
        return await original(self, seen)

    monkeypatch.setattr(DialogStore, "first_time", counted)
    h = harness
    u = TestUser(h.tg, 7302)
    update = u.text("/start")
    await h.feed(update)
    await h.feed(update)
    assert len(h.tg.bot_messages(u.chat_id)) == 1  # the copy was dropped
    assert separate == []
    key = f"asesor:update:{h.bot_id}:{update['update_id']}"
    assert 25 * 3600 < await h.redis.ttl(key) <= 26 * 3600  # Telegram keeps an update 24 h


async def test_two_taps_5ms_apart_leave_a_consistent_state(harness: BotHarness) -> None:
    h = harness
    u = TestUser(h.tg, 7302)
    await _to_first_question(h, u)
    first = u.press(label("trabajo_tiempo", "mas_2a"))
    second = u.press(label("trabajo_tiempo", "6m_1a"))  # the same keyboard, another option
    t1 = asyncio.create_task(h.feed(first))
    await asyncio.sleep(0.005)
    t2 = asyncio.create_task(h.feed(second))
    await asyncio.gather(t1, t2)
    dialog = await h.dialog(u.chat_id)
    assert dialog is not None
    assert dialog["answers"] == {"trabajo_tiempo": "mas_2a"}  # the first tap wins, the second is stale
    assert dialog["step"] == "q:banco_nomina"
    msg = h.tg.last_bot_message(u.chat_id)
    assert "Pregunta 2 de 8" in msg.body
    toasts = [c.params.get("text") for c in h.tg.calls_of("answerCallbackQuery")[-2:]]
    assert any(t and "anterior" in t for t in toasts)
    # a burst of taps on one keyboard: still exactly one answer recorded
    q2 = [u.press(label("banco_nomina", code)) for code in h.policy.answers["banco_nomina"]]
    await asyncio.gather(*(h.feed(x) for x in q2))
    dialog = await h.dialog(u.chat_id)
    assert dialog is not None
    assert dialog["step"] == "q:historial_crediticio" and len(dialog["answers"]) == 2


async def test_long_polling_through_get_updates(harness: BotHarness) -> None:
    h = harness
    u = TestUser(h.tg, 7303)
    polling = await h.start_polling()

    async def until(cond: Callable[[], Awaitable[object]], timeout: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not await cond():
            assert loop.time() < end, "the bot did not get there in time"
            await asyncio.sleep(0.01)

    try:
        h.tg.push(u.text("/start"))
        await until(lambda: _has(h, u, "¿Aceptas"))
        h.tg.push(u.press("Acepto"))
        await until(lambda: _step(h, u, "name"))
        update = h.tg.push(u.text("Iris Vega"))
        await until(lambda: _step(h, u, "birth_year"))
        # the server hands the same update out again (as after a lost acknowledgement)
        h.tg.push({**update, "_redeliver": True})
        h.tg.push(u.text("1991"))
        await until(lambda: _step(h, u, "phone"))
        dialog = await h.dialog(u.chat_id)
        assert dialog is not None
        assert dialog["name"] == "Iris Vega" and dialog["birth_year"] == 1991
        assert len(h.tg.calls_of("getUpdates")) >= 3
    finally:
        await h.stop_polling()
        if polling is not None:
            await asyncio.wait_for(polling, 10)


async def _has(h: BotHarness, u: TestUser, text: str) -> bool:
    msgs = h.tg.bot_messages(u.chat_id)
    return bool(msgs) and text in (msgs[-1].text or "")


async def _step(h: BotHarness, u: TestUser, step: str) -> bool:
    return await step_of(h, u.chat_id) == step


async def test_webhook_receives_one_update_twice(harness: BotHarness) -> None:
    h = harness
    u = TestUser(h.tg, 7304)
    app = h.webhook_app("s3cret")
    async with TestClient(TestServer(app)) as client:
        headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
        start = u.text("/start")
        for _ in range(2):
            resp = await client.post(WEBHOOK_PATH, json=start, headers=headers)
            assert resp.status == 200
        assert len(h.tg.bot_messages(u.chat_id)) == 1
        assert (await client.post(WEBHOOK_PATH, json=u.text("/ayuda"), headers={})).status == 401
    assert await step_of(h, u.chat_id) == "consent"
