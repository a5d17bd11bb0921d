"""What the advisors' page (`/asesores`) shows: the queue with its filters and service level, and one case
(the applicant, the assessment explained, the what-if, the conversation with its delivery states, the notes).

Read straight from storage (the truth the desk changes); the explanation is dialogs/case_view.py's, the same
reading of the result as the Telegram card's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from markupsafe import Markup

from api.services.chat import to_html
from dialogs import texts
from dialogs.card import Engine, evaluate, what_if_line
from dialogs.case_view import CaseExplanation, as_result, explain
from dialogs.cases import STORED_REASON
from engine.policy import QUESTIONS, Policy
from engine.types import AssessmentRequest
from storage import case_queue
from storage.case_log import CaseEntry, CaseLog
from storage.repositories import Storage

# the queue's filters: query value -> label
VIEWS = dict(zip(case_queue.VIEWS, ("Abiertos", "Míos", "De otros", "Resueltos"), strict=True))
STATUS_LABELS = {"open": "abierto", "claimed": "tomado", "resolved": "resuelto"}
STATE_LABELS = {
    "pending": "pendiente",
    "sending": "pendiente",
    "delivered": "entregado",
    "retrying": "reintentando",
    "failed": "fallido",
    "received": "recibido",
}
AUTHOR_LABELS = {"applicant": "Cliente", "advisor": "Asesor", "system": "Aviso automático"}
SURFACE_LABELS = {"telegram": "Telegram", "web": "chat web", "terminal": "terminal"}
QUEUE_LIMIT = 100
_STORED_TO_REASON = {v: k for k, v in STORED_REASON.items()}
# stored messages are Telegram HTML (<b>, <i>; what people typed is escaped): the web chat's reading of it
telegram_html = to_html


def reason_label(reason: str) -> str:
    codes = [c for c in reason.split(",") if c]
    return ", ".join(texts.CASE_REASONS.get(_STORED_TO_REASON.get(c, c), c) for c in codes) or reason


def span(minutes: float) -> str:
    """«7 min», «2 h 05 min», «3 d 4 h»."""
    m = int(minutes)
    if m < 60:
        return f"{m} min"
    if m < 24 * 60:
        return f"{m // 60} h {m % 60:02d} min"
    return f"{m // (24 * 60)} d {m % (24 * 60) // 60} h"


@dataclass(frozen=True)
class ServiceLevel:
    state: str  # ok | pronto | vencido | cumplido | tarde | sin_respuesta
    label: str

    @property
    def late(self) -> bool:
        return self.state in ("vencido", "tarde")


def service_level(esc: Any, target_minutes: int, now: datetime) -> ServiceLevel:
    """The first answer against the policy's target ([escalation] first_answer_minutes)."""
    target = f"objetivo {target_minutes} min"
    if esc.first_answer_at is not None:
        took = (esc.first_answer_at - esc.created_at).total_seconds() / 60
        state = "cumplido" if took <= target_minutes else "tarde"
        return ServiceLevel(state, f"respondido en {span(took)} ({target})")
    if esc.status == "resolved":
        return ServiceLevel("sin_respuesta", "cerrado sin mensaje al cliente")
    waited = max(0.0, (now - esc.created_at).total_seconds() / 60)
    state = "vencido" if waited > target_minutes else "pronto" if waited >= 0.8 * target_minutes else "ok"
    return ServiceLevel(state, f"{span(waited)} sin respuesta ({target})")


@dataclass(frozen=True)
class QueueRow:
    id: int
    reasons: str
    status: str
    status_label: str
    holder: str | None
    mine: bool
    opened: str  # «hace 12 min»
    created_at: datetime
    sla: ServiceLevel
    outcome: str | None


def queue(storage: Storage, policy: Policy, view: str, me: int, now: datetime | None = None) -> list[QueueRow]:
    now = now or datetime.now(UTC)
    rows = case_queue.queue_rows(storage, view, me, QUEUE_LIMIT)
    target = policy.escalation.first_answer_minutes
    out = []
    for esc, display, username in rows:
        out.append(
            QueueRow(
                id=esc.id,
                reasons=reason_label(esc.reason),
                status=esc.status,
                status_label=STATUS_LABELS.get(esc.status, esc.status),
                holder=display or username,
                mine=esc.advisor_id == me,
                opened=f"hace {span((now - esc.created_at).total_seconds() / 60)}",
                created_at=esc.created_at,
                sla=service_level(esc, target, now),
                outcome=texts.OUTCOME_LABELS.get(esc.outcome or ""),
            )
        )
    return out


def counts(storage: Storage, me: int) -> dict[str, int]:
    return case_queue.view_counts(storage, me)


@dataclass(frozen=True)
class MessageView:
    id: int
    author: str
    author_label: str
    html: Markup
    state: str
    state_label: str
    attempts: int
    at: datetime


