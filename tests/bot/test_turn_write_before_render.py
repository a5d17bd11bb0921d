"""Redis lost in the middle of a Telegram turn (the fault suite's rare failure, reproduced by the integrator): the
screen and the stored dialog never disagree. A turn writes its dialog before it shows the next screen
(storage/dialog_state.py, HeldDialog.commit); lost before that write, the applicant is asked to try again and the
button to press again is still there; lost after it, at the unlock, the turn is complete and nothing is said."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from bot_harness import GOOD_ANSWERS, BotHarness, build_harness, label
from fake_telegram import TestUser
from redis.exceptions import ConnectionError as RedisConnectionError

from dialogs import texts


@pytest.fixture
async def h(redis_url: str, sqlite_url: str, tmp_path: Path) -> AsyncIterator[BotHarness]:
    harness = await build_harness(redis_url=redis_url, db_url=sqlite_url, data_dir=tmp_path)
    yield harness
    await harness.close()
    await harness.tg.stop()


async def _to_first_question(h: BotHarness, u: TestUser) -> None:
    await h.feed(u.text("/start"))
    await h.feed(u.press("Acepto"))
    await h.feed(u.text("Rosa Díaz"))
    await h.feed(u.text("1987"))
    await h.feed(u.press("Prefiero no darlo"))


async def test_redis_lost_before_the_write_leaves_the_button_to_press_again(h: BotHarness) -> None:
    u = TestUser(h.tg, 7501)
    await _to_first_question(h, u)
    q, code = next(iter(GOOD_ANSWERS.items()))
    store = h.parts.dialogs
    release = store._release

    async def lost(*args: Any, **kwargs: Any) -> Any:  # the turn's first write: Redis gone
        store._release = release
        raise RedisConnectionError("Connection closed by server.")

    store._release = lost  # type: ignore[assignment]  # a stand-in for the private Lua script object
    await h.feed(u.press(label(q, code)))
    assert h.tg.last_bot_message(u.chat_id).text == texts.TEMPORARY_ERROR
    dialog = await h.dialog(u.chat_id)
    assert dialog is not None
    assert dialog["step"] == f"q:{q}"  # not stored
    u.find_button(label(q, code))  # ... so the same answer can be given again: raises if the screen moved on


async def test_redis_lost_at_the_unlock_keeps_the_step_shown(h: BotHarness) -> None:
    u = TestUser(h.tg, 7502)
    await _to_first_question(h, u)
    q, code = next(iter(GOOD_ANSWERS.items()))
    store = h.parts.dialogs
    release = store._release

    async def unlock_lost(*args: Any, **kwargs: Any) -> Any:  # the write passes, the unlock fails
        if len(kwargs.get("args", ())) == 4:
            store._release = release
            raise RedisConnectionError("Connection closed by server.")
        return await release(*args, **kwargs)

    store._release = unlock_lost  # type: ignore[assignment]  # a stand-in for the private Lua script object
    await h.feed(u.press(label(q, code)))
    assert h.tg.last_bot_message(u.chat_id).text != texts.TEMPORARY_ERROR
    dialog = await h.dialog(u.chat_id)
    assert dialog is not None
    assert dialog["step"] != f"q:{q}"  # the answer is stored: the next step
    with pytest.raises(AssertionError):
        u.find_button(label(q, code))  # and the screen moved on with it
