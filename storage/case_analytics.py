"""The advisors' work, for their managers: cases per reason, time to first answer and to resolution (median and
p90, linear interpolation as `percentile_cont`), the service level met, and how cases ended.

Cases opened in the period [start, end). Times are minutes from the case's opening to the first advisor
message to the applicant (`escalations.first_answer_at`) and to its resolution; cases the applicant erased are
counted (their key is a tombstone) but their closing by erasure is not an advisor's resolution. Aggregates
only: no personal data. Few rows (cases, not events): read whole and summed here, the same on both databases.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from storage.analytics import _percentile
from storage.models import CASE_OUTCOMES, Escalation

ERASED = "erased at the applicant's request"


def _minutes(later: datetime | None, since: datetime) -> float | None:
    return None if later is None else max(0.0, (later - since).total_seconds() / 60.0)


def _stats(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    return {
        "cases": len(ordered),
        "median_minutes": round(_percentile(ordered, 0.5), 2) if ordered else None,
        "p90_minutes": round(_percentile(ordered, 0.9), 2) if ordered else None,
    }


def case_stats(engine: Engine, start: datetime, end: datetime, target_minutes: int) -> dict[str, Any]:
    q = select(
        Escalation.reason,
        Escalation.status,
        Escalation.outcome,
        Escalation.resolution,
        Escalation.created_at,
        Escalation.first_answer_at,
        Escalation.resolved_at,
    ).where(Escalation.created_at >= start, Escalation.created_at < end)
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    reasons: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    first, resolution = [], []
    for reason, status, outcome, note, created, answered, resolved in rows:
        for code in filter(None, (reason or "").split(",")):
            reasons[code] += 1
        statuses[status] += 1
        if (m := _minutes(answered, created)) is not None:
            first.append(m)
        if status == "resolved" and note != ERASED and (m := _minutes(resolved, created)) is not None:
            resolution.append(m)
            outcomes[outcome or "sin_resultado"] += 1
    within = sum(1 for m in first if m <= target_minutes)
    shown = [o for o in (*CASE_OUTCOMES, "sin_resultado") if o in CASE_OUTCOMES or outcomes.get(o)]
    return {
        "cases": len(rows),
        "by_status": {s: statuses.get(s, 0) for s in ("open", "claimed", "resolved")},
        "target_minutes": target_minutes,
        "first_answer": {
            **_stats(first),
            "within_target": within,
            "within_target_rate": within / len(first) if first else None,
        },
        "resolution": _stats(resolution),
        "reasons": [{"reason": r, "cases": n} for r, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))],
        "outcomes": [{"outcome": o, "cases": outcomes.get(o, 0)} for o in shown],
    }
