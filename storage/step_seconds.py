"""Time per funnel step without sorting every applicant at query time (issue 15, speed).

`funnel_step_seconds` holds each applicant's gap per timed step (the same SQL expression the percentiles used
to compute on the fly) and `funnel_step_histogram` counts them per cohort day, step and seconds bucket. Both are
rewritten for the applicants of an event batch in the flush's transaction (`refresh`), right after their
funnel_progress rows, so they always describe funnel_progress exactly.

A percentile is then exact and cheap: the histogram gives each step's count and the bucket (and the offset in
it) of the ranks `percentile_cont` interpolates between; one ordered index scan of that bucket reads the value.
Only the edges of a period that does not start or end at UTC midnight are counted from the rows themselves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, delete, func, insert, literal, or_, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from storage.models import TIMED_STEPS, FunnelProgress, FunnelStepHistogram, FunnelStepSeconds
from storage.sqlfuncs import epoch_seconds, floor_int

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def bucket_of(seconds: Any) -> ColumnElement[int]:
    """Histogram bucket of a gap, non-decreasing in it: 1 s wide under 2 min, 10 s to 20 min, 10 min to a day."""
    return case(
        (seconds < 120, floor_int(seconds)),
        (seconds < 1200, 120 + floor_int((seconds - 120) / 10)),
        (seconds < 86400, 228 + floor_int((seconds - 1200) / 600)),
        else_=370,
    )


def day_of(ts: Any) -> ColumnElement[int]:
    return floor_int(epoch_seconds(ts) / 86400.0)


def _gap_rows(some: bool) -> Any:
    """SELECT of (user_key, step, first_seen_at, day, seconds, bucket) from funnel_progress, every timed step;
    `some`: only the applicants of the expanding parameter `user_keys`."""
    fp = FunnelProgress.__table__
    cols = ["user_key", "first_seen_at", *dict.fromkeys(c for pair in TIMED_STEPS for c in pair)]
    rows: Any = select(*[fp.c[c] for c in cols])
    if some:
        rows = rows.where(fp.c.user_key.in_(bindparam("user_keys", expanding=True)))
    src = rows.cte("touched")  # the applicants' rows read once, then one SELECT per timed step over them
    parts = []
    for before, after in TIMED_STEPS:
        a, b = src.c[before], src.c[after]
        sec = epoch_seconds(b) - epoch_seconds(a)
        parts.append(
            select(
                src.c.user_key,
                literal(after).label("step"),
                src.c.first_seen_at,
                day_of(src.c.first_seen_at).label("day"),
                sec.label("seconds"),
                bucket_of(sec).label("bucket"),
            ).where(b >= a)
        )
    return union_all(*parts)


COLUMNS = ("user_key", "step", "first_seen_at", "day", "seconds", "bucket")


@cache
def _refresh_statements(dialect: str) -> tuple[Any, Any, Any]:
    """The three statements of `refresh`, built once: the gaps' SELECT is a union of a SELECT per timed step,
    and building and keying it on every flush cost more than running it (SQLAlchemy memoizes a statement
    object's cache key, so the same objects are compiled once and then only bound)."""
    s = FunnelStepSeconds
    key = (s.day, s.step, s.bucket)
    gone = delete(s).where(s.user_key.in_(bindparam("user_keys", expanding=True))).returning(*key)
    added = insert(s).from_select(COLUMNS, _gap_rows(True)).returning(*key)
    ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
    h = FunnelStepHistogram.__table__
    up = ins(FunnelStepHistogram)
    up = up.on_conflict_do_update(
        index_elements=["day", "step", "bucket"], set_={"applicants": h.c.applicants + up.excluded.applicants}
    )
    return gone, added, up


def refresh(conn: Connection, user_keys: Sequence[str]) -> None:
    """Rewrite these applicants' gaps from their funnel_progress rows and move the histogram by the difference.
    Call it in the transaction that upserted those rows (it holds their locks, so flushers do not interleave)."""
    if not user_keys:
        return
    gone, added, up = _refresh_statements(conn.dialect.name)
    keys = {"user_keys": list(user_keys)}
    delta: Counter[tuple[int, str, int]] = Counter()
    for d, st, b in conn.execute(gone, keys):
        delta[(int(d), st, int(b))] -= 1
    for d, st, b in conn.execute(added, keys):
        delta[(int(d), st, int(b))] += 1
    changes = [{"day": d, "step": st, "bucket": b, "applicants": n} for (d, st, b), n in sorted(delta.items()) if n]
    if changes:
        conn.execute(up, changes)  # sorted: concurrent flushers lock histogram rows in the same order


def rebuild(conn: Connection) -> None:
    """Both tables from funnel_progress as a whole (a migration, or a repair)."""
    conn.execute(delete(FunnelStepHistogram))
    conn.execute(delete(FunnelStepSeconds))
    conn.execute(insert(FunnelStepSeconds).from_select(COLUMNS, _gap_rows(False)))
    s = FunnelStepSeconds
    conn.execute(
        insert(FunnelStepHistogram).from_select(
            ("day", "step", "bucket", "applicants"),
            select(s.day, s.step, s.bucket, func.count()).group_by(s.day, s.step, s.bucket),
        )
    )


# ------------------------------------------------------------------------------------------------ query
def _day_index(t: datetime) -> tuple[int, bool]:
    """(UTC day number of t, whether t is that day's midnight)."""
    d = (t.astimezone(UTC) - EPOCH) // DAY
    return d, t.astimezone(UTC) == EPOCH + d * DAY


def _percentile_ranks(n: int, p: float) -> tuple[float, int, int | None]:
    """(position, lower rank, upper rank or None) as `percentile_cont` interpolates."""
    pos = p * (n - 1)
    lo = int(pos)
    return pos, lo, (lo + 1 if pos != lo else None)


def quantiles(
    conn: Connection, start: datetime | None, end: datetime | None, probs: Sequence[float] = (0.5, 0.9)
) -> dict[str, tuple[int, list[float | None]]]:
    """Per timed step (column name): (applicants timed, [value at each of `probs`]) over the cohort first seen
    in [start, end), as `percentile_cont` over funnel_step_seconds gives them, from the histogram."""
    s, h = FunnelStepSeconds, FunnelStepHistogram
    # whole days [d0, d1) from the histogram; the partial first and last day of the period from the rows
    d0 = d1 = None
    edges: list[ColumnElement[bool]] = []
    if start is not None:
        d0, exact = _day_index(start)
        if not exact:
            d0 += 1
            first_end = EPOCH + d0 * DAY if end is None else min(EPOCH + d0 * DAY, end)
            edges.append(and_(s.first_seen_at >= start, s.first_seen_at < first_end))
    if end is not None:
        d1, exact = _day_index(end)
        if not exact:
            last_start = EPOCH + d1 * DAY if start is None else max(EPOCH + d1 * DAY, start)
            edges.append(and_(s.first_seen_at >= last_start, s.first_seen_at < end))
    counts: dict[str, Counter[int]] = {after: Counter() for _, after in TIMED_STEPS}
    days = [*([h.day >= d0] if d0 is not None else []), *([h.day < d1] if d1 is not None else [])]
    hist = select(h.step, h.bucket, func.sum(h.applicants)).where(*days, h.applicants != 0).group_by(h.step, h.bucket)
    for st, b, n in conn.execute(hist):
        if st in counts:
            counts[st][int(b)] += int(n)
    if edges:
        q = select(s.step, s.bucket, func.count()).where(or_(*edges)).group_by(s.step, s.bucket)
        for st, b, n in conn.execute(q):
            if st in counts:
                counts[st][int(b)] += int(n)

    period: list[ColumnElement[bool]] = []
    if start is not None:
        period.append(s.first_seen_at >= start)
    if end is not None:
        period.append(s.first_seen_at < end)
    # which ranks each step needs, and where they are: (step, rank) -> (bucket, offset in it)
    wanted: dict[tuple[str, int], tuple[int, int]] = {}
    totals: dict[str, int] = {}
    for st, c in counts.items():
        n = totals[st] = sum(c.values())
        if not n:
            continue
        ranks = sorted({r for p in probs for r in _percentile_ranks(n, p)[1:] if r is not None})
        cum, it = 0, iter(sorted(c.items()))
        b, k = next(it)
        for r in ranks:
            while r >= cum + k:
                cum += k
                b, k = next(it)
            wanted[(st, r)] = (b, r - cum)
    values: dict[tuple[str, int], float] = {}
    if wanted:
        keys = list(wanted)
        parts = [
            select(literal(i).label("i"), sub.c.seconds)
            for i, sub in enumerate(
                select(s.seconds)
                .where(s.step == st, s.bucket == wanted[(st, r)][0], *period)
                .order_by(s.seconds)
                .offset(wanted[(st, r)][1])
                .limit(1)
                .subquery()
                for st, r in keys
            )
        ]
        for i, v in conn.execute(union_all(*parts)):
            values[keys[int(i)]] = float(v)
    out: dict[str, tuple[int, list[float | None]]] = {}
    for st, n in totals.items():
        qs: list[float | None] = []
        for p in probs:
            if not n:
                qs.append(None)
                continue
            pos, lo, hi = _percentile_ranks(n, p)
            v = values[(st, lo)]
            qs.append(v if hi is None else v + (values[(st, hi)] - v) * (pos - lo))
        out[st] = (n, qs)
    return out
