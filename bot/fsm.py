"""The dialog's FSM storage and per-chat lock on Redis, in two round trips per update instead of four.

aiogram's RedisStorage + RedisEventIsolation spend four Redis round trips on a handled update: take the chat's
lock, read the data, write the data, release the lock (a Lua script). Under load those round trips were the
largest part of the bot's CPU (benchmarks/bot.py). Here the lock is taken and the chat's data read in one
Lua script, and the data written and the lock released in another, atomically:

- `DialogIsolation.lock(key)` runs ACQUIRE (`SET lock NX PX` and, when taken, `GET data` and the
  idempotency guard's `SET update NX EX` of bot/middlewares.py, one round trip fewer again), retrying every
  10 ms like redis-py's Lock, and keeps what it read for the length of the update (a context variable, so
  concurrent updates of other chats never see it);
- `DialogRedisStorage.get_data/set_data` for the locked chat read and write that copy;
- leaving the lock runs RELEASE: the new data (if any was set) is written with its TTL and the lock deleted,
  both only if the lock is still ours. A lock that expired under a stuck update is not overwritten: its
  data is dropped and LockNotOwnedError raised, as redis-py's Lock does.

Any other key (a test reading a chat's dialog, an advisor's update touching nothing) reads and writes Redis
directly, as RedisStorage does. A second update of the same chat waits for the lock, so it always reads
what the first one wrote; a crash in the middle of an update loses that update's state change, and the
idempotency guard (bot/middlewares.py) does not replay it, so the applicant retries the step.

The dialog keeps its step in the data (versioned, dialogs/state.py), not in aiogram's state string, so
the state is never read (one round trip less) and never written.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import orjson
from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.storage.base import BaseEventIsolation, KeyBuilder, StateType, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis
from redis.exceptions import LockError, LockNotOwnedError

from bot.session import orjson_dumps

# KEYS: lock, data[, seen update]. ARGV: token, lock timeout (ms)[, seen TTL (s)].
# -> {1, data or false, 1 first time / 0 seen before / -1 not asked} when taken, {0} when busy.
ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local first = -1
  if KEYS[3] then
    first = redis.call('SET', KEYS[3], 1, 'NX', 'EX', ARGV[3]) and 1 or 0
  end
  return {1, redis.call('GET', KEYS[2]), first}
end
return {0}
"""
# KEYS: lock, data. ARGV: token, mode ('keep' | 'set' | 'del'), data, TTL (s, 0 = none). -> 1, or 0 if not ours.
RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == 'set' then
  if tonumber(ARGV[4]) > 0 then
    redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
  else
    redis.call('SET', KEYS[2], ARGV[3])
  end
elseif ARGV[2] == 'del' then
  redis.call('DEL', KEYS[2])
