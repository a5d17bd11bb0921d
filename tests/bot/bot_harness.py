"""The production bot wired to real parts for tests and the benchmark: the fake Telegram server over HTTP,
a real Redis (FSM storage, event isolation, idempotency, relay), the real engine, and storage on SQLite."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from cryptography.fernet import Fernet
from fake_telegram import FakeTelegram
from redis.asyncio import Redis

from bot.app import (
    DIALOG_TTL,
    BotDeps,
    key_builder,
    make_bot,
    make_dispatcher,
    production_dispatcher,
    redis_client,
)
from bot.middlewares import MemorySeenUpdates
from bot.relay import RelayBoard
from core.config import Settings
from core.handoff import handoff_url
from engine.assess import get_assessor
from engine.policy import default_policy
from storage.aio import AsyncStorage
from storage.events import EventSink, SpoolOutbox
from storage.repositories import Storage

ADVISORS_CHAT = -1001234567890
TEST_PSEUDONYM_KEY = "test-pseudonym-key"
SECRET = "test-secret-key-for-handoff-links"


@dataclass
class BotHarness:
    tg: FakeTelegram
    bot: Bot
    dp: Dispatcher
    deps: BotDeps
    redis: Redis
    storage: Storage
    sink: EventSink

    async def feed(self, update: dict[str, Any], *, settle: bool = True) -> Any:
        """Hand one update to the production dispatcher (as a webhook would) and wait until it is handled;
        `settle`: also until the background work it started is done (a case posted to the advisors)."""
        result = await self.dp.feed_update(self.bot, Update.model_validate(update, context={"bot": self.bot}))
        if settle:
            await self.deps.settle()
        return result

    def state_key(self, chat_id: int, user_id: int | None = None) -> str:
        from aiogram.fsm.storage.base import StorageKey

        key = StorageKey(bot_id=self.bot.id, chat_id=chat_id, user_id=user_id or chat_id)
        return key_builder().build(key, "data")

    async def dialog(self, chat_id: int) -> dict[str, Any] | None:
        data = await self.dp.storage.get_data(key=_storage_key(self.bot.id, chat_id))
        return data.get("dialog")

    def events(self) -> list[tuple[str, str | None, dict[str, Any]]]:
        from sqlalchemy import select

        from storage.models import Event

        self.sink.flush()
        with self.storage.session() as s:
            rows = s.scalars(select(Event).order_by(Event.occurred_at)).all()
            return [(r.name, r.step, dict(r.properties or {})) for r in rows]

    async def close(self) -> None:
        await self.deps.settle()
        await self.bot.session.close()
        await self.dp.storage.close()
        self.storage.dispose()


def _storage_key(bot_id: int, chat_id: int) -> Any:
    from aiogram.fsm.storage.base import StorageKey

    return StorageKey(bot_id=bot_id, chat_id=chat_id, user_id=chat_id)


async def build_harness(
    *,
    redis_url: str | None,
    db_url: str,
    data_dir: Path,
    forum: bool = True,
    ttl: timedelta = DIALOG_TTL,
    bot_id: int | None = None,
    board_redis_url: str | None = None,
    api_url: str | None = None,
) -> BotHarness:
    """redis_url=None: aiogram's MemoryStorage and in-process idempotency (the benchmark's baseline). The
    escalation relay board stays on Redis (`board_redis_url`) in both cases; only escalations touch it."""
    bot_id = bot_id or random.randint(10_000_000, 99_999_999)  # a fresh key space in a shared Redis
    tg = FakeTelegram(bot_id, forum_chats={ADVISORS_CHAT} if forum else set())
    if api_url is None:  # else a server in another process (the benchmark); `tg` only builds updates
        await tg.start()
    bot = make_bot(tg.token, api_url or tg.base_url)
    policy = default_policy()
    storage = Storage(
        db_url, pseudonym_key=TEST_PSEUDONYM_KEY, fernet_keys=Fernet.generate_key().decode(), data_dir=data_dir
    )
    sink = EventSink(storage.engine, SpoolOutbox(data_dir / "outbox", fsync=False))
    settings = Settings(ASESOR_SECRET_KEY=SECRET, API_PUBLIC_URL="https://asesor.example.mx")
    assessor = get_assessor(policy)
    deps = BotDeps(
        policy=policy,
        assess=assessor.assess,
        store=AsyncStorage(storage),  # type: ignore[arg-type]
        events=sink,
        board=None,  # type: ignore[arg-type]
        advisors_chat_id=ADVISORS_CHAT,
        handoff_url=lambda key, aid: handoff_url(key, aid, settings=settings),
    )
    if redis_url is not None:
        redis = redis_client(redis_url)
        deps.board = RelayBoard(redis, bot_id)
        dp = production_dispatcher(deps, redis, ttl)
    else:
        from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation

        assert board_redis_url, "the relay board needs a Redis even with MemoryStorage"
        redis = redis_client(board_redis_url)
        deps.board = RelayBoard(redis, bot_id)
        dp = make_dispatcher(deps, storage=MemoryStorage(), isolation=SimpleEventIsolation(), seen=MemorySeenUpdates())
    await bot.me()  # bot.id comes from the token; getMe checks the server answers
    return BotHarness(tg, bot, dp, deps, redis, storage, sink)


GOOD_ANSWERS = {
    "trabajo_tiempo": "mas_2a",
    "banco_nomina": "bbva",
    "historial_crediticio": "excelente",
    "creditos_vigentes": "1_2",
    "atrasos_12_meses": "ninguno",
    "enganche": "35_mas",
    "prioridad_financiamiento": "pagos_fijos",
    "ingreso_mensual": "20k_30k",  # holds the incomes the tests type ($23,500, $25,000)
}


def label(question: str, code: str) -> str:
    return default_policy().answers[question][code]


async def run_to_summary(
    h: BotHarness,
    user: Any,
    answers: dict[str, str] | None = None,
    *,
    name: str = "María López",
    birth_year: str = "1988",
    phone: str | None = "55 1234 5678",
    income: str | None = None,
    price: str = "$350,000",
    term: int = 48,
    timings: list[float] | None = None,
) -> None:
    """Drive one applicant from /start to the summary, the way a person would (texts and button presses)."""
    import time

    answers = answers or GOOD_ANSWERS

    async def step(update: dict[str, Any]) -> None:
        t0 = time.perf_counter()
        await h.feed(update)
        if timings is not None:
            timings.append(time.perf_counter() - t0)

    await step(user.text("/start"))
    await step(user.press("Acepto"))
    await step(user.text(name))
    await step(user.text(birth_year))
    await step(user.text(phone) if phone else user.press("Prefiero no darlo"))
    for q, code in answers.items():
        await step(user.press(label(q, code)))
    await step(user.text(income) if income else user.press("Prefiero no decir"))
    await step(user.text(price))
    await step(user.press(f"{term} meses"))


async def step_of(h: BotHarness, chat_id: int) -> str | None:
    dialog = await h.dialog(chat_id)
    return dialog["step"] if dialog else None
