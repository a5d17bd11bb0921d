"""Update-level middlewares: process each Telegram update at most once.

Telegram re-delivers an update when a webhook answer is slow or lost, and two bot processes polling by
mistake see the same updates; without a guard, an answer would be counted twice and a step skipped. The
guard is a `SET key NX EX ttl` on the update id before any handler runs (for an update of a chat, in the same
Redis script that takes the chat's lock, bot/fsm.py): the first process to set it
handles the update, every later copy is dropped. The key is never released, so an update that failed half
way is not replayed on top of the state it already changed; the error handler tells the applicant to retry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiogram import BaseMiddleware
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.types import TelegramObject, Update
from redis.asyncio import Redis

from bot.fsm import first_time_checked_with_lock

log = logging.getLogger(__name__)

# Telegram keeps an undelivered update for 24 hours; remember ids a little longer than that.
SEEN_TTL_SECONDS = 60 * 60 * 26


class SeenUpdates(Protocol):
    async def first_time(self, bot_id: int, update_id: int) -> bool: ...


class RedisSeenUpdates:
    def __init__(self, redis: Redis, ttl: int = SEEN_TTL_SECONDS, prefix: str = "asesor:update") -> None:
        self.redis, self.ttl, self.prefix = redis, ttl, prefix

    async def first_time(self, bot_id: int, update_id: int) -> bool:
        return bool(await self.redis.set(f"{self.prefix}:{bot_id}:{update_id}", 1, nx=True, ex=self.ttl))


class MemorySeenUpdates:
    """One process only (tests, the MemoryStorage baseline of the benchmark)."""

    def __init__(self, ttl: int = SEEN_TTL_SECONDS) -> None:
        self.ttl = ttl
        self._seen: dict[tuple[int, int], float] = {}

    async def first_time(self, bot_id: int, update_id: int) -> bool:
        now = time.monotonic()
        if len(self._seen) > 100_000:
            self._seen = {k: t for k, t in self._seen.items() if now - t < self.ttl}
        key = (bot_id, update_id)
        if key in self._seen and now - self._seen[key] < self.ttl:
            return False
        self._seen[key] = now
        return True


class IdempotencyMiddleware(BaseMiddleware):
    def __init__(self, seen: SeenUpdates) -> None:
        self.seen = seen
        self.duplicates = 0

    async def _first_time(self, bot_id: int, update_id: int) -> bool:
        checked = first_time_checked_with_lock(update_id)  # done with the chat's lock (bot/fsm.py)
        return checked if checked is not None else await self.seen.first_time(bot_id, update_id)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if isinstance(event, Update) and not await self._first_time(data["bot"].id, event.update_id):
            self.duplicates += 1
            log.info("duplicate update %s dropped", event.update_id)
            return UNHANDLED
        return await handler(event, data)
