"""Data of the /dashboard page: storage.analytics reports reshaped for the charts (labels in Spanish)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from api.services.handoff import policy_for
from core.config import Settings
from storage.analytics import Analytics, Filters
from storage.models import Assessment, FinancingRequest
from storage.repositories import Storage

DEFAULT_DAYS = 30

_EVENT_LABELS = {
    "BotStarted": "Inicio en el bot",
    "ConsentGiven": "Aceptó el aviso de privacidad",
    "ProfileCompleted": "Perfil completo",
    "PerfilacionBancariaComplete": "Perfilamiento completo",
    "ResultShown": "Vio su resultado",
    "HandoffOpened": "Abrió la solicitud web",
    "FinancingRequestSubmitted": "Envió la solicitud",
}
_QUESTION_LABELS = {
    "trabajo_tiempo": "antigüedad laboral",
    "banco_nomina": "banco de nómina",
    "historial_crediticio": "historial crediticio",
    "creditos_vigentes": "créditos vigentes",
    "atrasos_12_meses": "atrasos (12 meses)",
    "enganche": "enganche",
    "prioridad_financiamiento": "prioridad",
    "ingreso_mensual": "ingreso mensual",
}


def _step_label(event: str, step: str | None) -> str:
    if event == "QuestionAnswered":
        return f"Respondió: {_QUESTION_LABELS.get(step or '', step)}"
    return _EVENT_LABELS.get(event, event)


def dashboard_data(storage: Storage, settings: Settings, start: date, end: date) -> dict[str, Any]:
    policy = policy_for(settings)
    an = Analytics(storage.engine, policy)
    f = Filters(
        start=datetime.combine(start, time.min, UTC), end=datetime.combine(end + timedelta(days=1), time.min, UTC)
    )
    banks = dict(policy.banks)

    funnel = an.funnel(f)
    users = [row["users"] for row in funnel]
    drop_pct = [
        0.0 if row["conversion_from_previous"] is None else round((1 - row["conversion_from_previous"]) * 100, 1)
        for row in funnel
    ]

    decisions = an.decisions(f, unit="day")
    by_day: dict[str, dict[str, int]] = {}
    # per-decision daily counts: the storage series gives totals and approval; split it by decision here
    for decision in ("aprobado", "revisar", "rechazado"):
        for row in an.decisions(Filters(start=f.start, end=f.end, decision=decision), unit="day")["series"]:
            by_day.setdefault(row["period"], {})[decision] = row["assessments"]
    dates = sorted(by_day)

    pd = an.pd_distribution(f, bins=20)
    loss = an.expected_loss(f)
    segments = an.segments(f, by="income_band")
    income_labels = policy.answers["ingreso_mensual"]
    # every recommended bank of the period, including API assessments with no applicant behind them
    # (funnel_by_bank counts applicants only)
    with storage.engine.connect() as conn:
        cond = [Assessment.created_at >= f.start, Assessment.created_at < f.end]
        bank_counts = {
            b: int(n)
            for b, n in conn.execute(
                select(Assessment.recommended_bank, func.count()).where(*cond).group_by(Assessment.recommended_bank)
            ).all()
        }
        requests = int(
            conn.scalar(
                select(func.count())
                .select_from(FinancingRequest)
                .where(FinancingRequest.created_at >= f.start, FinancingRequest.created_at < f.end)
            )
            or 0
        )
    return {
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "totals": {
            "assessments": decisions["total"],
            "financing_requests": requests,
            "approval_rate": decisions["approval_rate"] or 0.0,
            "mean_pd": pd["mean"] or 0.0,
            "expected_loss": loss["expected_loss"],
        },
        "funnel": {
            "labels": [_step_label(r["event"], r["step"]) for r in funnel],
            "users": users,
            "drop_pct": drop_pct,
        },
        "banks": {
            "labels": [banks.get(b, b) for b in banks if bank_counts.get(b)],
            "values": [bank_counts[b] for b in banks if bank_counts.get(b)],
        },
        "decisions": {
            "dates": dates,
            "series": {d: [by_day[day].get(d, 0) for day in dates] for d in ("aprobado", "revisar", "rechazado")},
        },
        "pd_histogram": {
            "centers": [round((b["from"] + b["to"]) / 2, 4) for b in pd["histogram"]],
            "counts": [b["count"] for b in pd["histogram"]],
        },
        "expected_loss": {
            "labels": [banks.get(r["bank"], r["bank"] or "—") for r in loss["by_bank"]],
            "values": [r["expected_loss"] for r in loss["by_bank"]],
        },
        "segments": {
            "labels": [income_labels.get(r["segment"], r["segment"] or "—") for r in segments],
            "count": [r["assessments"] for r in segments],
            "approval_pct": [round((r["approval_rate"] or 0) * 100, 1) for r in segments],
        },
    }
