"""Funnel events (SPEC §8) through a durable outbox, so emitting never blocks or breaks a dialog.

    sink = EventSink.from_settings(engine)      # Redis stream if REDIS_URL, else a spool dir under data_dir
    sink.start()                                # background flusher thread (or: await sink.run() in asyncio)
    sink.emit(FunnelEvent(name="ConsentGiven", user_key=key))          # sync: returns in ~0.1–2 ms
    await sink.aemit(FunnelEvent(name="QuestionAnswered", user_key=key, step="enganche"))
    sink.stop()                                 # final best-effort flush

Path of one event: `emit` serialises it and appends it to the outbox (XADD to a Redis stream, or one
`write()` + fsync to an append-only spool segment). Nothing touches the database on the caller's path. If the
outbox itself fails (Redis down), the event goes to the local spool; if that fails too (disk full), to a
bounded in-memory queue that the flusher retries; `emit` never raises.

The flusher takes a batch from the outbox, inserts it with `INSERT … ON CONFLICT (id) DO NOTHING`, commits,
and only then acknowledges (XACK+XDEL, or deletes the spool segment). A crash between commit and ack
re-delivers the batch, and the conflict clause makes the second insert a no-op: every event lands exactly
once. While the database is down the flusher retries with exponential back-off (tenacity) and the events
wait in the outbox.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import functools
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Engine, func
from sqlalchemy.dialects import postgresql, sqlite
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_when_event_set,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from dialogs.ids import new_uuid
from storage import step_seconds
from storage.db import write_engine
from storage.models import FUNNEL_COLUMNS, Event, EventName, FunnelProgress
from storage.sqlfuncs import greatest, least
from storage.types import utcnow

log = logging.getLogger(__name__)
# an outbox that is down fails every emit: say so once every few seconds, not once per event
STEP_COLUMNS = tuple(dict.fromkeys(FUNNEL_COLUMNS.values()))


def backoff(first: float, longest: float) -> wait_base:
    """The sink's one back-off policy (tenacity): exponential from `first` seconds, jittered by as much, capped
    at `longest`. The flushers use (0.2 s, max_backoff); a caller waiting on `flush()` uses shorter bounds."""
    return wait_exponential_jitter(multiplier=first, max=longest, jitter=first)


class FunnelEvent(BaseModel):
    """One funnel event. `user_key` must be the pseudonymous key (storage.privacy.pseudonymize), which the
    validator enforces: a raw Telegram id (digits) is refused at construction."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=lambda: str(new_uuid()))
    name: EventName
    user_key: str = Field(min_length=16, max_length=64)
    step: str | None = Field(default=None, max_length=48)
    occurred_at: datetime = Field(default_factory=utcnow)
    properties: dict[str, Any] = Field(default_factory=dict)
    policy_version: str | None = Field(default=None, max_length=32)
    model_version: str | None = Field(default=None, max_length=128)

    @field_validator("user_key")
    @classmethod
    def _pseudonymous(cls, v: str) -> str:
        if v.isdigit() and len(v) < 32:  # a Telegram id has at most ~20 digits; an HMAC is 64 hex chars
            raise ValueError("user_key must be the pseudonymous key, never a raw Telegram id")
        return v

    @field_validator("id")
    @classmethod
    def _id_len(cls, v: str) -> str:
        if not 1 <= len(v) <= 36:
            raise ValueError("event id must be 1–36 characters (a uuid)")
        return v

    def to_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_key": self.user_key,
            "name": self.name,
            "step": self.step,
            "occurred_at": self.occurred_at,
            "properties": self.properties,
            "policy_version": self.policy_version,
            "model_version": self.model_version,
        }


# ------------------------------------------------------------------------------------------- outboxes
@dataclass
class Batch:
    records: list[str]
    token: Any = None  # what `ack` needs (stream ids, or the spool segment path)
    source: Outbox | None = field(default=None, repr=False)


class Outbox(Protocol):
    def put(self, records: list[str]) -> None: ...
    def take(self, max_records: int) -> Batch | None: ...
    def ack(self, batch: Batch) -> None: ...
    def pending(self) -> int: ...


