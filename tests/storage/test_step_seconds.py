"""Time per step from the kept gaps and their per-day histogram (storage.step_seconds) gives exactly what sorting
every gap of the cohort gives (the scan it replaced, still used with applicant filters), on both databases,
whatever the period's edges, after late, re-delivered and edited events and an erasure."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Row, func, select

from engine.policy import default_policy
from storage import step_seconds
from storage.analytics import Analytics, Filters
from storage.events import insert_events
from storage.models import FunnelStepHistogram, FunnelStepSeconds
from storage.repositories import Storage

T0 = datetime(2026, 10, 1, tzinfo=UTC)
STEPS: list[tuple[str, str | None]] = [("BotStarted", None), ("ConsentGiven", None), ("ProfileCompleted", None)]
STEPS += [("QuestionAnswered", q) for q in default_policy().answers]
STEPS += [
    (n, None) for n in ("PerfilacionBancariaComplete", "ResultShown", "HandoffOpened", "FinancingRequestSubmitted")
]


def _events(rng: random.Random, users: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for u in range(users):
        t = T0 + timedelta(days=rng.uniform(0, 20))
        for name, step in STEPS:
            # mostly seconds, sometimes minutes or days (every bucket width), ties from whole seconds
            gap = rng.choice([rng.expovariate(1 / 15), float(rng.randint(0, 40)), rng.uniform(100, 5000)])
            t += timedelta(seconds=gap if rng.random() > 0.01 else 2 * 86400)
            rows.append(
                {
                    "id": f"{u}-{len(rows)}",
                    "user_key": f"{u:064x}",
                    "name": name,
                    "step": step,
                    "occurred_at": t,
                    "properties": {},
                }
            )
            if rng.random() < 0.08:
                break
    return rows


def _scan(an: Analytics, f: Filters, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    with monkeypatch.context() as m:  # no kept steps: step_times falls back to sorting the cohort's gaps
        m.setattr("storage.analytics.TIMED_STEPS", ())
        return an.step_times(f)


PERIODS = [
    Filters(),
    Filters(start=T0 + timedelta(days=3), end=T0 + timedelta(days=10)),  # whole days
    Filters(start=T0 + timedelta(days=3, hours=5), end=T0 + timedelta(days=10, hours=17, seconds=3)),
    Filters(start=T0 + timedelta(days=4, hours=2), end=T0 + timedelta(days=4, hours=20)),  # inside one day
    Filters(start=T0 + timedelta(days=6, hours=7)),
    Filters(end=T0 + timedelta(days=12, minutes=30)),
    Filters(start=T0 + timedelta(days=40)),  # nobody
    Filters(start=T0 + timedelta(days=9), end=T0 + timedelta(days=5)),  # empty (start after end)
]


def test_kept_histogram_gives_the_scans_percentiles(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(15)
    rows = _events(rng, 400)
    rng.shuffle(rows)
    # batches out of order, one re-delivered, and edits (an answer again, earlier and later than the first)
    batches = [rows[i : i + 700] for i in range(0, len(rows), 700)]
    for b in batches:
        insert_events(storage.engine, b)
    insert_events(storage.engine, batches[1])
    edits = [
        {**r, "id": f"{r['id']}-edit", "occurred_at": r["occurred_at"] + timedelta(seconds=rng.uniform(-300, 300))}
        for r in rng.sample(rows, 150)
    ]
    insert_events(storage.engine, edits)
    storage.erase_applicant(f"{7:064x}")

    an = Analytics(storage.engine)
    for f in PERIODS:
        kept, scanned = an.step_times(f), _scan(an, f, monkeypatch)
        assert kept == scanned, f
    everyone = {(r["event"], r["step"]): r for r in an.step_times()}
    # the comparison has something to compare: every step timed, with spread
    assert all(r["timed"] > 50 for r in list(everyone.values())[1:12])
    assert everyone[("ConsentGiven", None)]["p90_seconds"] > everyone[("ConsentGiven", None)]["median_seconds"]


def test_kept_tables_equal_a_rebuild(storage: Storage) -> None:
    rows = _events(random.Random(3), 120)
    for i in range(0, len(rows), 250):
        insert_events(storage.engine, rows[i : i + 250][::-1])
    insert_events(
        storage.engine,
        [{**r, "id": r["id"] + "-late", "occurred_at": r["occurred_at"] - timedelta(hours=30)} for r in rows[::9]],
    )

    def snapshot() -> tuple[set[Row[str, str, datetime, int, float, int]], set[Row[int, str, int, int]]]:
        s, h = FunnelStepSeconds, FunnelStepHistogram
        with storage.engine.connect() as conn:
            gaps = set(conn.execute(select(s.user_key, s.step, s.first_seen_at, s.day, s.seconds, s.bucket)).all())
            hist = set(conn.execute(select(h.day, h.step, h.bucket, h.applicants).where(h.applicants != 0)).all())
        return gaps, hist

    kept = snapshot()
    with storage.engine.begin() as conn:
        step_seconds.rebuild(conn)
    assert snapshot() == kept
    assert len(kept[0]) > 500
    with storage.engine.connect() as conn:
        least = conn.scalar(select(func.min(FunnelStepHistogram.applicants)))
        assert least is not None and least >= 0


def test_applicant_filters_still_scan(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bank filter restricts the cohort to applicants with such an assessment: the histogram cannot answer it,
    the scan does (and gives nobody here, as no assessment is stored)."""
    insert_events(storage.engine, _events(random.Random(5), 30))
    an = Analytics(storage.engine)
    called: list[tuple[Any, ...]] = []

    def quantiles(*a: Any, **k: Any) -> dict[str, Any]:
        called.append(a)
        return {}

    monkeypatch.setattr(step_seconds, "quantiles", quantiles)
    rows = an.step_times(Filters(bank="bbva"))
    assert not called and rows[0]["users"] == 0
