"""Counts of one period the dashboard shows beside the analytics: assessments per recommended bank (API
assessments included, which have no applicant behind them) and financing requests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func, select

from storage.models import Assessment, FinancingRequest


def assessments_by_bank(engine: Engine, start: datetime | None, end: datetime | None) -> dict[str | None, int]:
    q = select(Assessment.recommended_bank, func.count()).group_by(Assessment.recommended_bank)
    if start is not None:
        q = q.where(Assessment.created_at >= start)
    if end is not None:
        q = q.where(Assessment.created_at < end)
    with engine.connect() as conn:
        return {bank: int(n) for bank, n in conn.execute(q).all()}


def financing_requests(engine: Engine, start: datetime | None, end: datetime | None) -> int:
    q = select(func.count()).select_from(FinancingRequest)
    if start is not None:
        q = q.where(FinancingRequest.created_at >= start)
    if end is not None:
        q = q.where(FinancingRequest.created_at < end)
    with engine.connect() as conn:
        return int(conn.scalar(q) or 0)
