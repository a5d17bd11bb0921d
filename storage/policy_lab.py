"""Storage of the policy lab: the stored assessments a replay re-reads (by id range), and the lab's runs.

A replay partitions the period's assessments into id ranges of about the same size (`replay_partitions`, one
window query) and every worker — a local process or a Dask task — reads its own range in keyset batches
(`replay_rows`). Nothing here writes to `assessments`: a replay never touches what it re-assesses.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, Row, func, select
from sqlalchemy.sql.elements import ColumnElement

from storage.models import Assessment

# what a replay reads of each assessment: no personal data (the stored request has the name redacted)
REPLAY_COLUMNS = (
    Assessment.id,
    Assessment.user_key,
    Assessment.created_at,
    Assessment.policy_version,
    Assessment.decision,
    Assessment.rate,
    Assessment.pd,
    Assessment.recommended_bank,
    Assessment.income_band,
    Assessment.tenure,
    Assessment.payroll_bank,
    Assessment.expected_loss,
    Assessment.lgd,
    Assessment.exposure,
    Assessment.request,
)
IdRange = tuple[str | None, str | None]  # [lo, hi): None is open


def period_conditions(since: date | None, until: date | None) -> list[ColumnElement[bool]]:
    """Assessments made from `since` to `until`, both days included (UTC)."""
    cond: list[ColumnElement[bool]] = []
    if since is not None:
        cond.append(Assessment.created_at >= datetime.combine(since, time.min, UTC))
    if until is not None:
        cond.append(Assessment.created_at < datetime.combine(until + timedelta(days=1), time.min, UTC))
    return cond


def _range(lo: str | None, hi: str | None) -> list[ColumnElement[bool]]:
    cond: list[ColumnElement[bool]] = []
    if lo is not None:
        cond.append(Assessment.id >= lo)
    if hi is not None:
        cond.append(Assessment.id < hi)
    return cond


def count_assessments(engine: Engine, since: date | None = None, until: date | None = None) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Assessment).where(*period_conditions(since, until))) or 0


def replay_partitions(
    engine: Engine, since: date | None = None, until: date | None = None, *, rows_per_partition: int = 2000
) -> list[tuple[IdRange, int]]:
    """Id ranges of about `rows_per_partition` assessments of the period each, with their row counts."""
    if rows_per_partition < 1:
        raise ValueError("rows_per_partition must be at least 1")
    cond = period_conditions(since, until)
    numbered = select(Assessment.id, func.row_number().over(order_by=Assessment.id).label("rn")).where(*cond)
    sub = numbered.subquery()
    with engine.connect() as conn:
        total = int(conn.scalar(select(func.count()).select_from(Assessment).where(*cond)) or 0)
        starts = list(conn.scalars(select(sub.c.id).where((sub.c.rn - 1) % rows_per_partition == 0).order_by(sub.c.id)))
    if not starts:
        return []
    bounds: list[str | None] = [None, *starts[1:], None]
    sizes = [rows_per_partition] * (len(starts) - 1) + [total - rows_per_partition * (len(starts) - 1)]
    return [((bounds[i], bounds[i + 1]), sizes[i]) for i in range(len(starts))]


def replay_rows(
    engine: Engine,
    id_range: IdRange = (None, None),
    since: date | None = None,
    until: date | None = None,
    *,
    batch_size: int = 1000,
) -> Iterator[Sequence[Row[Any]]]:
    """The period's assessments in [lo, hi), in id order, `batch_size` at a time (keyset pagination)."""
    lo, hi = id_range
    cond = [*period_conditions(since, until), *_range(None, hi)]
    last: str | None = None
    with engine.connect() as conn:
        while True:
            page = [Assessment.id > last] if last is not None else _range(lo, None)
            rows = conn.execute(
                select(*REPLAY_COLUMNS).where(*cond, *page).order_by(Assessment.id).limit(batch_size)
            ).all()
            if not rows:
                return
            yield rows
            last = rows[-1].id
            if len(rows) < batch_size:
                return


# ------------------------------------------------------------------------------------------ lab runs
def _write(engine: Engine) -> Any:
    from storage.db import make_sessionmaker, session_scope, write_engine

    return session_scope(make_sessionmaker(write_engine(engine)))


def create_run(
    engine: Engine,
    *,
    kind: str,
    policy_toml: str,
    policy_version: str,
    policy_hash: str,
    params: dict[str, Any] | None = None,
    created_by: int | None = None,
) -> str:
    """A queued replay or simulation; returns its id."""
    import uuid

    from storage.models import POLICY_RUN_KINDS, PolicyRun

    if kind not in POLICY_RUN_KINDS:
        raise ValueError(f"kind must be one of {POLICY_RUN_KINDS}")
    run_id = str(uuid.uuid4())
    with _write(engine) as s:
        s.add(
            PolicyRun(
                id=run_id,
                kind=kind,
                status="queued",
                created_by=created_by,
                policy_toml=policy_toml,
                policy_version=policy_version[:32],
                policy_hash=policy_hash,
                params=dict(params or {}),
                progress={},
            )
        )
    return run_id


def update_run(engine: Engine, run_id: str, **fields: Any) -> None:
    """Set status, progress, results or error of a run (and its heartbeat, `updated_at`)."""
    from sqlalchemy import update

    from storage.models import PolicyRun
    from storage.types import utcnow

    allowed = {"status", "progress", "summary", "report", "changes_csv", "error", "started_at", "finished_at"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"cannot update {sorted(unknown)}")
    with _write(engine) as s:
        s.execute(update(PolicyRun).where(PolicyRun.id == run_id).values(**fields, updated_at=utcnow()))


def get_run(engine: Engine, run_id: str, *, with_results: bool = False) -> Any:
    """The run (a detached row), or None; without `with_results` the report and CSV are not loaded."""
    from sqlalchemy.orm import Session, defer

    from storage.models import PolicyRun

    q = select(PolicyRun).where(PolicyRun.id == run_id)
    if not with_results:
        q = q.options(defer(PolicyRun.report), defer(PolicyRun.changes_csv), defer(PolicyRun.policy_toml))
    with Session(engine, expire_on_commit=False) as s:
        run = s.scalar(q)
        if run is not None:
            s.expunge(run)
        return run


def latest_runs(engine: Engine, kind: str, *, status: str | None = None, limit: int = 20) -> list[Any]:
    """The most recent runs of a kind (newest first), without their reports."""
    from sqlalchemy.orm import Session, defer

    from storage.models import PolicyRun

    q = select(PolicyRun).where(PolicyRun.kind == kind)
    if status is not None:
        q = q.where(PolicyRun.status == status).order_by(PolicyRun.finished_at.desc())
    else:
        q = q.order_by(PolicyRun.created_at.desc())
    q = q.options(defer(PolicyRun.report), defer(PolicyRun.changes_csv), defer(PolicyRun.policy_toml)).limit(limit)
    with Session(engine, expire_on_commit=False) as s:
        runs = list(s.scalars(q))
        for r in runs:
            s.expunge(r)
        return runs
