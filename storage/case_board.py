"""Where each open case's conversations are, kept in Redis so that every process of every surface sees it.

A route ties a case (an escalation row) to the applicant's conversation (an address such as `telegram:123`
or `web:<session>`), to the advisor who holds it, and to where it sits in the advisors' Telegram chat (its
forum topic and the card's message): the bot posts the card and relays messages, the web chat and the API
read it. In a plain group (no topics) every message the bot posts there for a case is mapped to it, and
advisors answer by replying to one of them, as in apkuzmin/telegram-support-bot. Routes hold conversation ids
because the service must write back; they are operational routing data (never logged, dropped with the
applicant's data).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import orjson
from redis.asyncio import Redis

from dialogs.ports import CaseRoute

# Routing outlives any realistic conversation; resolved cases are dropped explicitly (kept a day for late taps).
ROUTE_TTL_SECONDS = 60 * 60 * 24 * 90
RESOLVED_TTL_SECONDS = 60 * 60 * 24


class CaseBoard:
    """`dialogs.ports.CaseBoard`: routes by case, by applicant and, for the advisors' Telegram chat, by topic
    and by message."""

    def __init__(self, redis: Redis, prefix: str = "asesor:case") -> None:
        self.redis, self.prefix = redis, prefix

    def _k(self, *parts: Any) -> str:
        return ":".join([self.prefix, *map(str, parts)])

    async def save(self, route: CaseRoute) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self._k("id", route.case_id), orjson.dumps(asdict(route)), ex=ROUTE_TTL_SECONDS)
        pipe.set(self._k("user", route.user_key), route.case_id, ex=ROUTE_TTL_SECONDS)
        if route.thread_id is not None:
            pipe.set(self._k("thread", route.thread_id), route.case_id, ex=ROUTE_TTL_SECONDS)
        await pipe.execute()

    async def get(self, case_id: int | str) -> CaseRoute | None:
        raw = await self.redis.get(self._k("id", case_id))
        return CaseRoute(**orjson.loads(raw)) if raw else None

    async def map_message(self, message_id: int, case_id: int) -> None:
        """A message the bot posted in the advisors' chat for this case (a reply to it reaches the case)."""
        await self.redis.set(self._k("msg", message_id), case_id, ex=ROUTE_TTL_SECONDS)

    async def find(self, *, thread_id: int | None, reply_to: int | None) -> CaseRoute | None:
        """The case an advisors' chat message belongs to: by its topic, else by the message it replies to."""
        for kind, value in (("thread", thread_id), ("msg", reply_to)):
            if value is None:
                continue
            case_id = await self.redis.get(self._k(kind, value))
            if case_id:
                return await self.get(case_id.decode() if isinstance(case_id, bytes) else case_id)
        return None

    async def for_user(self, user_key: str) -> CaseRoute | None:
        case_id = await self.redis.get(self._k("user", user_key))
        return await self.get(case_id.decode() if isinstance(case_id, bytes) else case_id) if case_id else None

    async def close(self, route: CaseRoute) -> None:
        route.status = "resolved"
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self._k("id", route.case_id), orjson.dumps(asdict(route)), ex=RESOLVED_TTL_SECONDS)
        pipe.delete(self._k("user", route.user_key))
        await pipe.execute()

    async def forget_user(self, user_key: str) -> CaseRoute | None:
        """On erasure: drop the routing of the applicant's open case (returned, to tell the advisors)."""
        route = await self.for_user(user_key)
        if route is not None:
            pipe = self.redis.pipeline(transaction=True)
            pipe.delete(self._k("id", route.case_id), self._k("user", user_key))
            if route.thread_id is not None:
                pipe.delete(self._k("thread", route.thread_id))
            await pipe.execute()
        return route
