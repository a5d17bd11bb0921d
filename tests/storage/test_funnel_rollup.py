"""`funnel_progress` is exactly the per-applicant first time of each step, whatever the order, batching or
re-delivery of events, and the 0002 migration backfills it from stored events."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from storage.db import make_engine, migrate
from storage.events import insert_events
from storage.models import FUNNEL_COLUMNS, Event, FunnelProgress

T0 = datetime(2026, 10, 1, tzinfo=UTC)
STEPS = list(FUNNEL_COLUMNS)


def _events(rng: random.Random, users: int = 30) -> list[dict]:
    rows: list[dict] = []
    for u in range(users):
        for k in range(rng.randint(1, 25)):
            name, step = rng.choice(STEPS)
            rows.append(
                {
                    "id": f"{u}-{k}",
                    "user_key": f"{u:064x}",
                    "name": name,
                    "step": step,
                    "occurred_at": T0 + timedelta(minutes=rng.randint(0, 5000)),
                    "properties": {},
                    "policy_version": None,
                    "model_version": None,
                }
            )
    return rows


def _expected(rows: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for r in rows:
        d = out.setdefault(r["user_key"], {"first_seen_at": r["occurred_at"], "last_seen_at": r["occurred_at"]})
        d["first_seen_at"] = min(d["first_seen_at"], r["occurred_at"])
        d["last_seen_at"] = max(d["last_seen_at"], r["occurred_at"])
        col = FUNNEL_COLUMNS[(r["name"], r["step"])]
        d[col] = min(d.get(col, r["occurred_at"]), r["occurred_at"])
    return out


def _actual(engine) -> dict[str, dict]:
    cols = ["first_seen_at", "last_seen_at", *dict.fromkeys(FUNNEL_COLUMNS.values())]
    with engine.connect() as conn:
        rows = conn.execute(select(FunnelProgress)).mappings().all()
    return {r["user_key"]: {c: r[c] for c in cols if r[c] is not None} for r in rows}


def test_rollup_is_order_batch_and_redelivery_independent(db_url: str) -> None:
    rng = random.Random(5)
    rows = _events(rng)
    shuffled = rows[:]
    rng.shuffle(shuffled)
    redelivered = shuffled + rng.sample(rows, 40)  # a crash re-delivers some batches, late and out of order
    engine = make_engine(db_url)
    i = 0
    while i < len(redelivered):
        n = rng.randint(1, 60)
        insert_events(engine, redelivered[i : i + n])
        i += n
    assert _actual(engine) == _expected(rows)
    engine.dispose()


def test_migration_0002_backfills_from_existing_events(sqlite_url: str) -> None:
    from storage.db import downgrade

    downgrade(sqlite_url, "0001")
    rows = _events(random.Random(9), users=10)
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(insert(Event), [{**r, "received_at": T0} for r in rows])
    migrate(sqlite_url)
    assert _actual(engine) == _expected(rows)
    engine.dispose()
