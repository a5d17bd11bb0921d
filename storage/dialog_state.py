"""The dialog's state on Redis, for every surface: one data key and one lock per conversation, two round trips
per turn.

A turn (a Telegram update of aiogram or python-telegram-bot, a web chat post) takes the conversation's lock and
reads its data in one Lua script (ACQUIRE: `SET lock NX PX` and, when taken, `GET data` and the idempotency
guard's `SET seen NX EX`), retrying every 10 ms; it works on that copy; leaving the turn writes the new data
with its TTL and deletes the lock in another script (RELEASE), both only if the lock is still ours. A lock that
expired under a stuck turn is not overwritten: its data is dropped and LockNotOwnedError raised, as redis-py's
Lock does. A turn that fails releases the lock without writing, so the applicant retries the same step.

A turn may send other scripts' calls in its last round trip (`HeldDialog.send_with_release`): they run just
before the release, the lock still held, in one pipeline (the web chat appends its transcript there, which
saves a round trip per turn). They go as EVAL, not EVALSHA: Redis keeps the compiled script by its hash either
way, and a Redis restarted meanwhile (its script cache empty) cannot fail the pipeline with NOSCRIPT.

A Telegram turn shows the next screen before it ends (it edits the pressed message), so it writes first
(`HeldDialog.commit`, the same script without the unlock: a third round trip): Redis dying between the screen and
the unlock then loses no step, and the lock it could not delete expires on its own. If showing the screen fails
after the commit, leaving the turn writes the dialog back as it was, as if the turn had not happened.

The idempotency key is never released: a turn seen once (a Telegram update delivered twice, a web form posted
twice) is not handled again, even if the first one failed half way (at most once + an honest retry request,
rather than at least once with double steps).

Keys keep the layout aiogram's `DefaultKeyBuilder(prefix="asesor:fsm", with_bot_id=True, with_destiny=True)`
gives (`asesor:fsm:{bot id}:{chat}:{user}:default:data`), so a dialog started under one Telegram framework goes
on under the other, and dialogs stored before this module existed are still found; the web chat uses `web`
in place of the bot id. The value is the JSON object `{"dialog": {...}}` (dialogs/state.py, versioned).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import LockError, LockNotOwnedError, RedisError

from dialogs.ids import new_uuid

log = logging.getLogger(__name__)

# An applicant may leave and come back days later: keep the dialog for two weeks of inactivity.
DIALOG_TTL = timedelta(days=14)
FSM_PREFIX = "asesor:fsm"
SEEN_PREFIX = "asesor:update"
# Telegram keeps an undelivered update for 24 hours; remember ids a little longer than that.
SEEN_TTL_SECONDS = 60 * 60 * 26
STATE_FIELD = "dialog"
# The lock outlives a stuck turn by this much at most; a second turn of the chat polls every 10 ms (redis-py's
# Lock polls every 100 ms, which would add up to 0.1 s to the second of two quick taps) for at most `wait` s.
LOCK_TIMEOUT_S, LOCK_POLL_S, LOCK_WAIT_S = 60.0, 0.01, 30.0
REDIS_MAX_CONNECTIONS = 256
REDIS_POOL_TIMEOUT = 10  # seconds a turn may wait for a Redis connection before it fails

# KEYS: lock, data[, seen]. ARGV: token, lock timeout (ms)[, seen TTL (s)].
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
# KEYS: lock, data. ARGV: token, mode ('keep' | 'set' | 'del'), data, TTL (s, 0 = none)[, '0' = keep the lock].
# -> 1, or 0 if not ours. With ARGV[5] = '0' it only writes (a turn's commit before it shows the next screen).
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
if ARGV[5] ~= '0' then
  redis.call('DEL', KEYS[1])
end
return 1
"""


