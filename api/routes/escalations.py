"""Advisors' queue (role advisor) through the case desk (dialogs/cases.py): list, take (one winner under
concurrency, on any surface), write to the applicant, notes, reassign, resolve with an outcome.

Every change goes through the same desk as the advisors' Telegram chat and the page `/asesores`, so each
reaches every surface: the Telegram card is edited, the applicant is told (on Telegram or in the web chat),
open pages update, and `EscalationResolved` is emitted once (by the desk). A losing claim gets 409 naming who
has the case.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api import metrics
from api.deps import AdvisorDep, CurrentUser, StorageDep
from api.errors import ApiError, problem_responses
from api.security import Role
from api.services.advisors import Advisors
from core.text import Text
from dialogs.cases import DeskAnswer, Staff
from storage.case_log import CaseLog

router = APIRouter(prefix="/v1/escalations", tags=["asesores"])

ESCALATION_ID = Path(description="Id de la escalación", ge=1, le=2**31 - 1)
Status = Literal["open", "claimed", "resolved"]


class NoteOut(BaseModel):
    id: int
    author_id: int | None
    body: str
    created_at: datetime


Outcome = Literal["contactado", "solicitud_enviada", "no_interesado", "sin_respuesta"]
DeliveryState = Literal["received", "pending", "sending", "delivered", "retrying", "failed"]


class EscalationOut(BaseModel):
    id: int
    status: Status
    reason: str
    assessment_id: str | None
    advisor_id: int | None
    created_at: datetime
    claimed_at: datetime | None
    first_answer_at: datetime | None = None
    resolved_at: datetime | None
    outcome: Outcome | None = None
    resolution: str | None
    notes: list[NoteOut]


class CaseMessageOut(BaseModel):
    """One message of the case's conversation; `state` says whether one to the applicant arrived."""

    id: int
    author: Literal["applicant", "advisor", "system"]
    author_id: int | None
    surface: str
    text: str = Field(description="Texto con el HTML de Telegram (<b>, <i>); lo del usuario va escapado")
    state: DeliveryState
    attempts: int
    created_at: datetime
    delivered_at: datetime | None


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
    messages: list[CaseMessageOut] = []


class NoteIn(BaseModel):
    body: Annotated[str, Text(4000, min_length=1, multiline=True)]


class MessageIn(BaseModel):
    text: Annotated[str, Text(2000, min_length=1, multiline=True)]


class ReassignIn(BaseModel):
    advisor_id: int = Field(ge=1, le=2**31 - 1, description="users.id del asesor que recibe el caso")


class ResolveIn(BaseModel):
    outcome: Outcome
    resolution: Annotated[str, Text(4000, min_length=1, multiline=True)] | None = Field(
        default=None, description="Nota de cierre"
    )


# a desk result -> the HTTP status of a refusal
_REFUSED = {"not_found": 404, "taken": 409, "resolved": 409, "not_claimed": 409, "not_holder": 409,
            "no_address": 409, "invalid": 422}  # fmt: skip


def staff(user: CurrentUser, storage: Any) -> Staff:
    row = storage.get_user(user.id)
    name = (row.display_name or row.username) if row is not None else user.username
    return Staff(user.id, name, admin=user.role == Role.admin)


def refused(answer: DeskAnswer) -> ApiError:
    """The desk's refusal as a problem (its text names who has the case)."""
    text = html.unescape((answer.toast or answer.reply or "No se pudo.").replace("<b>", "").replace("</b>", ""))
    return ApiError(_REFUSED.get(answer.result, 409), text)


async def advisors(request: Request) -> Advisors:
    return await request.app.state.advisors.get()


async def applied(desk: Advisors, answer: DeskAnswer, action: str) -> DeskAnswer:
    """A desk change that won reaches the other surfaces; one that lost is the problem it names."""
    if not answer.ok:
        raise refused(answer)
    await desk.deliver(answer)
    metrics.ESCALATION_ACTIONS.labels(action).inc()
    return answer


def _out(esc: Any) -> EscalationOut:
    return EscalationOut.model_validate(esc, from_attributes=True)


