"""The Redis a long-running command talks to (REDIS_URL, or a local one on the default port), pinged before the
command starts its work, so that a Redis that is not there is one JSON error (exit 4), not a traceback later."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from cli.errors import ExitCode, fail

LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"


async def reachable_redis(settings: Any, hint: str) -> tuple[Redis, str]:
    """The client and its URL, or exit 4 with `hint` (what to do, for this command) after the reason."""
    from redis.exceptions import RedisError

    from storage.dialog_state import redis_client

    redis_url = settings.redis_url or LOCAL_REDIS_URL
    redis = redis_client(redis_url)
    try:
        await redis.ping()
    except (RedisError, OSError) as exc:
        await redis.aclose()
        fail(
            "redis_unavailable",
            f"No hay Redis en {redis_url} ({type(exc).__name__}). {hint}",
            field="REDIS_URL",
            exit_code=ExitCode.UNAVAILABLE,
        )
    return redis, redis_url
