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
from dialogs.card import Engine
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
    engine: Engine,
    settings: Settings,
    advisors_chat_id: int | None,
) -> TelegramBot:
    courier = TelegramCourier(api, parts.desk, advisors_chat_id, elsewhere=parts.mail)
    service = conversation_service(parts, engine=engine, courier=courier, settings=settings)
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
    while the other serves Redis; benchmarks/surfaces.py saw the p95 double in those runs."""
    allowed = sorted(os.sched_getaffinity(0))
    cpu = allowed[index % len(allowed)]
    os.sched_setaffinity(0, {cpu})
    return cpu


def webhook_secret(key: str, bot_id: int) -> str:
    """The secret Telegram echoes in X-Telegram-Bot-Api-Secret-Token, derived from ASESOR_WEBHOOK_SECRET (a key used
    for nothing else) and the bot's id, so two bots on one key still get different secrets; hex fits Telegram's
    allowed characters."""
    return hmac.new(key.encode(), f"webhook:{bot_id}".encode(), hashlib.sha256).hexdigest()[:64]


def webhook_secrets(keys: list[str], bot_id: int) -> list[str]:
    """The secrets of the current key and, during a rotation, of the previous one (`Settings.signing_keys`)."""
    return [webhook_secret(k, bot_id) for k in keys]


def accepts_secret(given: str, accepted: tuple[str, ...]) -> bool:
    """Whether a webhook call's secret header is one of `accepted`, in constant time."""
    return any(hmac.compare_digest(given.encode(), s.encode()) for s in accepted)
