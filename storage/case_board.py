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

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

import orjson
from redis.asyncio import Redis

from dialogs.ports import CaseRoute

# Routing outlives any realistic conversation; resolved cases are dropped explicitly (kept a day for late taps).
ROUTE_TTL_SECONDS = 60 * 60 * 24 * 90
RESOLVED_TTL_SECONDS = 60 * 60 * 24

log = logging.getLogger(__name__)


def _route(raw: bytes | str) -> CaseRoute:
    data = orjson.loads(raw)
    known = CaseRoute.__dataclass_fields__
    return CaseRoute(**{k: v for k, v in data.items() if k in known})  # a newer process's extra fields


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
        return _route(raw) if raw else None

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

    # ---------------------------------------------------------------------- the advisors' pages' feed
    async def announce(self, case_id: int, kind: str) -> None:
        """A case changed: bump the queue's version (what polling pages compare) and publish it (what the
        pages' server-sent events relay), so every API worker's open pages hear it."""
        try:
            version = await self.redis.incr(self._k("version"))
            await self.redis.publish(self._k("feed"), orjson.dumps({"case": case_id, "kind": kind, "v": version}))
        except Exception as exc:  # the page polls; a lost announcement is caught up on its next poll
            log.warning("case feed not announced: %s", type(exc).__name__)

    async def version(self) -> int:
        return int(await self.redis.get(self._k("version")) or 0)

    async def listen(self) -> AsyncIterator[dict[str, Any]]:
        """The changes announced from now on, by any process, until the caller stops iterating."""
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(self._k("feed"))
        try:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=15.0)
                if message is None:
                    yield {}  # nothing for a while: the caller may send a keep-alive
                    continue
                yield orjson.loads(message["data"])
        finally:
            await pubsub.unsubscribe()
            await pubsub.aclose()


class LocalCaseBoard:
    """The same board in this process's memory, for an API run without Redis (one process, no bot): the
    advisors' page works, with its live updates from this process only."""

    def __init__(self) -> None:
        self.routes: dict[int, CaseRoute] = {}
        self.users: dict[str, int] = {}
        self.threads: dict[int, int] = {}
        self.messages: dict[int, int] = {}
        self._version = 0
        self._changed = asyncio.Condition()
        self._last: dict[str, Any] = {}

    async def save(self, route: CaseRoute) -> None:
        self.routes[route.case_id] = CaseRoute(**asdict(route))
        self.users[route.user_key] = route.case_id
        if route.thread_id is not None:
            self.threads[route.thread_id] = route.case_id

    async def get(self, case_id: int | str) -> CaseRoute | None:
        route = self.routes.get(int(case_id))
        return CaseRoute(**asdict(route)) if route else None

    async def map_message(self, message_id: int, case_id: int) -> None:
        self.messages[message_id] = case_id

    async def find(self, *, thread_id: int | None, reply_to: int | None) -> CaseRoute | None:
        case_id = self.threads.get(thread_id) if thread_id is not None else None
        if case_id is None and reply_to is not None:
            case_id = self.messages.get(reply_to)
        return await self.get(case_id) if case_id is not None else None

    async def for_user(self, user_key: str) -> CaseRoute | None:
        case_id = self.users.get(user_key)
        return await self.get(case_id) if case_id is not None else None

    async def close(self, route: CaseRoute) -> None:
        route.status = "resolved"
        self.routes[route.case_id] = CaseRoute(**asdict(route))
        self.users.pop(route.user_key, None)

    async def forget_user(self, user_key: str) -> CaseRoute | None:
        route = await self.for_user(user_key)
        if route is not None:
            self.routes.pop(route.case_id, None)
            self.users.pop(user_key, None)
        return route

    async def announce(self, case_id: int, kind: str) -> None:
        self._version += 1
        async with self._changed:
            self._last = {"case": case_id, "kind": kind, "v": self._version}
            self._changed.notify_all()

    async def version(self) -> int:
        return self._version

    async def listen(self) -> AsyncIterator[dict[str, Any]]:
        seen = self._version
        while True:
            async with self._changed:

                def changed(seen: int = seen) -> bool:
                    return self._version != seen

                try:
                    await asyncio.wait_for(self._changed.wait_for(changed), 15.0)
                except TimeoutError:
                    yield {}
                    continue
                seen = self._version
                last = dict(self._last)
            yield last
