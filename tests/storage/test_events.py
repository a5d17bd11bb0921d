"""Funnel events: durable outbox, idempotent flush, and no event lost or doubled across a database outage."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from storage import events as events_module
from storage.db import make_engine, migrate
from storage.events import EventSink, FunnelEvent, RedisOutbox, SpoolOutbox, insert_events
from storage.models import Event
from tests.private_services import PrivatePostgres, free_port

QUESTIONS = [
    "trabajo_tiempo",
    "banco_nomina",
    "historial_crediticio",
    "creditos_vigentes",
    "atrasos_12_meses",
    "enganche",
    "prioridad_financiamiento",
    "ingreso_mensual",
]
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def dialog_events(user_key: str) -> list[FunnelEvent]:
    """The events one complete dialog emits, in order."""
    evs = [
        FunnelEvent(name="BotStarted", user_key=user_key),
        FunnelEvent(name="ConsentGiven", user_key=user_key),
        FunnelEvent(name="ProfileCompleted", user_key=user_key),
    ]
    evs += [
        FunnelEvent(name="QuestionAnswered", user_key=user_key, step=q, properties={"i": i})
        for i, q in enumerate(QUESTIONS)
    ]
    evs += [
        FunnelEvent(name=n, user_key=user_key, policy_version="2026.11.1", model_version="m1")
        for n in ("PerfilacionBancariaComplete", "ResultShown", "HandoffOpened")
    ]
    return evs


def count_events(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (
            conn.scalar(select(func.count()).select_from(Event)) or 0,
            conn.scalar(select(func.count(func.distinct(Event.id)))) or 0,
        )


def test_event_model_refuses_raw_telegram_ids_and_unknown_names() -> None:
    with pytest.raises(ValidationError):
        FunnelEvent(name="BotStarted", user_key="123456789012345678")
    with pytest.raises(ValidationError):
        FunnelEvent(name="Clicked", user_key="a" * 64)


def test_spool_flush_is_idempotent_and_drains(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    sink = EventSink(engine, SpoolOutbox(tmp_path / "spool", max_segment_records=7))
    events = [e for i in range(5) for e in dialog_events(f"{i:064x}")]
    for e in events:
        sink.emit(e)
    assert sink.pending() == len(events)
    assert sink.flush() == len(events) and sink.pending() == 0
    # a re-delivered batch (crash after commit, before ack) inserts nothing twice
    insert_events(engine, [e.to_row() for e in events[:10]])
    assert count_events(engine) == (len(events), len(events))
    with Session(engine) as session:
        row = session.get(Event, events[3].id)
    assert row is not None
    assert (row.name, row.step, row.properties) == ("QuestionAnswered", "trabajo_tiempo", {"i": 0})
    assert row.occurred_at == events[3].occurred_at
    engine.dispose()


def test_orphan_segment_of_a_dead_process_is_adopted(sqlite_url: str, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    ev = FunnelEvent(name="BotStarted", user_key="b" * 64)
    # a segment left by a crashed process (a pid that cannot exist), its last line torn mid-write
    dead = spool_dir / "active-4194999-deadbeef0000.jsonl"
    dead.write_text(ev.model_dump_json() + "\n" + '{"id": "torn')
    engine = make_engine(sqlite_url)
    sink = EventSink(engine, SpoolOutbox(spool_dir))
    assert sink.flush() == 1 and count_events(engine) == (1, 1)
    assert not list(spool_dir.iterdir())
    engine.dispose()


def test_async_emits_keep_working_in_a_forked_child(sqlite_url: str, tmp_path: Path) -> None:
    """aemit's threads are the sink's own: a child forked after the parent used them (a replay pool, a
    worker) gets threads of its own instead of waiting forever on its parent's, which do not exist there."""
    import multiprocessing

    engine = make_engine(sqlite_url)
    sink = EventSink(engine, SpoolOutbox(tmp_path / "spool"))
    asyncio.run(sink.aemit_many([FunnelEvent(name="BotStarted", user_key="d" * 64)]))

    def child() -> None:
        asyncio.run(asyncio.wait_for(sink.aemit(FunnelEvent(name="ConsentGiven", user_key="d" * 64)), 10))

    proc = multiprocessing.get_context("fork").Process(target=child)
    proc.start()
    proc.join(30)
    assert proc.exitcode == 0
    assert sink.flush() == 2 and count_events(engine) == (2, 2)
    engine.dispose()


def test_emit_never_raises_when_every_outbox_fails(sqlite_url: str, tmp_path: Path) -> None:
    class Broken:
        def put(self, records: list[str]) -> None:
            raise OSError("disk full")

        def take(self, max_records: int):
            return None

        def ack(self, batch) -> None: ...

        def pending(self) -> int:
            return 0

    engine = make_engine(sqlite_url)
    sink = EventSink(engine, Broken())
    ev = FunnelEvent(name="BotStarted", user_key="c" * 64)
    sink.emit(ev)  # kept in memory
    assert sink.pending() == 1 and sink.dropped == 0
    sink.outbox = SpoolOutbox(tmp_path / "spool")  # the disk is back
    assert sink.flush() == 1 and count_events(engine) == (1, 1)
    engine.dispose()


