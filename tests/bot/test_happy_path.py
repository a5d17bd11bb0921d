"""From /start to the result card and each of its actions, through the production dispatcher."""

from __future__ import annotations

from bot_harness import BotHarness, run_to_summary
from fake_telegram import TestUser


async def test_start_to_result_card(harness: BotHarness) -> None:
    h = harness
    ana = TestUser(h.tg, 7001)
    await run_to_summary(h, ana)
    summary = h.tg.last_bot_message(ana.chat_id)
    assert "Revisa tus respuestas" in summary.text
    await h.feed(ana.press("Ver mi resultado"))
    card = h.tg.last_bot_message(ana.chat_id).text
    print(card)
    assert "Banco recomendado" in card