class SpoolOutbox:
    """Append-only JSON-lines segments in a directory; safe across threads and processes.

    Each process appends to its own `active-<pid>-*.jsonl` with one `write()` per call (+ fsync when
    `fsync`), so a crash leaves whole lines. `take` seals the active segment (rename to `sealed-*`) and also
    adopts the active segments of dead processes; `ack` deletes a sealed segment once its events are in the
    database. Two flushers may read the same segment: the idempotent insert makes that harmless.
    """

    def __init__(self, directory: Path | str, *, fsync: bool = True, max_segment_records: int = 10_000):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.max_segment_records = max_segment_records
        self._lock = threading.Lock()
        self._fh: Any = None
        self._path: Path | None = None
        self._count = 0
        self._pid = os.getpid()

    def _open(self) -> None:
        self._pid = os.getpid()
        self._path = self.dir / f"active-{self._pid}-{uuid.uuid4().hex[:12]}.jsonl"
        self._fh = open(self._path, "ab", buffering=0)  # noqa: SIM115 (kept open across calls)
        self._count = 0

    def _seal_locked(self) -> None:
        if self._fh is None or self._path is None:
            return
        self._fh.close()
        self._fh = None
        if self._count:
            self._path.rename(self.dir / f"sealed-{time.time_ns()}-{self._path.name[len('active-') :]}")
        else:
            self._path.unlink(missing_ok=True)
        self._path = None
        self._count = 0

    def put(self, records: list[str]) -> None:
        data = "".join(r + "\n" for r in records).encode("utf-8")
        with self._lock:
            if self._fh is None or self._pid != os.getpid():  # first use, or we are a forked child
                self._open()
            self._fh.write(data)
            if self.fsync:
                os.fsync(self._fh.fileno())
            self._count += len(records)
            if self._count >= self.max_segment_records:
                self._seal_locked()

    def _adopt_orphans(self) -> None:
        for p in self.dir.glob("active-*.jsonl"):
            try:
                pid = int(p.name.split("-")[1])
            except (IndexError, ValueError):
                continue
            if pid == os.getpid() or _pid_alive(pid):
                continue
            with contextlib.suppress(FileNotFoundError):
                p.rename(self.dir / f"sealed-{time.time_ns()}-{p.name[len('active-') :]}")

    def take(self, max_records: int) -> Batch | None:
        # max_records is advisory here: a segment is taken whole (it is at most max_segment_records long)
        with self._lock:
            if self._count and self._pid == os.getpid():
                self._seal_locked()
        self._adopt_orphans()
        for seg in sorted(self.dir.glob("sealed-*.jsonl")):
            try:
                raw = seg.read_bytes()
            except FileNotFoundError:
                continue  # another flusher acked it
            lines = raw.split(b"\n")
            if lines and lines[-1]:
                log.error("spool segment %s ends with a torn line (%d bytes); skipped", seg.name, len(lines[-1]))
            records = [ln.decode("utf-8") for ln in lines[:-1] if ln.strip()]
            return Batch(records=records, token=seg, source=self)
        return None

    def ack(self, batch: Batch) -> None:
        Path(batch.token).unlink(missing_ok=True)

    def pending(self) -> int:
        n = 0
        for seg in list(self.dir.glob("sealed-*.jsonl")) + list(self.dir.glob("active-*.jsonl")):
            with contextlib.suppress(FileNotFoundError):
                n += seg.read_bytes().count(b"\n")
        return n

    def close(self) -> None:
        with self._lock:
            self._seal_locked()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RedisOutbox:
    """A Redis stream with a consumer group: entries stay pending until a flusher XACKs them after commit.

    A flusher first re-reads its own pending entries (a batch whose insert failed), then claims entries
    idle for `claim_idle_ms` from dead flushers, then reads new ones. Acked entries are XDELeted, so the
    stream holds only what is not yet in the database. Redis must persist (AOF) to survive its own restart.
    """

    def __init__(
        self,
        url: str,
        *,
        stream: str = "asesor:events:outbox",
        group: str = "flushers",
        consumer: str | None = None,
        claim_idle_ms: int = 60_000,
        socket_timeout: float = 0.5,
    ):
        import redis

        self.client = redis.Redis.from_url(
            url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout, decode_responses=True
        )
        self.stream, self.group = stream, group
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.claim_idle_ms = claim_idle_ms
        self._group_ready = False

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        import redis

        try:
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def put(self, records: list[str]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for r in records:
            pipe.xadd(self.stream, {"e": r})
        pipe.execute()

    def take(self, max_records: int) -> Batch | None:
        self._ensure_group()
        entries: list[tuple[str, dict[str, str]]] = []
        # redis types stream replies as RESP3's dict; our clients speak RESP2, where they are lists
        own: Any = self.client.xreadgroup(self.group, self.consumer, {self.stream: "0"}, count=max_records)
        if own and own[0][1]:
            entries = own[0][1]
        if not entries:
            claimed: Any = self.client.xautoclaim(
                self.stream, self.group, self.consumer, self.claim_idle_ms, "0-0", count=max_records
            )
            entries = [e for e in (claimed[1] if claimed else []) if e and e[1]]
        if not entries:
            new: Any = self.client.xreadgroup(self.group, self.consumer, {self.stream: ">"}, count=max_records)
            if new and new[0][1]:
                entries = new[0][1]
        if not entries:
            return None
        return Batch(records=[f["e"] for _, f in entries if f], token=[i for i, _ in entries], source=self)

    def ack(self, batch: Batch) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.xack(self.stream, self.group, *batch.token)
        pipe.xdel(self.stream, *batch.token)
        pipe.execute()

    def pending(self) -> int:
        return int(self.client.xlen(self.stream))


# ------------------------------------------------------------------------------------------------ sink
def _progress_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per applicant in the batch: first/last seen and the first time of each funnel step."""
    agg: dict[str, dict[str, Any]] = {}
    for r in rows:
        t = r["occurred_at"]
        key = r["user_key"]
        d = agg.get(key)
        if d is None:
            d = agg[key] = {"user_key": key, "first_seen_at": t, "last_seen_at": t, **dict.fromkeys(STEP_COLUMNS)}
        else:
            d["first_seen_at"] = min(d["first_seen_at"], t)
            d["last_seen_at"] = max(d["last_seen_at"], t)
        col = FUNNEL_COLUMNS.get((r["name"], r["step"] if r["name"] == "QuestionAnswered" else None))
        if col is not None and (d[col] is None or t < d[col]):
            d[col] = t
    return [agg[k] for k in sorted(agg)]  # a fixed order: concurrent flushers lock rows alike (no deadlock)


@functools.cache
def _insert_statements(dialect: str) -> tuple[Any, Any]:
    """The events insert and the funnel_progress upsert, built once per dialect (each flush only binds them:
    building the upsert's 20-odd merge expressions cost a flush more than executing it)."""
    ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = ins(Event).on_conflict_do_nothing(index_elements=["id"])
    up = ins(FunnelProgress)
    fp = FunnelProgress.__table__.c
    merge: dict[str, Any] = {
        c: func.coalesce(least(fp[c], up.excluded[c]), fp[c], up.excluded[c]) for c in STEP_COLUMNS
    }
    merge["first_seen_at"] = least(fp.first_seen_at, up.excluded.first_seen_at)
    merge["last_seen_at"] = greatest(fp.last_seen_at, up.excluded.last_seen_at)
    return stmt, up.on_conflict_do_update(index_elements=["user_key"], set_=merge)


def insert_events(engine: Engine, rows: list[dict[str, Any]], chunk: int = 2000) -> None:
    """Idempotent bulk insert: an event id already in the table is skipped, never duplicated. The per-applicant
    funnel rollup (`funnel_progress`) is updated in the same transaction with MIN/MAX, so re-delivered or
    late events leave it exactly right."""
    if not rows:
        return
    if engine.dialect.name not in ("postgresql", "sqlite"):
        raise NotImplementedError(engine.dialect.name)
    stmt, up = _insert_statements(engine.dialect.name)
    now = utcnow()
    rows = sorted(rows, key=lambda r: r["id"])
    with write_engine(engine).begin() as conn:  # SQLite: the write lock at BEGIN, with short retries
        for i in range(0, len(rows), chunk):
            part = [{**r, "received_at": r.get("received_at") or now} for r in rows[i : i + chunk]]
            conn.execute(stmt, part)
        progress = _progress_rows(rows)
        for i in range(0, len(progress), chunk):
            conn.execute(up, progress[i : i + chunk])
            # time per step's gaps and histogram follow these rows (storage.step_seconds)
            step_seconds.refresh(conn, [r["user_key"] for r in progress[i : i + chunk]])


def _row_from_record(record: str) -> dict[str, Any] | None:
    try:
        return FunnelEvent.model_validate_json(record).to_row()
    except ValueError:
        log.error("outbox record is not a valid FunnelEvent; dropped: %.200s", record)
        return None


# aemit_many calls of one event loop within this many seconds share one outbox write
EMIT_WINDOW_S = 0.02


@dataclass
class _PendingEmit:
    loop: asyncio.AbstractEventLoop
    events: list[FunnelEvent]
    done: asyncio.Future[None]
    ctx: contextvars.Context  # the first caller's (its log fields)


class EventSink:
    """Emit funnel events without ever blocking or failing the caller; flush them into `events`."""

    def __init__(
        self,
        engine: Engine,
        outbox: Outbox,
        *,
        fallback: SpoolOutbox | None = None,
        batch_size: int = 2000,
        flush_interval: float = 1.0,
        max_backoff: float = 30.0,
        memory_limit: int = 100_000,
        emit_window: float = EMIT_WINDOW_S,
    ):
        self.engine = engine
        self.outbox = outbox
        self.fallback = fallback
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_backoff = max_backoff
        self._memory: collections.deque[str] = collections.deque()
        self._memory_limit = memory_limit
        self._mem_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # the outbox writes of aemit/aemit_many get threads of their own: in asyncio's default pool they queued
        # behind the storage writes waiting for SQLite's write lock, and every turn waited with them
        self._emitter: tuple[int, ThreadPoolExecutor] | None = None
        self.emit_window = emit_window
        self._pending: _PendingEmit | None = None
        self._writes: set[asyncio.Task[None]] = set()
        self.dropped = 0  # events lost because Redis, the disk and memory were all unavailable
        self.flushed = 0

    @classmethod
    def from_settings(
        cls, engine: Engine, settings: Any | None = None, *, redis_url: str | None = None, **kwargs: Any
    ) -> EventSink:
        """The one way every process wires its sink: the Redis stream of `redis_url` (default REDIS_URL) with
        the spool under data_dir/outbox/events as its fallback, or the spool alone without Redis."""
        if settings is None:
            from core.config import get_settings

            settings = get_settings()
        spool = SpoolOutbox(settings.data_dir / "outbox" / "events")
        url = redis_url or settings.redis_url
        if url:
            return cls(engine, RedisOutbox(url), fallback=spool, **kwargs)
        return cls(engine, spool, **kwargs)

    # ----------------------------------------------------------------------------------------- emitting
    def emit(self, event: FunnelEvent) -> None:
        """Durably queue one event. Never raises, never waits on the database."""
        try:
            record = event.model_dump_json()
        except Exception:  # pragma: no cover - a FunnelEvent always serialises
            log.exception("event could not be serialised; dropped")
            self.dropped += 1
            return
        self._put([record])

    def emit_many(self, events: list[FunnelEvent]) -> None:
        self._put([e.model_dump_json() for e in events])

    async def _off_loop(self, work: Callable[..., Any], *args: Any) -> None:
        """`work` in one of the sink's emit threads."""
        if self._emitter is None or self._emitter[0] != os.getpid():  # a forked child has none of its threads
            self._emitter = (os.getpid(), ThreadPoolExecutor(max_workers=2, thread_name_prefix="event-emit"))
        await asyncio.get_running_loop().run_in_executor(self._emitter[1], functools.partial(work, *args))

    async def aemit(self, event: FunnelEvent) -> None:
        """asyncio flavour of `emit` (see `aemit_many`)."""
        await self.aemit_many([event])

    async def aemit_many(self, events: list[FunnelEvent]) -> None:
        """asyncio flavour of `emit_many`: the outbox write (a Redis round trip or an fsync) runs in one of the
        sink's threads, and what the event loop's turns emit within `emit_window` seconds goes in one write
        (a thread hop per turn cost the web chat ~5 % of its CPU). Returns once the events are in the outbox;
        a caller cancelled meanwhile does not cancel the write."""
        loop = asyncio.get_running_loop()
        pending = self._pending
        if pending is None or pending.loop is not loop:
            pending = self._pending = _PendingEmit(loop, [], loop.create_future(), contextvars.copy_context())
            loop.call_later(self.emit_window, self._start_write, pending)
        pending.events.extend(events)
        await asyncio.shield(pending.done)

    def _start_write(self, pending: _PendingEmit) -> None:
        if self._pending is pending:
            self._pending = None
        task = pending.loop.create_task(self._write(pending))
        self._writes.add(task)  # held until done: the loop keeps only weak references to tasks
        task.add_done_callback(self._writes.discard)

    async def _write(self, pending: _PendingEmit) -> None:
        try:
            await self._off_loop(pending.ctx.run, self.emit_many, pending.events)
        except Exception:  # pragma: no cover - emit_many does not raise; the executor could on shutdown
            log.exception("aemit_many failed; %d events dropped", len(pending.events))
            self.dropped += len(pending.events)
        finally:
            pending.done.set_result(None)

    def _put(self, records: list[str]) -> None:
        targets: list[Any] = [self.outbox]
        if self.fallback is not None and self.fallback is not self.outbox:
            targets.append(self.fallback)
        for target in targets:
            try:
                target.put(records)
                return
            except Exception as exc:
                name = type(target).__name__
                log.warning(  # at most once per outbox every few seconds (core.logging.RepeatFilter)
                    "outbox %s unavailable (%s); trying the next one",
                    name,
                    type(exc).__name__,
                    extra={"throttle": f"outbox-put:{name}"},
                )
        with self._mem_lock:
            room = self._memory_limit - len(self._memory)
            self._memory.extend(records[: max(room, 0)])
            if room < len(records):
                self.dropped += len(records) - max(room, 0)
                log.error("event outboxes and memory buffer full: %d events dropped", self.dropped)

    # ----------------------------------------------------------------------------------------- flushing
    def _requeue_memory(self) -> None:
        with self._mem_lock:
            if not self._memory:
                return
            records = list(self._memory)
            self._memory.clear()
        self._put(records)

    def _sources(self) -> list[Outbox]:
        out: list[Outbox] = [self.outbox]
        if self.fallback is not None and self.fallback is not self.outbox:
            out.append(self.fallback)
        return out

    def flush_once(self) -> int:
        """Move at most one batch per outbox into the database. Raises if the database is unavailable
        (the batch then stays in the outbox). Returns the number of records handled."""
        self._requeue_memory()
        handled = 0
        for source in self._sources():
            try:
                batch = source.take(self.batch_size)
            except Exception as exc:  # Redis down: its events wait there; the spool still flushes
                name = type(source).__name__
                log.warning(
                    "cannot read outbox %s: %s", name, type(exc).__name__, extra={"throttle": f"outbox-take:{name}"}
                )
                continue
            if batch is None:
                continue
            rows = [r for r in (_row_from_record(rec) for rec in batch.records) if r is not None]
            insert_events(self.engine, rows)
            source.ack(batch)
            handled += len(batch.records)
        self.flushed += handled
        return handled

    def flush(self, *, attempts: int = 5, max_wait: float = 2.0) -> int:
        """Drain every outbox now (tests, shutdown, before an erasure). Retries a failing database
        `attempts` times with jittered exponential back-off, then re-raises."""
        total = 0
        retrying = Retrying(
            retry=retry_if_exception_type(Exception),
            wait=backoff(0.05, max_wait),
            stop=stop_after_attempt(attempts),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                while True:
                    n = self.flush_once()
                    total += n
                    if n == 0:
                        break
        return total

    def pending(self) -> int:
        n = len(self._memory)
        for s in self._sources():
            try:
                n += s.pending()
            except Exception:
                name = type(s).__name__
                log.warning("cannot count outbox %s", name, extra={"throttle": f"outbox-count:{name}"})
        return n

    # -------------------------------------------------------------------------------- background runner
    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("event flush failed (attempt %d): %s; events wait in the outbox", state.attempt_number, exc)

    def _sleep_unless_stopped(self, seconds: float) -> None:
        """tenacity's `sleep(seconds) -> None`: a back-off sleep that ends early on stop()."""
        self._stop.wait(seconds)

    def _loop(self) -> None:
        retrying = Retrying(
            retry=retry_if_exception_type(Exception),
            wait=backoff(0.2, self.max_backoff),
            stop=stop_when_event_set(self._stop),
            sleep=self._sleep_unless_stopped,
            before_sleep=self._log_retry,
            reraise=False,
            retry_error_callback=lambda _s: None,
        )
        while not self._stop.is_set():
            moved = retrying(self.flush_once)
            if not moved:
                self._stop.wait(self.flush_interval)

    def start(self) -> None:
        """Flush in a daemon thread until `stop()`."""
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="event-flusher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)
            self._thread = None
        try:
            self.flush(attempts=2, max_wait=0.5)
        except Exception as exc:  # the database is down: the events stay durable in the outbox
            log.warning("final event flush failed (%s); %d events stay in the outbox", exc, self.pending())

    async def run(self) -> None:
        """asyncio flavour of the flusher (cancel the task to stop): flushes in a worker thread, with the same
        back-off as the thread's (cancellation is not an Exception: it is never retried)."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(Exception),
            wait=backoff(0.2, self.max_backoff),
            before_sleep=self._log_retry,
        )
        while True:
            moved: int | None = await retrying(asyncio.to_thread, self.flush_once)
            if not moved:
                await asyncio.sleep(self.flush_interval)


def parse_records(records: list[str]) -> list[dict[str, Any]]:
    """JSON records of the outbox as dicts (for inspection tools)."""
    return [json.loads(r) for r in records]