def _messages(storage: Any, case_id: int) -> list[CaseMessageOut]:
    return [CaseMessageOut.model_validate(e, from_attributes=True) for e in CaseLog(storage).entries(case_id)]


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
        messages=_messages(storage, esc.id),
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
async def claim_next(advisor: AdvisorDep, storage: StorageDep, request: Request) -> Any:
    desk = await advisors(request)
    case_id, answer = await desk.desk.take_next(await run_in_threadpool(staff, advisor, storage))
    if case_id is None:
        return Response(status_code=204)
    await desk.deliver(answer)
    metrics.ESCALATION_ACTIONS.labels("claim").inc()
    return await run_in_threadpool(_detail_of, storage, case_id)


def _detail_of(storage: Any, case_id: int) -> EscalationDetail:
    esc = storage.get_escalation(case_id)
    if esc is None:
        raise ApiError(404, "No existe esa escalación.")
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
async def claim(
    advisor: AdvisorDep, storage: StorageDep, request: Request, escalation_id: int = ESCALATION_ID
) -> EscalationDetail:
    desk = await advisors(request)
    answer = await desk.desk.take(escalation_id, await run_in_threadpool(staff, advisor, storage))
    await applied(desk, answer, "claim")
    return await run_in_threadpool(_detail_of, storage, escalation_id)


@router.post(
    "/{escalation_id}/messages",
    response_model=CaseMessageOut,
    status_code=201,
    summary="Escribir al solicitante (por el bot o el chat web, según dónde habló)",
    description="Quien tomó el caso. El mensaje se guarda antes de enviarse y se reintenta si el canal falla; "
    "`state` dice si llegó. Con `Idempotency-Key`, un reintento no lo duplica.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def write_to_applicant(
    advisor: AdvisorDep,
    storage: StorageDep,
    request: Request,
    body: MessageIn,
    escalation_id: int = ESCALATION_ID,
    idempotency_key: Annotated[Annotated[str, Text(128)] | None, Header()] = None,
) -> CaseMessageOut:
    desk = await advisors(request)
    key = f"api:{advisor.id}:{idempotency_key}" if idempotency_key else None
    answer = await desk.desk.answer(escalation_id, await run_in_threadpool(staff, advisor, storage), body.text, key=key)
    await applied(desk, answer, "message")
    assert answer.message_id is not None  # an answer that applied stored its message
    entries = await run_in_threadpool(_messages, storage, escalation_id)
    return next(e for e in entries if e.id == answer.message_id)


@router.post(
    "/{escalation_id}/notes",
    response_model=NoteOut,
    status_code=201,
    summary="Agregar una nota interna (no llega al solicitante)",
    responses=problem_responses(401, 403, 404, 422),
)
async def add_note(
    advisor: AdvisorDep, storage: StorageDep, request: Request, body: NoteIn, escalation_id: int = ESCALATION_ID
) -> NoteOut:
    desk = await advisors(request)
    answer = await desk.desk.note(escalation_id, await run_in_threadpool(staff, advisor, storage), body.body)
    await applied(desk, answer, "note")
    esc = await run_in_threadpool(storage.get_escalation, escalation_id)
    if esc is None:  # deleted (applicant erasure) between the note and this read
        raise ApiError(404, "No existe esa escalación.")
    return NoteOut.model_validate(esc.notes[-1], from_attributes=True)


@router.post(
    "/{escalation_id}/reassign",
    response_model=EscalationOut,
    summary="Pasar el caso a otro asesor (quien lo tiene, o un admin)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def reassign(
    advisor: AdvisorDep, storage: StorageDep, request: Request, body: ReassignIn, escalation_id: int = ESCALATION_ID
) -> EscalationOut:
    desk = await advisors(request)
    answer = await desk.desk.reassign(escalation_id, await run_in_threadpool(staff, advisor, storage), body.advisor_id)
    await applied(desk, answer, "reassign")
    return _out(await run_in_threadpool(storage.get_escalation, escalation_id))


@router.post(
    "/{escalation_id}/resolve",
    response_model=EscalationOut,
    summary="Resolver una escalación con su resultado (quien la tomó, o un admin)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def resolve(
    advisor: AdvisorDep, storage: StorageDep, request: Request, body: ResolveIn, escalation_id: int = ESCALATION_ID
) -> EscalationOut:
    desk = await advisors(request)
    who = await run_in_threadpool(staff, advisor, storage)
    answer = await desk.desk.resolve(escalation_id, who, body.outcome, note=body.resolution)
    await applied(desk, answer, "resolve")
    return _out(await run_in_threadpool(storage.get_escalation, escalation_id))
