"""SQLAlchemy 2 typed ORM of everything Asesor keeps (docs/storage.md has the schema and the privacy rules).

Identity and privacy, in one place:
- `user_key` everywhere is the *pseudonymous* key: a keyed HMAC-SHA256 of the Telegram user id
  (storage.privacy.pseudonymize). Analytics tables (events, assessments) never hold the raw Telegram id.
- The raw Telegram chat id lives only in `applicants.telegram_chat_id` (the bot must write back to it).
- Name and phone are Fernet-encrypted (`*_enc` columns, storage.privacy.Cipher); nothing else identifies.
- Erasure (/borrar_mis_datos) deletes the applicant row and its bank profile, and rewrites `user_key` in the
  analytics tables to an unlinkable random token (storage.repositories.Storage.erase_applicant).

The schema is created by Alembic migrations (storage/alembic), never by `create_all` in the application.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any, ClassVar, Literal, get_args

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from engine.policy import QUESTIONS
from storage.types import JSONType, NullableJSONType, UTCDateTime, utcnow

# Deterministic constraint names so Alembic migrations are stable on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

USER_KEY_LEN = 64  # hex HMAC-SHA256, or "erased-<uuid hex>" after erasure
ESCALATION_STATUSES = ("open", "claimed", "resolved")
# how an advisor closed a case (issue #14): the page's and the Telegram card's *Resolver* choices
CASE_OUTCOMES = ("contactado", "solicitud_enviada", "no_interesado", "sin_respuesta")
# a case message: `received` from the applicant; to the applicant pending → sending → delivered, or
# retrying (Telegram or Redis failed; tried again) → failed after the last try
CASE_MESSAGE_STATES = ("received", "pending", "sending", "delivered", "retrying", "failed")
CASE_MESSAGE_AUTHORS = ("applicant", "advisor", "system")
USER_ROLES = ("advisor", "analyst", "admin")
POLICY_RUN_KINDS = ("replay", "simulate")
POLICY_RUN_STATUSES = ("queued", "running", "done", "failed")
# SPEC §8's funnel events: the one list (storage.events validates emitted names against it)
EventName = Literal[
    "BotStarted",
    "ConsentGiven",
    "ProfileCompleted",
    "QuestionAnswered",
    "PerfilacionBancariaComplete",
    "ResultShown",
    "EscalationCreated",
    "EscalationResolved",
    "HandoffOpened",
    "FinancingRequestSubmitted",
]
EVENT_NAMES: tuple[str, ...] = get_args(EventName)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSONType}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# ------------------------------------------------------------------------------------------- applicants
class Applicant(TimestampMixin, Base):
    """A Telegram applicant. Deleted (not blanked) on an erasure request."""

    __tablename__ = "applicants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_key: Mapped[str] = mapped_column(String(USER_KEY_LEN), unique=True)
    # raw Telegram chat id: only so the bot (and an advisor through it) can write back
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    consent_given: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_at: Mapped[datetime | None]
    consent_version: Mapped[str | None] = mapped_column(String(32))  # version of the aviso de privacidad
    # Fernet tokens (storage.privacy.Cipher); never stored in clear
    name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    birth_year: Mapped[int | None] = mapped_column(Integer)
    monthly_income: Mapped[float | None] = mapped_column(Float)
    # the rest of the short profile (non-identifying): free-form, JSON-serialisable
    profile: Mapped[dict[str, Any]] = mapped_column(default=dict)
    profile_completed_at: Mapped[datetime | None]


class BankProfile(TimestampMixin, Base):
    """Seed 002 `bank_profiles`: the 8 answers and the banks the algorithm recommended (one row per user)."""

    __tablename__ = "bank_profiles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(USER_KEY_LEN), ForeignKey("applicants.user_key", ondelete="CASCADE"), unique=True
    )
    respuestas: Mapped[dict[str, Any]] = mapped_column(default=dict)
    banco_recomendado: Mapped[str | None] = mapped_column(String(32))
    banco_segunda_opcion: Mapped[str | None] = mapped_column(String(32))
    is_complete: Mapped[bool] = mapped_column(Boolean, default=False)


# ------------------------------------------------------------------------------------------ assessments
class Assessment(Base):
    """One `engine.assess` result, whole (JSON), plus the columns analytics group and filter on."""

    __tablename__ = "assessments"
    __table_args__ = (
        # covering on PostgreSQL (INCLUDE): the portfolio queries of a period read only this index
        Index(
            "ix_assessments_created_at",
            "created_at",
            postgresql_include=[
                "decision",
                "pd",
                "credit_score",
                "requested_amount",
                "recommended_bank",
                "income_band",
                "tenure",
                "payroll_bank",
                "expected_loss",
                "exposure",
                "down_payment",
            ],
        ),
        Index("ix_assessments_user_key", "user_key"),
        Index("ix_assessments_bank_created", "recommended_bank", "created_at"),
        # PSI counts (a model version's period): read from this index alone on PostgreSQL, not the wide rows
        Index(
            "ix_assessments_model_created",
            "model_version",
            "created_at",
            postgresql_include=["credit_score", "pd_features"],
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # uuid4
    user_key: Mapped[str | None] = mapped_column(String(USER_KEY_LEN))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    channel: Mapped[str] = mapped_column(String(16), default="bot")  # bot | api | batch
    policy_version: Mapped[str] = mapped_column(String(32))
    policy_hash: Mapped[str | None] = mapped_column(String(64))
    model_version: Mapped[str] = mapped_column(String(128))
    engine_version: Mapped[str | None] = mapped_column(String(32))
    decision: Mapped[str] = mapped_column(String(16))
    pd: Mapped[float] = mapped_column(Float)
    credit_score: Mapped[int] = mapped_column(Integer)
    risk: Mapped[float | None] = mapped_column(Float)
    rate: Mapped[float | None] = mapped_column(Float)
    recommended_bank: Mapped[str | None] = mapped_column(String(32))
    second_bank: Mapped[str | None] = mapped_column(String(32))
    low_score: Mapped[bool] = mapped_column(Boolean, default=False)
    band: Mapped[str | None] = mapped_column(String(32))
    requested_amount: Mapped[float | None] = mapped_column(Float)
    expected_loss: Mapped[float | None] = mapped_column(Float)  # PD × lgd × exposure, as assessed
    # the expected-loss inputs the assessment used (policy [products.<product>] at the time): history stays
    # true when the policy's LGD changes later (migration 0004 backfilled older rows)
    product: Mapped[str | None] = mapped_column(String(16))
    lgd: Mapped[float | None] = mapped_column(Float)
    exposure: Mapped[float | None] = mapped_column(Float)  # EAD, MXN
    escalate: Mapped[bool] = mapped_column(Boolean, default=False)
    # segment columns (answer codes, SPEC §2)
    income_band: Mapped[str | None] = mapped_column(String(32))
    tenure: Mapped[str | None] = mapped_column(String(32))
    payroll_bank: Mapped[str | None] = mapped_column(String(32))
    down_payment: Mapped[str | None] = mapped_column(String(32))  # the `enganche` answer
    # the PD model's inputs per feature group (PDResult.features): what monitoring bins against the training
    # population; a narrow column of its own, so the PSI query never reads the wide result JSON
    pd_features: Mapped[dict[str, Any] | None] = mapped_column(NullableJSONType)
    # request and result JSON; the applicant's name is redacted before storing (it lives encrypted only)
    request: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    result: Mapped[dict[str, Any]] = mapped_column(JSONType)


# --------------------------------------------------------------------------------------------- events
class Event(Base):
    """A funnel event (SPEC §8). Inserted idempotently on `id` by the outbox flusher (storage.events)."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_name_occurred", "name", "occurred_at"),
        Index("ix_events_occurred_at", "occurred_at"),
        Index("ix_events_user_name", "user_key", "name"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # event id (uuid) from the emitter
    user_key: Mapped[str] = mapped_column(String(USER_KEY_LEN))
    name: Mapped[str] = mapped_column(String(48))
    step: Mapped[str | None] = mapped_column(String(48))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    policy_version: Mapped[str | None] = mapped_column(String(32))
    model_version: Mapped[str | None] = mapped_column(String(128))


# Funnel steps in dialog order -> column of `funnel_progress`. The 8 question codes are stable (SPEC §2).
QUESTION_CODES = QUESTIONS
FUNNEL_COLUMNS: dict[tuple[str, str | None], str] = {
    ("BotStarted", None): "started_at",
    ("ConsentGiven", None): "consent_at",
    ("ProfileCompleted", None): "profile_at",
    **{("QuestionAnswered", q): f"q_{q}_at" for q in QUESTION_CODES},
    ("PerfilacionBancariaComplete", None): "complete_at",
    ("ResultShown", None): "result_at",
    ("HandoffOpened", None): "handoff_at",
    ("FinancingRequestSubmitted", None): "request_at",
    ("EscalationCreated", None): "escalated_at",
}


class FunnelProgress(Base):
    """One row per applicant: when they first reached each funnel step (and first/last seen).

    Maintained by storage.events.insert_events in the same transaction as the events, with MIN/MAX upserts,
    so re-delivered and late (out-of-order) events leave it exactly right. The funnel queries read this
    table (one row per dialog) instead of aggregating the raw events (about 14 per dialog).
    """

    __tablename__ = "funnel_progress"
    __table_args__ = (Index("ix_funnel_progress_first_seen", "first_seen_at"),)

    user_key: Mapped[str] = mapped_column(String(USER_KEY_LEN), primary_key=True)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    consent_at: Mapped[datetime | None]
    profile_at: Mapped[datetime | None]
    q_trabajo_tiempo_at: Mapped[datetime | None]
    q_banco_nomina_at: Mapped[datetime | None]
    q_historial_crediticio_at: Mapped[datetime | None]
    q_creditos_vigentes_at: Mapped[datetime | None]
    q_atrasos_12_meses_at: Mapped[datetime | None]
    q_enganche_at: Mapped[datetime | None]
    q_prioridad_financiamiento_at: Mapped[datetime | None]
    q_ingreso_mensual_at: Mapped[datetime | None]
    complete_at: Mapped[datetime | None]
    result_at: Mapped[datetime | None]
    handoff_at: Mapped[datetime | None]
    request_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]