@pytest.mark.redis
def test_redis_outbox_with_fallback_to_spool_when_redis_is_down(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    stream = f"asesor:test:{uuid.uuid4().hex}"
    redis_box = RedisOutbox(TEST_REDIS_URL, stream=stream)
    sink = EventSink(engine, redis_box, fallback=SpoolOutbox(tmp_path / "spool"))
    events = dialog_events("d" * 64)
    for e in events[:5]:
        sink.emit(e)
    assert redis_box.pending() == 5
    down = RedisOutbox(f"redis://127.0.0.1:{free_port()}/0", stream=stream)  # nothing listens there
    sink.outbox = down
    for e in events[5:]:
        sink.emit(e)
    assert sink.fallback is not None and sink.fallback.pending() == len(events) - 5
    sink.outbox = redis_box
    assert sink.flush() == len(events)
    assert count_events(engine) == (len(events), len(events)) and redis_box.pending() == 0
    redis_box.client.delete(stream)
    engine.dispose()


@pytest.mark.redis
def test_redis_batch_is_redelivered_after_a_failed_insert(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    stream = f"asesor:test:{uuid.uuid4().hex}"
    box = RedisOutbox(TEST_REDIS_URL, stream=stream)
    sink = EventSink(engine, box)
    events = dialog_events("e" * 64)
    sink.emit_many(events)
    batch = box.take(100)  # taken, but the flusher "crashed" before inserting
    assert batch is not None and len(batch.records) == len(events)
    assert sink.flush() == len(events)  # the pending entries come back to the same consumer
    assert count_events(engine) == (len(events), len(events)) and box.pending() == 0
    box.client.delete(stream)
    engine.dispose()


@pytest.mark.parametrize("flusher", ["thread", "asyncio"])
async def test_both_flushers_back_off_by_the_same_policy_and_recover(
    flusher: str, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database failing three flushes: each flusher waits the policy's capped back-off (max_backoff, here
    0.05 s, below its 0.2 s first step) between attempts, logs each failure, and stores everything after."""
    waits: list[float] = []
    policy = events_module.backoff

    def recorded(first: float, longest: float) -> Any:
        wait = policy(first, longest)

        def computed(state: Any) -> float:
            waits.append(wait(state))
            return waits[-1]

        return computed

    monkeypatch.setattr(events_module, "backoff", recorded)
    engine = make_engine(db_url)
    sink = EventSink(engine, SpoolOutbox(tmp_path / "spool"), flush_interval=0.01, max_backoff=0.05)
    real, attempts = sink.flush_once, []

    def failing_three_times() -> int:
        attempts.append(time.monotonic())
        if len(attempts) <= 3:
            raise RuntimeError("database down")
        return real()

    sink.flush_once = failing_three_times  # type: ignore[method-assign]  # this sink's flush, made to fail
    events = dialog_events(f"{uuid.uuid4().int:064x}"[:64])
    sink.emit_many(events)
    task = asyncio.create_task(sink.run()) if flusher == "asyncio" else None
    if task is None:
        sink.start()
    for _ in range(300):
        if count_events(engine)[0] == len(events):
            break
        await asyncio.sleep(0.01)
    if task is not None:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        sink.stop()
    assert count_events(engine) == (len(events), len(events))
    assert waits == [0.05, 0.05, 0.05]  # the policy's waits, capped (wall-clock gaps only bound them below)
    gaps = [b - a for a, b in itertools.pairwise(attempts[:4])]
    assert len(gaps) == 3 and all(g >= 0.04 for g in gaps), gaps
    assert sum("event flush failed" in r.getMessage() for r in caplog.records) == 3
    engine.dispose()


async def test_async_emit_and_flusher_task(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    sink = EventSink(engine, SpoolOutbox(tmp_path / "spool"), flush_interval=0.02)
    task = asyncio.create_task(sink.run())
    events = [e for i in range(10) for e in dialog_events(f"{i + 100:064x}")]
    await asyncio.gather(*(sink.aemit(e) for e in events))
    for _ in range(200):
        if count_events(engine)[0] == len(events):
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert count_events(engine) == (len(events), len(events))
    engine.dispose()


class CountingSpool(SpoolOutbox):
    """A spool that counts its writes."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, fsync=False)
        self.writes: list[int] = []

    def put(self, records: list[str]) -> None:
        self.writes.append(len(records))
        super().put(records)


async def test_emits_within_the_window_share_one_outbox_write(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url)
    spool = CountingSpool(tmp_path / "spool")
    sink = EventSink(engine, spool, emit_window=0.05)
    events = [e for i in range(8) for e in dialog_events(f"{i + 200:064x}")]
    # eight turns emitting at once, and one whose caller is cancelled before the write: its events still land
    cancelled = asyncio.create_task(sink.aemit_many(dialog_events(f"{300:064x}")))
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.gather(*(sink.aemit_many(events[i : i + 4]) for i in range(0, len(events), 4)))
    assert spool.writes == [len(events) + len(dialog_events("0" * 64))]  # one write for all of them
    await asyncio.sleep(0.1)  # a later emit opens a window of its own
    await sink.aemit(FunnelEvent(name="BotStarted", user_key="e" * 64))
    assert spool.writes[1:] == [1]
    assert sink.flush() == sum(spool.writes) and sink.dropped == 0
    engine.dispose()


# ---------------------------------------------------------------------------------------- outage test
@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    if not PrivatePostgres.available():
        pytest.fail("PostgreSQL 15 binaries are missing: run scripts/services.sh")
    pg = PrivatePostgres()
    pg.start()
    yield pg
    pg.destroy()


@pytest.mark.postgres
@pytest.mark.parametrize("outbox_kind", ["spool", pytest.param("redis", marks=pytest.mark.redis)])
def test_every_event_lands_exactly_once_across_a_postgres_outage(
    private_pg: PrivatePostgres, tmp_path: Path, outbox_kind: str
) -> None:
    admin = make_engine(private_pg.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    db = f"outage_{outbox_kind}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db}"'))
    admin.dispose()
    url = private_pg.url.rsplit("/", 1)[0] + "/" + db
    migrate(url)
    engine = make_engine(url, pool_size=4)
    stream = f"asesor:test:{uuid.uuid4().hex}"
    outbox = (
        SpoolOutbox(tmp_path / "spool", max_segment_records=50)
        if outbox_kind == "spool"
        else RedisOutbox(TEST_REDIS_URL, stream=stream)
    )
    sink = EventSink(engine, outbox, batch_size=40, flush_interval=0.01, max_backoff=0.2)
    sink.start()

    n_dialogs = 40
    emitted: list[str] = []
    lock = threading.Lock()
    slowest = 0.0
    outage = threading.Event()
    halfway = threading.Barrier(n_dialogs + 1)

    def dialog(i: int) -> None:
        nonlocal slowest
        events = dialog_events(uuid.uuid5(uuid.NAMESPACE_OID, str(i)).hex * 2)
        for j, ev in enumerate(events):
            if j == len(events) // 2:
                halfway.wait()  # every dialog is mid-way when the database goes down
                outage.wait()
            t0 = time.perf_counter()
            sink.emit(ev)
            dt = time.perf_counter() - t0
            with lock:
                emitted.append(ev.id)
                slowest = max(slowest, dt)
            time.sleep(0.002)

    threads = [threading.Thread(target=dialog, args=(i,)) for i in range(n_dialogs)]
    for t in threads:
        t.start()
    halfway.wait()
    time.sleep(0.3)  # let the flusher store the first halves
    stored_before = count_events(engine)[0]
    private_pg.stop()
    outage.set()
    for t in threads:
        t.join()
    time.sleep(0.3)  # the flusher keeps failing and backing off; nothing may be lost meanwhile
    waiting = sink.pending()
    private_pg.start()
    sink.stop()  # joins the flusher and drains what is left
    engine.dispose()

    engine = make_engine(url)
    with engine.connect() as conn:
        ids = list(conn.scalars(select(Event.id)))
    engine.dispose()
    if isinstance(outbox, RedisOutbox):
        outbox.client.delete(stream)

    assert 0 < stored_before < len(emitted)  # the outage really split the run
    assert waiting > 0  # events were held in the outbox while the database was down
    assert len(emitted) == n_dialogs * len(dialog_events("f" * 64))
    assert len(ids) == len(set(ids)) == len(emitted)  # every event exactly once
    assert set(ids) == set(emitted)
    assert slowest < 1.0, f"emit blocked for {slowest:.3f}s during the outage"


def test_events_survive_a_killed_process(sqlite_url: str, tmp_path: Path) -> None:
    """A process emits and dies (SIGKILL-like, no flush, no cleanup): a later flusher finds every event."""
    import sys

    spool = tmp_path / "spool"
    code = f"""
import os
from storage.db import make_engine
from storage.events import EventSink, FunnelEvent, SpoolOutbox
sink = EventSink(make_engine({sqlite_url!r}), SpoolOutbox({str(spool)!r}))
for i in range(50):
    sink.emit(FunnelEvent(id=f"killed-{{i}}", name="QuestionAnswered", user_key="{"a" * 64}", step="enganche"))
os._exit(9)
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert proc.returncode == 9
    assert list(spool.glob("active-*.jsonl"))  # left behind by the dead process
    engine = make_engine(sqlite_url)
    sink = EventSink(engine, SpoolOutbox(spool))
    assert sink.flush() == 50
    with engine.connect() as conn:
        ids = set(conn.scalars(select(Event.id)))
    assert ids == {f"killed-{i}" for i in range(50)}
    engine.dispose()