@dataclass
class CaseView:
    id: int
    status: str
    status_label: str
    reasons: str
    holder: str | None
    holder_id: int | None
    mine: bool
    outcome: str | None
    resolution: str | None
    created_at: datetime
    sla: ServiceLevel
    surface: str
    name: str | None = None
    age: int | None = None
    phone: str | None = None
    income: float | None = None
    answers: list[tuple[str, str]] = field(default_factory=list)
    vehicle_price: float | None = None
    term_months: int | None = None
    requested_amount: float | None = None
    explanation: CaseExplanation | None = None
    what_if: Markup | None = None
    messages: list[MessageView] = field(default_factory=list)
    notes: list[tuple[str, str, datetime]] = field(default_factory=list)
    advisors: list[tuple[int, str]] = field(default_factory=list)  # whom it can be handed to

    @property
    def live_key(self) -> str:
        """What the actions depend on: when it changes, the page redraws them."""
        return f"{self.status}:{self.holder_id}"


def _message(e: CaseEntry) -> MessageView:
    label = AUTHOR_LABELS.get(e.author, e.author)
    if e.author == "advisor" and e.author_name:
        label = f"{label} · {e.author_name}"
    return MessageView(e.id, e.author, label, telegram_html(e.text), e.state, STATE_LABELS.get(e.state, e.state),
                       e.attempts, e.created_at)  # fmt: skip


def live_parts(storage: Storage, case_id: int) -> tuple[list[MessageView], list[tuple[str, str, datetime]]]:
    """The parts of a case that change while the page is open: the conversation and the notes."""
    messages = [_message(e) for e in CaseLog(storage).entries(case_id)]
    esc = storage.get_escalation(case_id)
    authors: dict[int, str] = {}
    notes = []
    for n in esc.notes if esc is not None else []:
        if n.author_id is not None and n.author_id not in authors:
            user = storage.get_user(n.author_id)
            authors[n.author_id] = (user.display_name or user.username) if user else "—"
        notes.append((authors.get(n.author_id or 0, "—"), n.body, n.created_at))
    return messages, notes


def case_view(
    storage: Storage, policy: Policy, case_id: int, me: int, *, engine: Engine | None = None, today: date | None = None
) -> CaseView | None:
    """One case; `engine` re-runs the what-if, None leaves it out (the live refreshes)."""
    esc = storage.get_escalation(case_id)
    if esc is None:
        return None
    now = datetime.now(UTC)
    holder = storage.get_user(esc.advisor_id) if esc.advisor_id is not None else None
    entries = CaseLog(storage).entries(case_id)
    applicant = storage.get_applicant(esc.user_key)
    surface = entries[0].surface if entries else "telegram" if applicant and applicant.telegram_chat_id else "web"
    view = CaseView(
        id=esc.id,
        status=esc.status,
        status_label=STATUS_LABELS.get(esc.status, esc.status),
        reasons=reason_label(esc.reason),
        holder=(holder.display_name or holder.username) if holder else None,
        holder_id=esc.advisor_id,
        mine=esc.advisor_id == me,
        outcome=texts.OUTCOME_LABELS.get(esc.outcome or ""),
        resolution=esc.resolution,
        created_at=esc.created_at,
        sla=service_level(esc, policy.escalation.first_answer_minutes, now),
        surface=SURFACE_LABELS.get(surface, surface),
    )
    if applicant is not None:
        view.name, view.phone, view.income = applicant.name, applicant.phone, applicant.monthly_income
        if applicant.birth_year:
            view.age = (today or date.today()).year - applicant.birth_year
    row = storage.get_assessment(esc.assessment_id) if esc.assessment_id else storage.latest_assessment(esc.user_key)
    if row is not None:
        request = row.request or {}
        answers = request.get("answers") or {}
        view.answers = [
            (texts.FIELD_NAMES.get(q, q), policy.answers.get(q, {}).get(answers[q], answers[q]))
            for q in QUESTIONS
            if q in answers
        ]
        loan = request.get("loan") or {}
        view.vehicle_price, view.term_months = loan.get("vehicle_price"), loan.get("term_months")
        view.requested_amount = row.requested_amount
        view.income = view.income or (request.get("applicant") or {}).get("monthly_income")
        result = as_result(row.result)
        if result is not None:
            view.explanation = explain(result, policy)
        if engine is not None and request:
            try:
                evaluation = evaluate(engine, AssessmentRequest.model_validate(request), policy)
            except ValueError:  # a stored request the current policy no longer accepts
                evaluation = None
            line = what_if_line(evaluation, policy) if evaluation is not None else None
            view.what_if = telegram_html(line) if line else None
    view.messages, view.notes = live_parts(storage, case_id)
    view.advisors = [
        (u.id, u.display_name or u.username)
        for u in storage.list_users(active_only=True)
        if u.role in ("advisor", "admin") and u.id != esc.advisor_id
    ]
    return view