# funnel steps that are timed from the step before them (the funnel order above, without the escalation)
TIMED_STEPS: tuple[tuple[str, str], ...] = tuple(
    itertools.pairwise([c for c in FUNNEL_COLUMNS.values() if c != "escalated_at"])
)


class FunnelStepSeconds(Base):
    """Seconds from an applicant's first time at the previous funnel step to their first time at `step` (a column
    of funnel_progress), one row per applicant and timed step; rewritten with the applicant's funnel_progress row
    by storage.step_seconds (same transaction), so it always equals that row. Time per step reads it through
    the per-day histogram below instead of sorting every applicant's gaps at query time."""

    __tablename__ = "funnel_step_seconds"
    __table_args__ = (
        # the value at a rank inside one histogram bucket: an ordered index scan of that bucket only
        # (no index on first_seen_at: the API's periods are whole UTC days, answered by the histogram alone)
        Index("ix_funnel_step_seconds_bucket", "step", "bucket", "seconds", postgresql_include=["first_seen_at"]),
    )

    user_key: Mapped[str] = mapped_column(String(USER_KEY_LEN), primary_key=True)
    step: Mapped[str] = mapped_column(String(48), primary_key=True)
    first_seen_at: Mapped[datetime]  # the applicant's cohort time (funnel_progress.first_seen_at)
    day: Mapped[int] = mapped_column(Integer)  # UTC days since 1970-01-01 of first_seen_at
    seconds: Mapped[float] = mapped_column(Float)
    bucket: Mapped[int] = mapped_column(Integer)


