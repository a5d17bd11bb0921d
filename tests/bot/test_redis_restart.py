"""Redis stopped (killed) and restarted mid-dialog, with AOF persistence: the dialog resumes at the same
step, and the update that arrived during the outage gets a polite "try again" instead of silence."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from bot_harness import GOOD_ANSWERS, BotHarness, build_harness, label, step_of
from fake_telegram import TestUser

from dialogs import texts
from tests.private_services import PrivateRedis


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def h(own_redis: PrivateRedis, sqlite_url: str, tmp_path: Path) -> AsyncIterator[BotHarness]:
    harness = await build_harness(redis_url=own_redis.url, db_url=sqlite_url, data_dir=tmp_path)
    yield harness
    await harness.close()
    await harness.tg.stop()


async def test_redis_killed_and_restarted_mid_dialog(h: BotHarness, own_redis: PrivateRedis) -> None:
    u = TestUser(h.tg, 7401)
    await h.feed(u.text("/start"))
    await h.feed(u.press("Acepto"))
    await h.feed(u.text("Rosa Díaz"))
    await h.feed(u.text("1987"))
    await h.feed(u.press("Prefiero no darlo"))
    items = list(GOOD_ANSWERS.items())
    for q, code in items[:3]:
        await h.feed(u.press(label(q, code)))
    assert await step_of(h, u.chat_id) == "q:creditos_vigentes"

    own_redis.kill()
    # an answer during the outage: not lost silently, the applicant is asked to retry
    tap = u.press(label(*items[3]))
    await h.feed(tap)
    assert h.tg.last_bot_message(u.chat_id).text == texts.TEMPORARY_ERROR

    own_redis.start()  # same port, same directory: replays the AOF
    await asyncio.sleep(0)
    dialog = await h.dialog(u.chat_id)
    assert dialog is not None
    assert dialog["step"] == "q:creditos_vigentes" and len(dialog["answers"]) == 3
    await h.feed(u.press(label(*items[3])))  # the retry works on the restored state
    assert await step_of(h, u.chat_id) == "q:atrasos_12_meses"
    for q, code in items[4:]:
        await h.feed(u.press(label(q, code)))
    await h.feed(u.press("Prefiero no decir"))
    await h.feed(u.text("300000"))
    await h.feed(u.press("36 meses"))
    await h.feed(u.press("Ver mi resultado"))
    assert "Tu resultado" in h.tg.last_bot_message(u.chat_id).body
