"""Routing between the advisors' chat and applicants, kept in Redis so every bot process sees it.

One escalation = one thread (forum topic) in the advisors' chat when the chat is a forum, as in the
apkuzmin/telegram-support-bot layout; otherwise every message the bot posts there for an escalation is
mapped to it, and advisors answer by replying to one of them. Records hold Telegram chat ids because the bot
must write back; they are operational routing data (never logged, deleted with the applicant's data).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from redis.asyncio import Redis

# Routing outlives any realistic conversation; resolved escalations are dropped explicitly.
RELAY_TTL_SECONDS = 60 * 60 * 24 * 90


@dataclass
class Route:
    escalation_id: int
    user_key: str
    applicant_chat_id: int
    applicant_user_id: int
    thread_id: int | None = None
    card_message_id: int | None = None
    status: str = "open"  # open | claimed | resolved
    advisor_id: int | None = None
    advisor_name: str | None = None
    card_text: str | None = None  # the case card without its status line, to re-render on take/resolve


class RelayBoard:
    def __init__(self, redis: Redis, bot_id: int, prefix: str = "asesor:relay") -> None:
        self.redis = redis
        self.prefix = f"{prefix}:{bot_id}"

    def _k(self, *parts: Any) -> str:
        return ":".join([self.prefix, *map(str, parts)])

    async def save(self, route: Route) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self._k("esc", route.escalation_id), json.dumps(asdict(route)), ex=RELAY_TTL_SECONDS)
        pipe.set(self._k("user", route.user_key), route.escalation_id, ex=RELAY_TTL_SECONDS)
        if route.thread_id is not None:
            pipe.set(self._k("thread", route.thread_id), route.escalation_id, ex=RELAY_TTL_SECONDS)
        await pipe.execute()

    async def get(self, escalation_id: int | str) -> Route | None:
        raw = await self.redis.get(self._k("esc", escalation_id))
        return Route(**json.loads(raw)) if raw else None

    async def map_message(self, message_id: int, escalation_id: int) -> None:
        await self.redis.set(self._k("msg", message_id), escalation_id, ex=RELAY_TTL_SECONDS)

    async def find(self, *, thread_id: int | None, reply_to: int | None) -> Route | None:
        """The escalation an advisors' chat message belongs to: by its thread, else by what it replies to."""
        for kind, value in (("thread", thread_id), ("msg", reply_to)):
            if value is None:
                continue
            esc = await self.redis.get(self._k(kind, value))
            if esc:
                return await self.get(esc.decode() if isinstance(esc, bytes) else esc)
        return None

    async def for_user(self, user_key: str) -> Route | None:
        esc = await self.redis.get(self._k("user", user_key))
        return await self.get(esc.decode() if isinstance(esc, bytes) else esc) if esc else None

    async def close(self, route: Route) -> None:
        route.status = "resolved"
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self._k("esc", route.escalation_id), json.dumps(asdict(route)), ex=60 * 60 * 24)
        pipe.delete(self._k("user", route.user_key))
        await pipe.execute()

    async def forget_user(self, user_key: str) -> Route | None:
        """On erasure: drop the routing of the applicant's open escalation (returns it to notify advisors)."""
        route = await self.for_user(user_key)
        if route is not None:
            pipe = self.redis.pipeline(transaction=True)
            pipe.delete(self._k("esc", route.escalation_id), self._k("user", user_key))
            if route.thread_id is not None:
                pipe.delete(self._k("thread", route.thread_id))
            await pipe.execute()
        return route
