"""Assembly of the production bot: Bot (configurable API server), Dispatcher (Redis FSM storage with bot id
and destiny in the keys, Redis event isolation, update idempotency), routers, polling and webhook runners."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder
from aiogram.types import Update
from redis.asyncio import BlockingConnectionPool, Redis

from bot.fsm import DialogIsolation, DialogRedisStorage, feeding
from bot.middlewares import IdempotencyMiddleware, RedisSeenUpdates, SeenUpdates
from bot.ports import ApplicantStore, EventSink
from bot.relay import RelayBoard
from bot.session import JsonAiohttpSession
from dialogs.card import Assess
from dialogs.flow import Flow
from engine.policy import Policy

log = logging.getLogger(__name__)

# An applicant may leave and come back days later: keep the dialog for two weeks of inactivity.
DIALOG_TTL = timedelta(days=14)
# Lock of one chat while one of its updates is handled; polled every 10 ms (redis-py's default is 100 ms,
# which would add up to 0.1 s to the second of two quick clicks).
ISOLATION_LOCK = {"timeout": 60, "sleep": 0.01, "blocking_timeout": 30}
WEBHOOK_PATH = "/telegram/webhook"
REDIS_MAX_CONNECTIONS = 256
REDIS_POOL_TIMEOUT = 10  # seconds an update may wait for a Redis connection before it fails


@dataclass
class BotDeps:
    """Everything the handlers need; passed to them as the `deps` argument (dispatcher workflow data)."""

    policy: Policy
    assess: Assess  # engine: AssessmentRequest -> AssessmentResult (synchronous, CPU-bound)
    store: ApplicantStore
    events: EventSink
    board: RelayBoard
    advisors_chat_id: int | None
    handoff_url: Callable[[str, str], str]  # (user_key, assessment_id) -> {API_PUBLIC_URL}/solicitud/{token}
    flow: Flow = field(init=False)
    # work an update started but the applicant need not wait for (posting a case to the advisors' chat)
    background: set[asyncio.Task[None]] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self.flow = Flow(self.policy)

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run `work` after the update's answer; a failure is logged (its type only: it may quote input)."""
        task = asyncio.create_task(work, name=name)
        self.background.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("background %s failed: %s", task.get_name(), type(exc).__name__)
            log.debug("background %s traceback", task.get_name(), exc_info=exc)

    async def settle(self) -> None:
        """Wait for the background work (shutdown, and tests that look at its result)."""
        while self.background:
            await asyncio.gather(*self.background, return_exceptions=True)


def redis_client(url: str, max_connections: int = REDIS_MAX_CONNECTIONS) -> Redis:
    """A client whose pool *waits* for a free connection. redis-py's default pool raises
    MaxConnectionsError at once when 100 connections are in use, which a burst of concurrent applicants
    (each update holds the chat lock and makes several calls) reaches easily."""
    pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=REDIS_POOL_TIMEOUT)
    return Redis(connection_pool=pool)


def key_builder() -> DefaultKeyBuilder:
    # bot id: one Redis can serve several bots (staging + production); destiny: room for more than one FSM
    return DefaultKeyBuilder(prefix="asesor:fsm", with_bot_id=True, with_destiny=True)


def redis_storage(
    redis: Redis, ttl: timedelta = DIALOG_TTL, seen: RedisSeenUpdates | None = None
) -> tuple[DialogRedisStorage, DialogIsolation]:
    """`seen`: the idempotency guard's keys, checked in the same script that takes a chat's lock."""
    storage = DialogRedisStorage(redis, key_builder=key_builder(), state_ttl=ttl, data_ttl=ttl)
    seen_keys = {"seen_prefix": seen.prefix, "seen_ttl": seen.ttl} if seen is not None else {}
    return storage, storage.create_isolation(**ISOLATION_LOCK, **seen_keys)


class AsesorDispatcher(Dispatcher):
    """A Dispatcher that tells the chat lock which update it is taken for (bot/fsm.py `feeding`)."""

    async def feed_update(self, bot: Bot, update: Update, **kwargs: Any) -> Any:
        token = feeding.set((bot.id, update.update_id))
        try:
            return await super().feed_update(bot, update, **kwargs)
        finally:
            feeding.reset(token)


# aiogram parses every answer with `Response[method.__returning__]`, a pydantic generic model; pydantic keeps
# those in a *weak* cache, so after a garbage collection each is rebuilt (milliseconds each, ~12 % of the
# bot's CPU under load in benchmarks/bot.py). Holding them here keeps the cache warm.
_PINNED_RESPONSE_TYPES: list[type] = []


def _pin_response_types() -> None:
    if _PINNED_RESPONSE_TYPES:
        return
    from aiogram import methods
    from aiogram.methods.base import Response

    used = (
        methods.GetMe, methods.GetUpdates, methods.SetWebhook, methods.DeleteWebhook, methods.SetMyCommands,
        methods.SendMessage, methods.EditMessageText, methods.EditMessageReplyMarkup, methods.AnswerCallbackQuery,
        methods.DeleteMessage, methods.CopyMessage, methods.CreateForumTopic, methods.CloseForumTopic,
    )  # fmt: skip
    _PINNED_RESPONSE_TYPES.extend(Response[m.__returning__] for m in used)  # type: ignore[misc]


def make_bot(token: str, api_url: str | None = None, *, session: AiohttpSession | None = None) -> Bot:
    """A Bot that talks to `api_url` (Telegram's, a self-hosted telegram-bot-api, or the test server)."""
    _pin_response_types()
    if session is None:
        session = JsonAiohttpSession(api=TelegramAPIServer.from_base(api_url)) if api_url else JsonAiohttpSession()
    return Bot(token=token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def make_dispatcher(
    deps: BotDeps,
    *,
    storage: BaseStorage,
    isolation: BaseEventIsolation,
    seen: SeenUpdates,
) -> Dispatcher:
    from bot import advisors, applicant

    dp = AsesorDispatcher(storage=storage, events_isolation=isolation, deps=deps)
    dp.update.outer_middleware(IdempotencyMiddleware(seen))
    dp.include_router(advisors.make_router())
    dp.include_router(applicant.make_router())
    dp.errors.register(applicant.on_error)
    return dp


def production_dispatcher(deps: BotDeps, redis: Redis, ttl: timedelta = DIALOG_TTL) -> Dispatcher:
    seen = RedisSeenUpdates(redis)
    storage, isolation = redis_storage(redis, ttl, seen)
    return make_dispatcher(deps, storage=storage, isolation=isolation, seen=seen)


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


async def run_polling(bot: Bot, dp: Dispatcher) -> None:
    await bot.delete_webhook(drop_pending_updates=False)
    await dp.start_polling(bot, handle_signals=True, allowed_updates=dp.resolve_used_update_types())


async def run_webhook(
    bot: Bot, dp: Dispatcher, *, public_url: str, secret: str, host: str, port: int, reuse_port: bool = False
) -> None:
    """Serve Telegram's webhook; `reuse_port`: other bot processes listen on the same port (`--workers`)."""
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
    from aiohttp import web

    app = web.Application()
    SimpleRequestHandler(dispatcher=dp, bot=bot, secret_token=secret).register(app, path=WEBHOOK_PATH)
    setup_application(app, dp, bot=bot)

    async def on_startup(_: Any) -> None:
        await bot.set_webhook(
            public_url.rstrip("/") + WEBHOOK_PATH,
            secret_token=secret,
            allowed_updates=dp.resolve_used_update_types(),
        )

    app.on_startup.append(on_startup)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
    log.info("webhook listening on %s:%s%s", host, port, WEBHOOK_PATH)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
