"""A Telegram bot process, whichever framework: the conversation service, the case desk and the front desk
wired to one `TelegramApi`; what both frameworks share besides (the webhook path and secret, CPU pinning)."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from bot.telegram import TelegramApi, TelegramCourier, TelegramFrontDesk
from core.config import Settings
from core.conversation import ConversationParts, conversation_service
from dialogs.card import Assess
from dialogs.service import ConversationService

WEBHOOK_PATH = "/telegram/webhook"
FRAMEWORKS = ("aiogram", "ptb")


@dataclass
class TelegramBot:
    """The framework-neutral part of a running bot."""

    parts: ConversationParts
    service: ConversationService
    courier: TelegramCourier
    front: TelegramFrontDesk

    async def settle(self) -> None:
        """Wait for work the turns left for after their answers (events, case cards)."""
        await self.service.settle()


def telegram_bot(
    api: TelegramApi,
    parts: ConversationParts,
    *,
    bot_id: int,
    assess: Assess,
    settings: Settings,
    advisors_chat_id: int | None,
) -> TelegramBot:
    courier = TelegramCourier(api, parts.desk, advisors_chat_id, elsewhere=parts.mail)
    service = conversation_service(parts, assess=assess, courier=courier, settings=settings)
    front = TelegramFrontDesk(
        api, service, parts.desk, courier, parts.dialogs, bot_id=bot_id, advisors_chat_id=advisors_chat_id
    )
    return TelegramBot(parts, service, courier, front)


def bot_id_of(token: str) -> int:
    """Telegram's bot id is the token's first part (both frameworks read it so, without a request)."""
    head = token.split(":", 1)[0]
    if not head.isdigit():
        raise ValueError("not a Telegram bot token")
    return int(head)


def pin_to_cpu(index: int) -> int:
    """Keep this process on one CPU of those it may use (worker `index` of `asesor bot --workers N
    --pin-cpus`). Left to the scheduler, two busy bot processes sometimes share one CPU for long stretches
    while the other serves Redis; benchmarks/bot.py saw the p95 double in those runs."""
    allowed = sorted(os.sched_getaffinity(0))
    cpu = allowed[index % len(allowed)]
    os.sched_setaffinity(0, {cpu})
    return cpu


def webhook_secret(secret_key: str, bot_id: int) -> str:
    """Telegram echoes this in X-Telegram-Bot-Api-Secret-Token; derived, so there is no extra setting."""
    return hmac.new(secret_key.encode(), f"webhook:{bot_id}".encode(), hashlib.sha256).hexdigest()[:64]