def redis_client(url: str, max_connections: int = REDIS_MAX_CONNECTIONS) -> Redis:
    """A client whose pool *waits* for a free connection. redis-py's default pool raises
    MaxConnectionsError at once when 100 connections are in use, which a burst of concurrent applicants
    (each turn holds the chat lock and makes several calls) reaches easily."""
    pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=REDIS_POOL_TIMEOUT)
    return Redis(connection_pool=pool)


@dataclass(frozen=True, slots=True)
class DialogKey:
    """One conversation's keys. `space`: the Telegram bot id, or `web`."""

    space: str
    chat: str
    user: str

    @classmethod
    def telegram(cls, bot_id: int, chat_id: int, user_id: int) -> DialogKey:
        return cls(str(bot_id), str(chat_id), str(user_id))

    @classmethod
    def web(cls, session: str) -> DialogKey:
        return cls("web", session, session)

    def part(self, name: str) -> str:
        return f"{FSM_PREFIX}:{self.space}:{self.chat}:{self.user}:default:{name}"

    @property
    def data(self) -> str:
        return self.part("data")

    @property
    def lock(self) -> str:
        return self.part("lock")


def seen_key(space: str | int, turn_id: str | int) -> str:
    return f"{SEEN_PREFIX}:{space}:{turn_id}"


def _decode(raw: Any) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    value = data.get(STATE_FIELD) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else None  # written by something else: start clean, never crash


@dataclass(slots=True)
class ScriptCall:
    """A Lua script's call to send in a turn's last round trip (`HeldDialog.send_with_release`); `result` is
    its reply once the turn ended."""

    source: str
    keys: list[str]
    args: list[Any]
    result: Any = None

    def send(self, client: Any) -> Any:
        """EVAL on `client`: a pipeline queues it, a client returns the awaitable reply."""
        return client.eval(self.source, len(self.keys), *self.keys, *self.args)


class HeldDialog:
    """The stored dialog of the conversation whose lock this turn holds (dialogs.service's `StateSlot`)."""

    __slots__ = ("_commit", "_parsed", "_raw", "_value", "along", "committed", "first_time", "mode")

    def __init__(self, raw: bytes | str | None, first_time: bool | None) -> None:
        self._raw, self._parsed = raw, False
        self._value: dict[str, Any] | None = None
        self.mode = "keep"  # 'set' or 'del' once the turn wrote
        self.first_time = first_time  # None: the turn did not ask (no idempotency key)
        self.committed = False  # written by `commit` while the turn still holds the lock
        self._commit: Callable[[], Awaitable[None]] | None = None
        self.along: list[ScriptCall] = []

    def send_with_release(self, call: ScriptCall) -> None:
        """Run `call` when the turn ends without error, just before the release and in its round trip (the
        lock still held, so turns of one conversation stay in order); not at all if the turn fails."""
        self.along.append(call)

    async def commit(self) -> None:
        """Write the turn's dialog now, keeping the lock. A surface that shows the next screen before the turn
        ends (Telegram edits the pressed message) commits first: Redis failing after the screen moved on can
        then no longer leave the stored dialog a step behind what the applicant sees. If the turn fails after
        the commit (the screen could not be shown), leaving it puts the dialog back as it was."""
        if self._commit is not None:
            await self._commit()

    def get(self) -> dict[str, Any] | None:
        if not self._parsed:
            self._value, self._parsed = _decode(self._raw), True
        return self._value

    def set(self, dialog: dict[str, Any] | None) -> None:
        self._value, self._parsed = dialog, True
        self.mode = "set" if dialog is not None else "del"

    def encoded(self) -> bytes:
        return orjson.dumps({STATE_FIELD: self._value}) if self._value is not None else b""