class FunnelStepHistogram(Base):
    """Applicants per (cohort day, timed step, seconds bucket): the counts of funnel_step_seconds, kept by the
    same flush. Rows may hold 0 after applicants move to another bucket."""

    __tablename__ = "funnel_step_histogram"

    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    step: Mapped[str] = mapped_column(String(48), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    applicants: Mapped[int] = mapped_column(Integer)


# ---------------------------------------------------------------------------------------------- users
class User(TimestampMixin, Base):
    """Advisors, analysts and admins of the API and the advisors' chat. Auth lives in api/."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN {USER_ROLES!r}", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # the advisor's own Telegram user id, to match a click in the advisors' chat to a user (not an applicant)
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    last_login_at: Mapped[datetime | None]
    # embedded in every access token (claim `ver`): logout and a password change bump it, which revokes every
    # token issued before (api/deps.py)
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


# ---------------------------------------------------------------------------------------- escalations
class Escalation(TimestampMixin, Base):
    """A case handed to a human advisor: open → claimed (by one advisor) → resolved."""

    __tablename__ = "escalations"
    __table_args__ = (
        CheckConstraint(f"status IN {ESCALATION_STATUSES!r}", name="status"),
        CheckConstraint(f"outcome IS NULL OR outcome IN {CASE_OUTCOMES!r}", name="outcome"),
        Index("ix_escalations_status_created", "status", "created_at"),
        Index("ix_escalations_user_key", "user_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_key: Mapped[str] = mapped_column(String(USER_KEY_LEN))
    assessment_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("assessments.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(64))  # low_score | revisar | applicant_request | …
    status: Mapped[str] = mapped_column(String(16), default="open")
    advisor_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id", ondelete="SET NULL"))
    claimed_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(24))  # CASE_OUTCOMES, set with `resolved`
    # the first advisor message to the applicant (the service-level target counts up to it)
    first_answer_at: Mapped[datetime | None]
    # message id of the card in the advisors' chat, so the bot can edit it when the status changes
    advisors_message_id: Mapped[int | None] = mapped_column(BigInteger)

    notes: Mapped[list[EscalationNote]] = relationship(
        back_populates="escalation", cascade="all, delete-orphan", order_by="EscalationNote.id", lazy="selectin"
    )


class EscalationNote(Base):
    __tablename__ = "escalation_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(Integer, ForeignKey("escalations.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    escalation: Mapped[Escalation] = relationship(back_populates="notes")


class CaseMessage(TimestampMixin, Base):
    """One message of a case's conversation with the applicant, both ways, and the outbox of those to the
    applicant: written before it is sent, its `state` says whether it arrived (storage/case_log.py).

    `payload_enc` is Fernet-encrypted JSON (the text, the applicant's address, a media reference): it holds
    what the applicant and the advisor wrote. Deleted with the applicant's data."""

    __tablename__ = "case_messages"
    __table_args__ = (
        CheckConstraint(f"state IN {CASE_MESSAGE_STATES!r}", name="state"),
        CheckConstraint(f"author IN {CASE_MESSAGE_AUTHORS!r}", name="author"),
        Index("ix_case_messages_escalation", "escalation_id", "id"),
        Index("ix_case_messages_state_next", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(Integer, ForeignKey("escalations.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id", ondelete="SET NULL"))
    surface: Mapped[str] = mapped_column(String(16))  # the applicant's: telegram | web
    payload_enc: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(64))  # the exception's type, never its text
    delivered_at: Mapped[datetime | None]
    # a form posted twice, an API retry, a Telegram update seen again: one message
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)


# ------------------------------------------------------------------------------------ financing requests
class FinancingRequest(TimestampMixin, Base):
    """A *Solicitar financiamiento* submission from the web handoff: one per assessment, however many links the
    bot sent for it (unique `assessment_id`), and one per idempotency key (a link's retries)."""

    __tablename__ = "financing_requests"
    __table_args__ = (
        Index("ix_financing_requests_user_key", "user_key"),
        Index("uq_financing_requests_assessment_id", "assessment_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    folio: Mapped[str] = mapped_column(String(24), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    user_key: Mapped[str] = mapped_column(String(USER_KEY_LEN))
    assessment_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("assessments.id", ondelete="SET NULL"))
    bank: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="received")
    vehicle_price: Mapped[float | None] = mapped_column(Float)
    term_months: Mapped[int | None] = mapped_column(Integer)
    # contact details typed into the form (JSON), Fernet-encrypted as a whole
    contact_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # non-identifying extra fields of the form
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


# ---------------------------------------------------------------------------------- historical outcomes
class EtlLoad(Base):
    """One run of `asesor etl load`: what was read, loaded and rejected (the stored quality report)."""

    __tablename__ = "etl_loads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_loaded: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    rows_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)


class LoanOutcome(Base):
    """A historical client with the observed default, normalised to common segment columns."""

    __tablename__ = "loan_outcomes"
    __table_args__ = (
        UniqueConstraint("source", "row_hash", name="uq_loan_outcomes_source_row_hash"),
        Index("ix_loan_outcomes_source", "source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    # sha256 of the canonical row (or of its external id when the source has one): the de-dup key
    row_hash: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(64))
    load_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("etl_loads.id", ondelete="SET NULL"))
    line: Mapped[int | None] = mapped_column(Integer)  # line in the loaded file (1 = header)
    defaulted: Mapped[bool] = mapped_column(Boolean)
    # normalised segment columns (None when the source lacks them)
    age: Mapped[int | None] = mapped_column(Integer)
    income: Mapped[float | None] = mapped_column(Float)  # in the source's currency
    amount: Mapped[float | None] = mapped_column(Float)  # in the source's currency
    term_months: Mapped[int | None] = mapped_column(Integer)
    employed: Mapped[bool | None] = mapped_column(Boolean)
    tenure_years: Mapped[float | None] = mapped_column(Float)
    income_band: Mapped[str | None] = mapped_column(String(32))
    tenure: Mapped[str | None] = mapped_column(String(32))
    payroll_bank: Mapped[str | None] = mapped_column(String(32))
    recommended_bank: Mapped[str | None] = mapped_column(String(32))
    currency: Mapped[str | None] = mapped_column(String(8))
    # the loan's origination (cohort month), the assessment it came from and the PD predicted for it; the
    # ETL fills the last two (and the segment columns) from the linked assessment when the file lacks them
    originated_at: Mapped[datetime | None]
    assessment_id: Mapped[str | None] = mapped_column(String(36))
    predicted_pd: Mapped[float | None] = mapped_column(Float)
    features: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the validated source row
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)


# ------------------------------------------------------------------------------------------ policy lab
class PolicyRun(Base):
    """A replay or simulation an analyst asked for through the API: the policy, the status, the results.

    Aggregates, assessment ids and pseudonymous keys only; never personal data."""

    __tablename__ = "policy_runs"
    __table_args__ = (
        CheckConstraint(f"kind IN {POLICY_RUN_KINDS!r}", name="kind"),
        CheckConstraint(f"status IN {POLICY_RUN_STATUSES!r}", name="status"),
        Index("ix_policy_runs_kind_status_finished", "kind", "status", "finished_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # uuid4
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    created_by: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)  # also the running job's heartbeat
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    policy_version: Mapped[str] = mapped_column(String(32))
    policy_hash: Mapped[str] = mapped_column(String(64))
    policy_toml: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # since / until
    progress: Mapped[dict[str, Any]] = mapped_column(default=dict)  # done / total
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # the dashboard's figures
    report: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    changes_csv: Mapped[str | None] = mapped_column(Text)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
