"""How one surface's process reaches a conversation served by another, through Redis.

- `ChatLog`: the web chat's transcript of a session (what the page shows), appended by the web chat's own
  turns and, for an advisor's answer, by the bot's process; the page polls it. Entries are sealed with the
  database's Fernet keys: the transcript holds what the applicant typed (their name, their phone).
- `Mailbox`: a Redis stream per surface whose process is elsewhere (the Telegram bot) with a consumer group,
  so that what the web chat's process produces for Telegram (a case card for the advisors' chat, a relayed
  message) is delivered once by whichever bot process reads it, and survives a bot that is not running yet.
- `MailCourier`: `dialogs.ports.Courier` that routes each outgoing item to one of the two.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from dialogs.delivery import TELEGRAM, WEB, Outgoing, Say, from_wire, to_wire
from dialogs.outbox import Receipts, deliver_tracked
from dialogs.ports import Sealer
from dialogs.ui import Button, Keyboard, Reply
from storage.dialog_state import ScriptCall

log = logging.getLogger(__name__)

LOG_TTL_SECONDS = 60 * 60 * 24 * 14  # as long as the dialog itself (storage/dialog_state.py)
LOG_MAX_ENTRIES = 60  # the page shows the recent conversation; older entries are dropped
MAILBOX_MAX_LEN = 100_000  # approximate cap of a stream nobody reads (no bot configured)
MAX_DELIVERIES = 5  # an item that failed this many times is dropped (logged), not retried forever


@dataclass(frozen=True, slots=True)
class LogEntry:
    seq: int
    who: str  # bot | user | advisor
    text: str  # Telegram's HTML subset (<b>, <i>), user values already escaped
    keyboard: Keyboard = ()
    at: float = 0.0


def _kb(keyboard: Keyboard) -> list[list[list[str | None]]]:
    return [[[b.label, b.payload, b.url] for b in row] for row in keyboard]


def _unkb(rows: list[list[list[str | None]]]) -> Keyboard:
    return tuple(tuple(Button(str(b[0]), b[1], b[2]) for b in row) for row in rows)


# KEYS: log, seq, base. ARGV: clear first (0/1), max entries, TTL (s), then the sealed entries.
# Each list item is "<seq>:<sealed entry>", the sequence number outside the seal so that a reader can skip what it
# has without opening it. -> {last sequence number, base}
APPEND = """
if ARGV[1] == '1' then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[3], redis.call('GET', KEYS[2]) or 0, 'EX', ARGV[3])
end
local n = #ARGV - 3
local last = tonumber(redis.call('GET', KEYS[2]) or 0)
if n > 0 then
  last = redis.call('INCRBY', KEYS[2], n)
  for i = 1, n do
    redis.call('RPUSH', KEYS[1], (last - n + i) .. ':' .. ARGV[3 + i])
  end
  redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
