"""The production bot wired to real parts for tests and the benchmark, under either framework (aiogram or
python-telegram-bot): the fake Telegram server over HTTP, a real Redis (dialog state, lock, idempotency, case
routes, mailbox), the real engine, and storage on SQLite."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.fernet import Fernet
from fake_telegram import FakeTelegram
from redis.asyncio import Redis

from bot.app import TelegramBot, telegram_bot
from core.config import Settings
from core.conversation import ConversationParts, conversation_parts
from dialogs.state import open_personal
from engine.policy import Policy, default_policy
from storage.dialog_state import DIALOG_TTL, DialogKey, DialogStore, redis_client
from storage.events import EventSink, SpoolOutbox
from storage.repositories import Storage
from tests.models import get_assessor
from tests.samples import strong_answers

ADVISORS_CHAT = -1001234567890
TEST_PSEUDONYM_KEY = "test-pseudonym-key"
SECRET = "test-secret-key-for-handoff-links"
FRAMEWORKS = ("aiogram", "ptb")


@dataclass(frozen=True)
class _Framework:
    """What differs between the frameworks: the app on that framework's Bot API client, and how to drive it."""

    app: TelegramBot
    feed: Callable[[dict[str, Any]], Awaitable[None]]
    close: Callable[[], Awaitable[None]]
    polling: Callable[[], Awaitable[Any]]
    stop_polling: Callable[[], Awaitable[None]]
    webhook: Callable[[str], web.Application]


@dataclass
class BotHarness:
    framework: str
    tg: FakeTelegram
    redis: Redis
    storage: Storage
    sink: EventSink
    bot_id: int
    assess: Any
    _driver: _Framework
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def app(self) -> TelegramBot:
        return self._driver.app

    @property
    def parts(self) -> ConversationParts:
        return self.app.parts

    @property
    def policy(self) -> Policy:
        return self.parts.flow.policy

    async def feed(self, update: dict[str, Any], *, settle: bool = True) -> None:
        """Hand one update to the framework (as a webhook would) and wait until it is handled; `settle`: also
        until the background work it started is done (events, a case posted to the advisors)."""
        await self._driver.feed(update)
        if settle:
            await self.settle()

    async def settle(self) -> None:
        await self.app.settle()

    def key(self, chat_id: int, user_id: int | None = None) -> DialogKey:
        return DialogKey.telegram(self.bot_id, chat_id, user_id or chat_id)

    def state_key(self, chat_id: int, user_id: int | None = None) -> str:
        return self.key(chat_id, user_id).data

    async def stored(self, chat_id: int) -> dict[str, Any] | None:
        """The dialog as Redis holds it (personal fields sealed)."""
        return await self.parts.dialogs.read(self.key(chat_id))

    async def dialog(self, chat_id: int) -> dict[str, Any] | None:
        """The dialog with its personal fields readable (what the service works on)."""
        return open_personal(await self.stored(chat_id), self.parts.store)

    async def set_dialog(self, chat_id: int, dialog: dict[str, Any] | None) -> None:
        await self.parts.dialogs.write(self.key(chat_id), dialog)

    async def start_polling(self) -> Any:
        return await self._driver.polling()

    async def stop_polling(self) -> None:
        await self._driver.stop_polling()

    def webhook_app(self, secret: str) -> web.Application:
        """An aiohttp app serving the framework's webhook endpoint (bot.app.WEBHOOK_PATH)."""
        return self._driver.webhook(secret)

    def events(self) -> list[tuple[str, str | None, dict[str, Any]]]:
        from sqlalchemy import select

        from storage.models import Event

        self.sink.flush()
        with self.storage.session() as s:
            rows = s.scalars(select(Event).order_by(Event.occurred_at)).all()
            return [(r.name, r.step, dict(r.properties or {})) for r in rows]

    async def close(self) -> None:
        await self.settle()
        await self._driver.close()
        await self.redis.aclose()
        self.storage.dispose()


