"""Revocation reaches every API worker at once: a logout or password change publishes the user id on a Redis
channel, and each worker's listener drops its cached row of that user, so the next call re-reads the token
version instead of trusting the cache for up to ASESOR_AUTH_CACHE_SECONDS.

Best effort by design: the database's `token_version` is the truth. If Redis is down or a message is lost, a
worker still refuses the old token when its cached row expires. One channel for every namespace: a message only
costs a worker one database read, so a user id of another deployment on the same Redis does no harm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

log = logging.getLogger("asesor.api")

CHANNEL = "asesor:auth:revoked"


def publish(redis_url: str | None, user_id: int) -> None:
    """Tell the workers (from a route's thread or the CLI); never raises."""
    if not redis_url:
        return
    from redis import Redis

    try:
        with Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2) as client:
            client.publish(CHANNEL, str(user_id))
    except Exception as exc:  # the cache expiry still ends the old token's life
        log.warning("revocation not published: %s", type(exc).__name__, extra={"throttle": "revocation-publish"})


class RevocationListener:
    """Drops `cache[user_id]` for every id published on CHANNEL; runs as a task of the app's lifespan."""

    def __init__(self, redis_url: str | None, cache: dict[int, Any]) -> None:
        self._url, self._cache = redis_url, cache
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._url and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _run(self) -> None:
        from redis.asyncio import Redis

        while True:
            try:
                async with Redis.from_url(str(self._url)) as client, client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            with contextlib.suppress(TypeError, ValueError):
                                self._cache.pop(int(message["data"]), None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis down: retry; meanwhile the cache expiry bounds a revocation
                log.warning("revocation listener: %s", type(exc).__name__, extra={"throttle": "revocation-listener"})
                await asyncio.sleep(2.0)