return {last, tonumber(redis.call('GET', KEYS[3]) or 0)}
"""


@dataclass(frozen=True, slots=True)
class PendingAppend:
    """A transcript append on its way (`ChatLog.appending`); `stored()` once its call has its result."""

    call: ScriptCall
    entries: list[tuple[str, Reply]]
    at: float

    def stored(self) -> tuple[list[LogEntry], int, int]:
        """The entries as stored, the last sequence number and the base."""
        last, base = (int(v) for v in self.call.result)
        first = last - len(self.entries) + 1
        return (
            [LogEntry(first + i, who, r.text, r.keyboard, self.at) for i, (who, r) in enumerate(self.entries)],
            last,
            base,
        )


class ChatLog:
    """Per session: the entries (a capped Redis list of sealed entries), their last sequence number, and the
    `base` up to which entries were cleared (a page that shows those must start over)."""

    def __init__(self, redis: Redis, sealer: Sealer, prefix: str = "asesor:chat") -> None:
        self.redis, self.sealer, self.prefix = redis, sealer, prefix

    def _k(self, session: str, part: str) -> str:
        return f"{self.prefix}:{session}:{part}"

    async def append(
        self, session: str, entries: list[tuple[str, Reply]], *, clear: bool = False
    ) -> tuple[list[LogEntry], int, int]:
        """Append (who, reply) entries, after forgetting the transcript when `clear` (the dialog ended), in one
        round trip. Returns the entries as stored, the last sequence number and the base."""
        pending = self.appending(session, entries, clear=clear)
        pending.call.result = await pending.call.send(self.redis)
        return pending.stored()

    def appending(self, session: str, entries: list[tuple[str, Reply]], *, clear: bool = False) -> PendingAppend:
        """The same append as a script call for a dialog turn to send with its release
        (storage.dialog_state.HeldDialog.send_with_release): the turn's transcript costs no round trip of
        its own."""
        now = time.time()
        sealed = [self.sealer.seal(orjson.dumps([who, r.text, _kb(r.keyboard), now]).decode()) for who, r in entries]
        keys = [self._k(session, "log"), self._k(session, "seq"), self._k(session, "base")]
        args: list[Any] = [int(clear), LOG_MAX_ENTRIES, LOG_TTL_SECONDS, *sealed]
        return PendingAppend(ScriptCall(APPEND, keys, args), entries, now)

    async def marks(self, session: str) -> tuple[int, int]:
        """(last sequence number, base): one round trip, for a page asking whether anything changed."""
        last, base = await self.redis.mget(self._k(session, "seq"), self._k(session, "base"))
        return int(last or 0), int(base or 0)

    async def tail(self, session: str, n: int, *, after: int = 0) -> list[LogEntry]:
        """The last `n` entries (oldest first), those after sequence number `after` only."""
        if n <= 0:
            return []
        out = []
        for item in await self.redis.lrange(self._k(session, "log"), -min(n, LOG_MAX_ENTRIES), -1):
            head, _, token = (item.decode() if isinstance(item, bytes) else item).partition(":")
            if not head.isdigit() or int(head) <= after:
                continue
            text = self.sealer.unseal(token)
            if text is None:
                continue  # sealed under a key no longer configured
            who, body, kb, at = orjson.loads(text)
            out.append(LogEntry(int(head), who, body, _unkb(kb), float(at)))
        return out

    async def clear(self, session: str) -> None:
        """The transcript is forgotten (an erasure from another surface); the sequence goes on, and `base` tells
        a page polling from before that it must start over."""
        await self.append(session, [], clear=True)


class Mailbox:
    """One Redis stream per surface, read by that surface's processes as one consumer group."""

    def __init__(self, redis: Redis, sealer: Sealer, prefix: str = "asesor:mail", group: str = "deliverers") -> None:
        self.redis, self.sealer, self.prefix, self.group = redis, sealer, prefix, group
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._ready: set[str] = set()

    def stream(self, surface: str) -> str:
        return f"{self.prefix}:{surface}"

    async def put(self, surface: str, items: list[Outgoing]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for item in items:
            sealed = self.sealer.seal(orjson.dumps(to_wire(item)).decode())
            pipe.xadd(self.stream(surface), {"m": sealed}, maxlen=MAILBOX_MAX_LEN, approximate=True)
        await pipe.execute()

    async def _ensure_group(self, stream: str) -> None:
        if stream in self._ready:
            return
        try:
            await self.redis.xgroup_create(stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._ready.add(stream)

    async def take(self, surface: str, *, count: int = 50, block_ms: int = 1000) -> list[tuple[str, Outgoing]]:
        """Items for this surface: those of a dead reader idle for a minute first, then new ones."""
        stream = self.stream(surface)
        await self._ensure_group(stream)
        # redis types stream replies as RESP3's dict; our clients speak RESP2, where they are lists
        claimed: Any = await self.redis.xautoclaim(stream, self.group, self.consumer, 60_000, "0-0", count=count)
        entries = [e for e in (claimed[1] if claimed else []) if e and e[1]]
        if not entries:
            got: Any = await self.redis.xreadgroup(
                self.group, self.consumer, {stream: ">"}, count=count, block=block_ms
            )
            entries = got[0][1] if got else []
        out = []
        for entry_id, fields in entries:
            raw = fields.get(b"m") or fields.get("m")
            text = self.sealer.unseal(raw.decode() if isinstance(raw, bytes) else raw) if raw else None
            eid = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            if text is None:
                log.error("mailbox entry %s cannot be opened; dropped", eid)
                await self.ack(surface, [eid])
                continue
            out.append((eid, from_wire(orjson.loads(text))))
        return out

    async def ack(self, surface: str, ids: list[str]) -> None:
        if ids:
            pipe = self.redis.pipeline(transaction=True)
            pipe.xack(self.stream(surface), self.group, *ids)
            pipe.xdel(self.stream(surface), *ids)
            await pipe.execute()

    async def deliveries(self, surface: str, entry_id: str) -> int:
        pending = await self.redis.xpending_range(self.stream(surface), self.group, entry_id, entry_id, 1)
        return int(pending[0]["times_delivered"]) if pending else 0

    async def serve(self, surface: str, deliver: Callable[[list[Outgoing]], Awaitable[None]]) -> None:
        """Deliver this surface's mail until cancelled (a bot process runs this beside its updates)."""
        while True:
            try:
                batch = await self.take(surface)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarting: wait and read again
                log.warning("mailbox %s unreadable: %s", surface, type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            for entry_id, item in batch:
                try:
                    await deliver([item])
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    times = await self.deliveries(surface, entry_id)
                    log.warning("mailbox item for %s failed (%s, try %s)", surface, type(exc).__name__, times)
                    if times < MAX_DELIVERIES:
                        continue  # stays pending: taken again once idle
                    log.error("mailbox item for %s dropped after %s tries", surface, times)
                await self.ack(surface, [entry_id])


class MailCourier:
    """What a process cannot deliver itself: a web chat's answer goes to its transcript, anything for
    Telegram to the Telegram mailbox. A stored case message (`Say.receipt`) for a web chat is tracked here
    (dialogs/outbox.py); one for Telegram is tracked by the bot process that sends it."""

    def __init__(self, log_: ChatLog, mailbox: Mailbox, receipts: Receipts | None = None) -> None:
        self.chat_log, self.mailbox, self.receipts = log_, mailbox, receipts

    async def _to_transcript(self, say: Say) -> None:
        await self.chat_log.append(say.to.chat, [("advisor", r) for r in say.replies])

    async def deliver(self, items: list[Outgoing]) -> None:
        telegram: list[Outgoing] = []
        for item in items:
            if isinstance(item, Say) and item.to.surface == WEB:
                await deliver_tracked(item, self._to_transcript, self.receipts)
            elif isinstance(item, Say) and item.to.surface != TELEGRAM:
                log.info("no delivery to the %s surface from here", item.to.surface)
            else:
                telegram.append(item)
        if telegram:
            await self.mailbox.put(TELEGRAM, telegram)