async def build_harness(
    *,
    redis_url: str,
    db_url: str,
    data_dir: Path,
    framework: str = "aiogram",
    forum: bool = True,
    ttl: timedelta = DIALOG_TTL,
    bot_id: int | None = None,
    api_url: str | None = None,
    namespace: str | None = None,
    storage: Storage | None = None,
) -> BotHarness:
    """`api_url`: a fake server in another process (the benchmark); `tg` then only builds updates.
    `namespace`: the case routes' and mailboxes' key space (shared with a web chat under test)."""
    bot_id = bot_id or random.randint(10_000_000, 99_999_999)  # a fresh key space in a shared Redis
    tg = FakeTelegram(bot_id, forum_chats={ADVISORS_CHAT} if forum else set())
    if api_url is None:
        await tg.start()
    policy = default_policy()
    storage = storage or Storage(
        db_url, pseudonym_key=TEST_PSEUDONYM_KEY, fernet_keys=Fernet.generate_key().decode(), data_dir=data_dir
    )
    sink = EventSink(storage.engine, SpoolOutbox(data_dir / "outbox", fsync=False))
    settings = Settings(ASESOR_HANDOFF_SECRET=SECRET, API_PUBLIC_URL="https://asesor.example.mx")
    assessor = get_assessor(policy)
    redis = redis_client(redis_url)
    parts = conversation_parts(
        policy,
        storage,
        sink,
        redis,
        namespace=namespace or f"asesor-test-{bot_id}",
        dialogs=DialogStore(redis, ttl=ttl),
    )

    def app_on(api: Any) -> TelegramBot:  # the app on the framework's Bot API client
        return telegram_bot(
            api, parts, bot_id=bot_id, engine=assessor, settings=settings, advisors_chat_id=ADVISORS_CHAT
        )

    build = {"aiogram": _aiogram, "ptb": _ptb}[framework]
    driver = await build(tg.token, api_url or tg.base_url, app_on)
    return BotHarness(framework, tg, redis, storage, sink, bot_id, assessor.assess, driver)


async def _aiogram(token: str, base_url: str, app_on: Callable[[Any], TelegramBot]) -> _Framework:
    import asyncio

    from aiogram.types import Update
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler

    from bot.aiogram_bot import ALLOWED_UPDATES, AiogramApi, AsesorDispatcher, make_bot
    from bot.app import WEBHOOK_PATH

    bot = make_bot(token, base_url)
    app = app_on(AiogramApi(bot))
    dp = AsesorDispatcher(app)
    await bot.me()  # bot.id comes from the token; getMe checks the server answers

    async def feed(update: dict[str, Any]) -> None:
        await dp.feed_update(bot, Update.model_validate(update, context={"bot": bot}))

    async def polling() -> Any:
        return asyncio.create_task(
            dp.start_polling(bot, handle_signals=False, polling_timeout=1, allowed_updates=ALLOWED_UPDATES)
        )

    def webhook(secret: str) -> web.Application:
        aio = web.Application()
        SimpleRequestHandler(dispatcher=dp, bot=bot, secret_token=secret, handle_in_background=False).register(
            aio, path=WEBHOOK_PATH
        )
        return aio

    return _Framework(app, feed, bot.session.close, polling, dp.stop_polling, webhook)


async def _ptb(token: str, base_url: str, app_on: Callable[[Any], TelegramBot]) -> _Framework:
    from telegram import Update

    from bot.app import WEBHOOK_PATH
    from bot.ptb_bot import ALLOWED_UPDATES, PtbApi, attach, make_application, webhook_app

    application = make_application(token, base_url)
    app = app_on(PtbApi(application.bot))
    attach(application, app)
    await application.initialize()  # getMe: the server answers

    async def feed(update: dict[str, Any]) -> None:
        await application.process_update(Update.de_json(update, application.bot))

    async def polling() -> Any:
        assert application.updater is not None
        await application.start()
        await application.updater.start_polling(poll_interval=0.0, timeout=1, allowed_updates=ALLOWED_UPDATES)
        return None

    async def stop_polling() -> None:
        assert application.updater is not None
        await application.updater.stop()
        await application.stop()

    def webhook(secret: str) -> web.Application:
        return webhook_app(application, secret, path=WEBHOOK_PATH)

    return _Framework(app, feed, application.shutdown, polling, stop_polling, webhook)


# a band that holds the incomes the tests type ($23,500, $25,000)
GOOD_ANSWERS = {**strong_answers(), "ingreso_mensual": "20k_30k"}


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
