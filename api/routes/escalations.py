"""Advisors' queue (role advisor): list escalations, claim (one winner under concurrency), notes, resolve.

Claims go through storage (`FOR UPDATE SKIP LOCKED` on PostgreSQL, a conditional UPDATE on SQLite), so two
advisors pressing "tomar" at once never both get the case; the loser gets 409 (or the next case).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from api import metrics
from api.deps import AdvisorDep, EventsDep, StorageDep
from api.errors import ApiError, problem_responses
from api.services import funnel
from core.text import Text
from storage.repositories import NotFound

router = APIRouter(prefix="/v1/escalations", tags=["asesores"])

ESCALATION_ID = Path(description="Id de la escalación", ge=1, le=2**31 - 1)
Status = Literal["open", "claimed", "resolved"]


class NoteOut(BaseModel):
    id: int
    author_id: int | None
    body: str
    created_at: datetime


class EscalationOut(BaseModel):
    id: int
    status: Status
    reason: str
    assessment_id: str | None
    advisor_id: int | None
    created_at: datetime
    claimed_at: datetime | None
    resolved_at: datetime | None
    resolution: str | None
    notes: list[NoteOut]


class ApplicantOut(BaseModel):
    """Personal data: advisors (and admins) only."""

    name: str | None
    phone: str | None
    birth_year: int | None
    monthly_income: float | None


class AssessmentSummary(BaseModel):
    id: str
    created_at: datetime
    decision: str
    rate: float | None
    fired_rules: list[str]
    credit_score: int
    pd: float
    risk: float | None
    recommended_bank: str | None
    second_bank: str | None
    low_score: bool
    band: str | None
    escalation_reasons: list[str]
    bank_rejections: dict[str, list[str]]
    bank_reasons: dict[str, Any] = Field(description="Puntos o rechazo por pregunta y banco (semilla 002)")
    pd_top_features: list[dict[str, Any]]
    answers: dict[str, Any]
    loan: dict[str, Any]


class EscalationDetail(EscalationOut):
    applicant: ApplicantOut | None
    assessment: AssessmentSummary | None


class NoteIn(BaseModel):
    body: Text(4000, min_length=1, multiline=True)


class ResolveIn(BaseModel):
    resolution: Text(4000, min_length=1, multiline=True)


def _out(esc: Any) -> EscalationOut:
    return EscalationOut.model_validate(esc, from_attributes=True)


def _detail(storage: Any, esc: Any) -> EscalationDetail:
    applicant = storage.get_applicant(esc.user_key)
    summary = None
    if esc.assessment_id and (row := storage.get_assessment(esc.assessment_id)) is not None:
        res: dict[str, Any] = row.result or {}
        req: dict[str, Any] = row.request or {}
        bf, ex, pd = res.get("bank_fit", {}), res.get("expert", {}), res.get("pd", {})
        summary = AssessmentSummary(
            id=row.id,
            created_at=row.created_at,
            decision=row.decision,
            rate=row.rate,
            fired_rules=list(ex.get("fired_rules", [])),
            credit_score=row.credit_score,
            pd=row.pd,
            risk=row.risk,
            recommended_bank=row.recommended_bank,
            second_bank=row.second_bank,
            low_score=row.low_score,
            band=row.band,
            escalation_reasons=list(res.get("escalation_reasons", [])),
            bank_rejections=dict(bf.get("rejections", {})),
            bank_reasons=dict(bf.get("reasons", {})),
            pd_top_features=list(pd.get("top_features", [])),
            answers=dict(req.get("answers") or {}),
            loan=dict(req.get("loan") or {}),
        )
    return EscalationDetail(
        **_out(esc).model_dump(),
        applicant=ApplicantOut(
            name=applicant.name,
            phone=applicant.phone,
            birth_year=applicant.birth_year,
            monthly_income=applicant.monthly_income,
        )
        if applicant
        else None,
        assessment=summary,
    )


@router.get(
    "",
    response_model=list[EscalationOut],
    summary="Escalaciones por estado",
    responses=problem_responses(401, 403, 422),
)
def list_escalations(
    _advisor: AdvisorDep,
    storage: StorageDep,
    status: Status | None = Query(default=None, description="open, claimed o resolved"),
    mine: bool = Query(default=False, description="Sólo las tomadas por mí"),
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000),
) -> list[EscalationOut]:
    advisor_id = _advisor.id if mine else None
    return [_out(e) for e in storage.list_escalations(status=status, advisor_id=advisor_id, limit=limit, offset=offset)]


@router.post(
    "/claim-next",
    response_model=EscalationDetail,
    summary="Tomar la escalación abierta más antigua",
    responses={204: {"description": "No hay escalaciones abiertas"}, **problem_responses(401, 403)},
)
def claim_next(advisor: AdvisorDep, storage: StorageDep) -> Any:
    esc = storage.claim_next_escalation(advisor.id)
    if esc is None:
        return Response(status_code=204)
    metrics.ESCALATION_ACTIONS.labels("claim").inc()
    return _detail(storage, esc)


@router.get(
    "/{escalation_id}",
    response_model=EscalationDetail,
    summary="Una escalación con el solicitante y su evaluación (reglas y razones)",
    responses=problem_responses(401, 403, 404, 422),
)
def get_escalation(_advisor: AdvisorDep, storage: StorageDep, escalation_id: int = ESCALATION_ID) -> EscalationDetail:
    esc = storage.get_escalation(escalation_id)
    if esc is None:
        raise ApiError(404, "No existe esa escalación.")
    return _detail(storage, esc)


@router.post(
    "/{escalation_id}/claim",
    response_model=EscalationDetail,
    summary="Tomar una escalación concreta",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def claim(advisor: AdvisorDep, storage: StorageDep, escalation_id: int = ESCALATION_ID) -> EscalationDetail:
    try:
        esc = storage.claim_escalation(escalation_id, advisor.id)
    except NotFound:
        raise ApiError(404, "No existe esa escalación.") from None
    if esc is None:
        raise ApiError(409, "Otra persona ya tomó esta escalación o ya está resuelta.")
    metrics.ESCALATION_ACTIONS.labels("claim").inc()
    return _detail(storage, esc)


@router.post(
    "/{escalation_id}/notes",
    response_model=NoteOut,
    status_code=201,
    summary="Agregar una nota",
    responses=problem_responses(401, 403, 404, 422),
)
def add_note(advisor: AdvisorDep, storage: StorageDep, body: NoteIn, escalation_id: int = ESCALATION_ID) -> NoteOut:
    try:
        note = storage.add_escalation_note(escalation_id, body.body, author_id=advisor.id)
    except NotFound:
        raise ApiError(404, "No existe esa escalación.") from None
    metrics.ESCALATION_ACTIONS.labels("note").inc()
    return NoteOut.model_validate(note, from_attributes=True)


@router.post(
    "/{escalation_id}/resolve",
    response_model=EscalationOut,
    summary="Resolver una escalación (quien la tomó, o un admin)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def resolve(
    advisor: AdvisorDep, storage: StorageDep, events: EventsDep, body: ResolveIn, escalation_id: int = ESCALATION_ID
) -> EscalationOut:
    try:
        esc = storage.resolve_escalation(
            escalation_id, advisor.id, resolution=body.resolution, force=advisor.role == "admin"
        )
    except NotFound:
        raise ApiError(404, "No existe esa escalación.") from None
    if esc is None:
        raise ApiError(409, "La escalación ya está resuelta o la tomó otra persona.")
    metrics.ESCALATION_ACTIONS.labels("resolve").inc()
    funnel.emit(
        events,
        "EscalationResolved",
        esc.user_key,
        event_id=funnel.event_id("EscalationResolved", esc.id),
        properties={"escalation_id": esc.id, "reason": esc.reason},
    )
    return _out(esc)