class DialogStore:
    """Per-conversation lock, data and idempotency on one Redis, shared by every process and surface."""

    def __init__(
        self,
        redis: Redis,
        *,
        ttl: timedelta = DIALOG_TTL,
        lock_timeout: float = LOCK_TIMEOUT_S,
        poll: float = LOCK_POLL_S,
        wait: float = LOCK_WAIT_S,
        seen_ttl: int = SEEN_TTL_SECONDS,
    ) -> None:
        self.redis = redis
        self.ttl_s = int(ttl.total_seconds())
        self.lock_ms = int(lock_timeout * 1000)
        self.poll, self.wait, self.seen_ttl = poll, wait, seen_ttl
        self._acquire = redis.register_script(ACQUIRE)
        self._release = redis.register_script(RELEASE)

    @asynccontextmanager
    async def turn(self, key: DialogKey, seen: str | None = None) -> AsyncIterator[HeldDialog]:
        """Hold the conversation for one turn. `seen`: the turn's idempotency key (`seen_key`); the held
        dialog's `first_time` says whether it is new. The data is written when the turn ends without error."""
        token = new_uuid().hex
        keys = [key.lock, key.data]
        args: list[str | int] = [token, self.lock_ms]
        if seen is not None:
            keys.append(seen)
            args.append(self.seen_ttl)
        deadline = time.monotonic() + self.wait
        while True:
            got = await self._acquire(keys=keys, args=args)
            if got[0]:
                break
            if time.monotonic() > deadline:
                raise LockError("Unable to acquire lock within the time specified")
            await asyncio.sleep(self.poll)
        first = got[2] if len(got) > 2 else -1
        original = got[1] if len(got) > 1 else None
        held = HeldDialog(original, bool(first) if first in (0, 1) else None)

        async def commit() -> None:
            if held.mode == "keep":
                return
            write: list[str | bytes | int] = [
                token,
                held.mode,
                held.encoded() if held.mode == "set" else b"",
                self.ttl_s,
                "0",
            ]
            if not await self._release(keys=[key.lock, key.data], args=write):
                raise LockNotOwnedError("the chat's lock expired before the turn was written")
            held.mode, held.committed = "keep", True

        held._commit = commit
        ok = False
        try:
            yield held
            ok = True
        finally:
            mode = held.mode if ok else "keep"
            data: bytes | str = held.encoded() if mode == "set" else b""
            if not ok and held.committed:  # failed after its commit: the dialog goes back to where it was
                mode, data = ("set", original) if original else ("del", b"")
            release: list[str | bytes | int] = [token, mode, data, self.ttl_s]
            try:
                if ok and held.along:
                    owned = await self._release_along(key, release, held.along)
                else:
                    owned = await self._release(keys=[key.lock, key.data], args=release)
            except RedisError:
                if not (ok and held.committed and mode == "keep"):
                    raise
                # the turn is written and shown: only the unlock is missing, and the lock expires on its own
                log.warning("chat lock not released (Redis unreachable); it expires in %d s", self.lock_ms // 1000)
                owned = True
            if not owned and ok:
                raise LockNotOwnedError("the chat's lock expired before the turn ended; its data was not written")

    async def _release_along(self, key: DialogKey, release: list[Any], along: list[ScriptCall]) -> Any:
        pipe = self.redis.pipeline(transaction=False)
        for call in along:
            call.send(pipe)
        pipe.eval(RELEASE, 2, key.lock, key.data, *release)
        *results, owned = await pipe.execute()
        for call, result in zip(along, results, strict=True):
            call.result = result
        return owned

    async def first_time(self, seen: str) -> bool:
        """The idempotency guard alone, for a turn that holds no conversation (an advisors' chat update)."""
        return bool(await self.redis.set(seen, 1, nx=True, ex=self.seen_ttl))

    async def read(self, key: DialogKey) -> dict[str, Any] | None:
        """The stored dialog, outside any turn (a page showing where the applicant is, a test)."""
        return _decode(await self.redis.get(key.data))

    async def write(self, key: DialogKey, dialog: dict[str, Any] | None) -> None:
        """Outside any turn (tests, tools); a turn's own writes go through `turn`."""
        if dialog is None:
            await self.redis.delete(key.data)
        else:
            await self.redis.set(key.data, orjson.dumps({STATE_FIELD: dialog}), ex=self.ttl_s)