end
redis.call('DEL', KEYS[1])
return 1
"""


@dataclass
class _Held:
    """The data of the chat whose lock this update holds: as read, then as last set."""

    data_key: str
    raw: str | None
    mode: str = "keep"  # 'set' or 'del' once the handler wrote
    update_id: int | None = None  # the update whose first delivery ACQUIRE checked, and its answer
    first_time: bool | None = None


_held: ContextVar[_Held | None] = ContextVar("asesor_fsm_held", default=None)
# (bot id, update id) of the update being fed to the dispatcher (bot/app.py AsesorDispatcher)
feeding: ContextVar[tuple[int, int] | None] = ContextVar("asesor_feeding", default=None)


def first_time_checked_with_lock(update_id: int) -> bool | None:
    """Whether taking the chat's lock also found this update new (True) or already seen (False); None when
    the lock did not check it (no chat lock for this update, or no idempotency keys configured)."""
    held = _held.get()
    return held.first_time if held is not None and held.update_id == update_id else None


def _ttl_seconds(ttl: int | timedelta | None) -> int:
    if ttl is None:
        return 0
    return int(ttl.total_seconds()) if isinstance(ttl, timedelta) else int(ttl)


class DialogRedisStorage(RedisStorage):
    """RedisStorage whose locked chat's data lives in the update's copy until the lock is released."""

    def __init__(self, redis: Redis, key_builder: KeyBuilder, **kwargs: Any) -> None:
        kwargs.setdefault("json_loads", orjson.loads)
        kwargs.setdefault("json_dumps", orjson_dumps)
        super().__init__(redis, key_builder=key_builder, **kwargs)
        self._acquire = redis.register_script(ACQUIRE)
        self._release = redis.register_script(RELEASE)

    def create_isolation(self, **kwargs: Any) -> DialogIsolation:  # type: ignore[override]
        return DialogIsolation(self, **kwargs)

    async def get_state(self, key: StorageKey) -> str | None:
        return None

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        if state is not None:
            raise RuntimeError("the dialog keeps its step in the FSM data; aiogram states are not used")
        # None: nothing to delete, no state is ever written

    def _held_for(self, key: StorageKey) -> _Held | None:
        held = _held.get()
        return held if held is not None and held.data_key == self.key_builder.build(key, "data") else None

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        held = self._held_for(key)
        if held is None:
            return await super().get_data(key)
        return {} if held.raw is None else cast(dict[str, Any], self.json_loads(held.raw))

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        held = self._held_for(key)
        if held is None:
            await super().set_data(key, data)
            return
        if not isinstance(data, dict):
            raise DataNotDictLikeError(f"Data must be a dict or dict-like object, got {type(data).__name__}")
        if data:
            held.raw, held.mode = self.json_dumps(data), "set"
        else:
            held.raw, held.mode = None, "del"


class DialogIsolation(BaseEventIsolation):
    """One update per chat at a time across every bot process sharing the Redis."""

    def __init__(
        self,
        storage: DialogRedisStorage,
        *,
        timeout: float = 60,
        sleep: float = 0.01,
        blocking_timeout: float = 30,
        seen_prefix: str | None = None,
        seen_ttl: int = 0,
    ) -> None:
        self.storage = storage
        # with a prefix, ACQUIRE also does the idempotency guard's `SET {prefix}:{bot}:{update} NX EX ttl`
        # (bot/middlewares.py), saving that round trip on every update that takes a chat's lock
        self.seen_prefix, self.seen_ttl = seen_prefix, seen_ttl
        self.timeout_ms = int(timeout * 1000)  # the lock outlives a stuck update by this much at most
        self.sleep = sleep  # polling step while another update of the chat runs
        self.blocking_timeout = blocking_timeout

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncGenerator[None, None]:
        s = self.storage
        lock_key, data_key = s.key_builder.build(key, "lock"), s.key_builder.build(key, "data")
        token = uuid.uuid4().hex
        keys, args = [lock_key, data_key], [token, self.timeout_ms]
        update = feeding.get()
        if self.seen_prefix and update is not None:
            keys.append(f"{self.seen_prefix}:{update[0]}:{update[1]}")
            args.append(self.seen_ttl)
        deadline = time.monotonic() + self.blocking_timeout
        while True:
            got = await s._acquire(keys=keys, args=args)
            if got[0]:
                break
            if time.monotonic() > deadline:
                raise LockError("Unable to acquire lock within the time specified")
            await asyncio.sleep(self.sleep)
        raw = got[1] if len(got) > 1 and got[1] else None
        held = _Held(data_key, raw.decode() if isinstance(raw, bytes) else raw)
        if len(got) > 2 and got[2] in (0, 1) and update is not None:
            held.update_id, held.first_time = update[1], bool(got[2])
        reset = _held.set(held)
        try:
            yield None
        finally:
            _held.reset(reset)
            args = [token, held.mode, held.raw or "", _ttl_seconds(s.data_ttl)]
            if not await s._release(keys=[lock_key, data_key], args=args):
                raise LockNotOwnedError("the chat's lock expired before the update ended; its data was not written")

    async def close(self) -> None:
        pass
