"""`Storage`: the one facade the bot, the API and the CLI use to read and write Asesor's data.

Every method runs in its own short transaction and returns plain data (dataclasses) or detached ORM rows
that stay readable after the session closes. The facade is synchronous; asyncio callers use
`storage.aio.AsyncStorage` (same methods, run in a worker thread) so the event loop never blocks.

    from storage.repositories import Storage
    st = Storage.from_settings()                      # DATABASE_URL or var/asesor.sqlite3; keys from env
    key = st.upsert_applicant(telegram_id=123, chat_id=123).user_key
    st.record_consent(key, version="2026-11")
    st.save_profile(key, name="Ana", phone="5512345678", birth_year=1990)
    st.save_bank_profile(key, respuestas={...}, banco_recomendado="bbva", banco_segunda_opcion=None,
                         is_complete=True)
    aid = st.save_assessment(result, user_key=key, request=req)
    esc, created = st.create_escalation(key, reason="revisar", assessment_id=aid)
    st.claim_escalation(esc.id, advisor_id=7)          # None when someone else claimed it first
    fr, created = st.create_financing_request("idem-key", key, assessment_id=aid, contact={...})
    st.erase_applicant(key)                            # /borrar_mis_datos

Errors: `NotFound`, `Conflict` (unique user name, …), `storage.privacy.MissingKeyError`.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, func, insert, inspect, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from core.config import DEV_PSEUDONYM_KEY
from storage.db import is_sqlite, make_engine, make_sessionmaker, session_scope, write_engine
from storage.models import (
    CASE_OUTCOMES,
    ESCALATION_STATUSES,
    USER_ROLES,
    Applicant,
    Assessment,
    BankProfile,
    CaseMessage,
    Escalation,
    EscalationNote,
    Event,
    FinancingRequest,
    FunnelProgress,
    FunnelStepSeconds,
    User,
)
from storage.privacy import Cipher, pseudonymize, pseudonymize_session
from storage.types import utcnow

ANSWER_SEGMENTS = {
    "income_band": "ingreso_mensual",
    "tenure": "trabajo_tiempo",
    "payroll_bank": "banco_nomina",
    "down_payment": "enganche",
}
OPEN_STATUSES = ("open", "claimed")
# Session.info key: the applicants a transaction found or created, by user key (Storage._applicant)
_APPLICANTS = "asesor_applicants"


class NotFound(LookupError):
    pass


class Conflict(ValueError):
    pass


@dataclass(frozen=True)
class ApplicantView:
    """An applicant with personal fields decrypted (only for the bot and advisors; never log it)."""

    id: int
    user_key: str
    telegram_chat_id: int | None
    consent_given: bool
    consent_at: datetime | None
    consent_version: str | None
    name: str | None
    phone: str | None
    birth_year: int | None
    monthly_income: float | None
    profile: dict[str, Any]
    profile_completed_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ErasureReport:
    user_key: str
    applicant_deleted: bool
    bank_profiles_deleted: int
    tombstone: str  # the unlinkable token that replaced the key in analytics rows
    rows_unlinked: dict[str, int] = field(default_factory=dict)


class Storage:
    """Facade over the database. Thread-safe (one engine, a session per call)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        engine: Engine | None = None,
        pseudonym_key: str | None = None,
        cipher: Cipher | None = None,
        fernet_keys: str | None = None,
        data_dir: Path | None = None,
        development: bool | None = None,
    ):
        from core.config import get_settings

        settings = get_settings()
        # ASESOR_ENV=development: only then may a SQLite file get a generated local Fernet key
        self._development = settings.is_development if development is None else development
        self.engine = engine or make_engine(url or settings.resolved_database_url)
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)
        # writes take SQLite's write lock at BEGIN (storage.db.write_engine); reads do not
        self._write_sessions: sessionmaker[Session] = make_sessionmaker(write_engine(self.engine))
        self._pseudonym_key = pseudonym_key or settings.pseudonym_key.get_secret_value()
        if self._pseudonym_key == DEV_PSEUDONYM_KEY and not is_sqlite(self.engine):
            import logging

            logging.getLogger(__name__).warning("ASESOR_PSEUDONYM_KEY is the development default")
        self._cipher = cipher
        self._fernet_keys = fernet_keys
        self._data_dir = data_dir or settings.data_dir
        self._local = threading.local()  # the transaction() a thread is in, if any

    @classmethod
    def from_settings(cls, settings: Any | None = None) -> Storage:
        """The storage that `settings` (a core.config.Settings; default the process's) describe: database,
        keys, data directory and environment."""
        if settings is None:
            return cls()
        return cls(
            settings.resolved_database_url,
            pseudonym_key=settings.pseudonym_key.get_secret_value(),
            fernet_keys=settings.fernet_keys(),
            data_dir=settings.data_dir,
            development=settings.is_development,
        )

    # ----------------------------------------------------------------------------------------- plumbing
    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def cipher(self) -> Cipher:
        # built lazily: a process that never touches personal data needs no key
        if self._cipher is None:
            from core.config import get_settings

            keys = self._fernet_keys if self._fernet_keys is not None else get_settings().fernet_keys()
            # a generated local key only for a development SQLite file (never a server database, never production)
            production = not is_sqlite(self.engine) or not self._development
            self._cipher = Cipher.for_environment(keys, production=production, data_dir=self._data_dir)
        return self._cipher

    def session(self) -> Any:
        """A read-write transaction scope (commit on success, rollback on error) for callers that need
        several statements at once. Inside `transaction()` it joins that transaction instead."""
        active = self._joined()
        if active is not None:
            return nullcontext(active)
        return session_scope(self._write_sessions)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Several writes as one transaction: the methods called inside (in this thread) join it, so they
        take SQLite's write lock and commit once instead of once each."""
        active = self._joined()
        if active is not None:
            yield active
            return
        with session_scope(self._write_sessions) as s:
            self._local.session = s
            try:
                yield s
            finally:
                self._local.session = None

    def _joined(self) -> Session | None:
        """The session of the `transaction()` this thread is in, if any."""
        return getattr(self._local, "session", None)

    def read(self) -> Any:
        """A read-only transaction scope (never takes SQLite's write lock)."""
        return session_scope(self.sessions)

    def user_key(self, telegram_id: int | str) -> str:
        return pseudonymize(telegram_id, self._pseudonym_key)

    def session_user_key(self, session_id: str, surface: str = "web") -> str:
        """The pseudonymous key of a web chat (or terminal) applicant, from their session id."""
        return pseudonymize_session(session_id, self._pseudonym_key, surface)

    def ping(self) -> None:
        """One round trip to the database (readiness); raises what the driver raises when it is down."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()

    # --------------------------------------------------------------------------------------- applicants
    def _view(self, a: Applicant) -> ApplicantView:
        return ApplicantView(
            id=a.id,
            user_key=a.user_key,
            telegram_chat_id=a.telegram_chat_id,
            consent_given=a.consent_given,
            consent_at=a.consent_at,
            consent_version=a.consent_version,
            name=self.cipher.decrypt(a.name_enc) if a.name_enc is not None else None,
            phone=self.cipher.decrypt(a.phone_enc) if a.phone_enc is not None else None,
            birth_year=a.birth_year,
            monthly_income=a.monthly_income,
            profile=dict(a.profile or {}),
            profile_completed_at=a.profile_completed_at,
            created_at=a.created_at,
            updated_at=a.updated_at,
        )

    def _applicant(self, s: Session, user_key: str) -> Applicant:
        # in a transaction that already found or created the row (ensure_applicant, on the consent and profile
        # turns), a SELECT would hand back the same object: one statement less while SQLite's write lock is held
        a = s.info.get(_APPLICANTS, {}).get(user_key)
        if a is None or not inspect(a).persistent:
            a = s.scalar(select(Applicant).where(Applicant.user_key == user_key))
        if a is None:
            raise NotFound(f"applicant {user_key[:8]}… not found")
        return a

    def upsert_applicant(self, telegram_id: int | str, chat_id: int | None = None) -> ApplicantView:
        """Find or create the applicant of a Telegram user; refreshes the chat id when given."""
        return self.ensure_applicant(self.user_key(telegram_id), chat_id)

    def ensure_applicant(self, key: str, chat_id: int | None = None) -> ApplicantView:
        """Find or create the applicant of a pseudonymous key (a Telegram user's, a web chat session's);
        refreshes the Telegram chat id when given."""
        for attempt in range(2):
            try:
                with self.session() as s:
                    a = s.scalar(select(Applicant).where(Applicant.user_key == key))
                    if a is None:
                        a = Applicant(user_key=key, telegram_chat_id=chat_id, profile={})
                        s.add(a)
                    elif chat_id is not None and a.telegram_chat_id != chat_id:
                        a.telegram_chat_id = chat_id
                    s.flush()
                    s.info.setdefault(_APPLICANTS, {})[key] = a  # held for _applicant (the map is weak)
                    return self._view(a)
            except IntegrityError:  # another process inserted it between our SELECT and INSERT
                if attempt or self._joined() is not None:
                    raise  # inside transaction(): the caller's transaction failed, it retries as a whole
        raise AssertionError("unreachable")

    def get_applicant(self, user_key: str) -> ApplicantView | None:
        with self.read() as s:
            a = s.scalar(select(Applicant).where(Applicant.user_key == user_key))
            return self._view(a) if a else None

    def get_applicant_by_telegram(self, telegram_id: int | str) -> ApplicantView | None:
        return self.get_applicant(self.user_key(telegram_id))

    def record_consent(
        self, user_key: str, *, given: bool = True, version: str | None = None, at: datetime | None = None
    ) -> ApplicantView:
        with self.session() as s:
            a = self._applicant(s, user_key)
            a.consent_given = given
            a.consent_at = (at or utcnow()) if given else None
            a.consent_version = version if given else None
            s.flush()
            return self._view(a)

    def save_profile(
        self,
        user_key: str,
        *,
        name: str | None = None,
        phone: str | None = None,
        birth_year: int | None = None,
        monthly_income: float | None = None,
        extra: dict[str, Any] | None = None,
        complete: bool = True,
    ) -> ApplicantView:
        """Store the short profile. Only the fields given are changed; name and phone are encrypted."""
        with self.session() as s:
            a = self._applicant(s, user_key)
            if name is not None:
                a.name_enc = self.cipher.encrypt(name)
            if phone is not None:
                a.phone_enc = self.cipher.encrypt(phone)
            if birth_year is not None:
                a.birth_year = birth_year
            if monthly_income is not None:
                a.monthly_income = monthly_income
            if extra:
                a.profile = {**(a.profile or {}), **extra}
            if complete and a.profile_completed_at is None:
                a.profile_completed_at = utcnow()
            s.flush()
            return self._view(a)

    def telegram_chat_id(self, user_key: str) -> int | None:
        """Where the bot writes back to this applicant (None if erased or never known)."""
        with self.read() as s:
            return s.scalar(select(Applicant.telegram_chat_id).where(Applicant.user_key == user_key))

    # ------------------------------------------------------------------------------------ bank profiles
    def save_bank_profile(
        self,
        user_key: str,
        *,
        respuestas: dict[str, Any],
        banco_recomendado: str | None,
        banco_segunda_opcion: str | None,
        is_complete: bool,
    ) -> BankProfile:
        """Seed 002 `bank_profiles`: one row per user, replaced when the answers are edited."""
        with self.session() as s:
            self._applicant(s, user_key)
            bp = s.scalar(select(BankProfile).where(BankProfile.user_id == user_key))
            if bp is None:
                bp = BankProfile(user_id=user_key)
                s.add(bp)
            bp.respuestas = dict(respuestas)
            bp.banco_recomendado = banco_recomendado
            bp.banco_segunda_opcion = banco_segunda_opcion
            bp.is_complete = is_complete
            s.flush()
            return bp

    def get_bank_profile(self, user_key: str) -> BankProfile | None:
        with self.read() as s:
            return s.scalar(select(BankProfile).where(BankProfile.user_id == user_key))

    # -------------------------------------------------------------------------------------- assessments
    @staticmethod
    def assessment_row(
        result: Any,
        *,
        user_key: str | None = None,
        request: Any = None,
        channel: str = "bot",
        assessment_id: str | None = None,
        created_at: datetime | None = None,
    ) -> dict[str, Any]:
        """The column values of one assessment (also used by bulk loaders and the benchmark)."""
        res = result.model_dump(mode="json") if hasattr(result, "model_dump") else copy.deepcopy(dict(result))
        req = request.model_dump(mode="json") if hasattr(request, "model_dump") else copy.deepcopy(request)
        # the name lives only encrypted in applicants: redact it from the stored JSON
        facts = res.get("ontology", {}).get("facts")
        if isinstance(facts, dict) and "name" in facts:
            facts["name"] = ""
        if isinstance(req, dict) and isinstance(req.get("applicant"), dict):
            req["applicant"].pop("name", None)
        answers: dict[str, Any] = dict((req or {}).get("answers") or {}) if isinstance(req, dict) else {}
        if not answers:  # recover the answers from the bank-fit reasons (every bank lists every question)
            for crits in (res.get("bank_fit", {}).get("reasons") or {}).values():
                answers = {c["question"]: c["answer"] for c in crits}
                break
        bf, ex, pd_ = res.get("bank_fit", {}), res.get("expert", {}), res.get("pd", {})
        loss = res.get("loss_inputs") or {}
        row: dict[str, Any] = {
            "id": assessment_id or str(uuid.uuid4()),
            "user_key": user_key,
            "channel": channel,
            "policy_version": res.get("policy_version", ""),
            "policy_hash": res.get("policy_hash"),
            "model_version": res.get("model_version") or pd_.get("model_version", ""),
            "engine_version": res.get("engine_version"),
            "decision": ex.get("decision", ""),
            "pd": float(pd_.get("probability", 0.0)),
            "credit_score": int(res.get("credit_score", 0)),
            "risk": (res.get("fuzzy") or {}).get("risk"),
            "rate": ex.get("rate"),
            "recommended_bank": bf.get("recommended"),
            "second_bank": bf.get("second"),
            "low_score": bool(bf.get("low_score", False)),
            "band": bf.get("band"),
            "requested_amount": (res.get("derived") or {}).get("requested_amount"),
            "expected_loss": res.get("expected_loss"),
            "product": loss.get("product"),
            "lgd": loss.get("lgd"),
            "exposure": loss.get("exposure"),
            "escalate": bool(res.get("escalate", False)),
            "pd_features": pd_.get("features") or None,
            "request": req,
            "result": res,
        }
        for col, question in ANSWER_SEGMENTS.items():
            row[col] = answers.get(question)
        if created_at is not None:
            row["created_at"] = created_at
        return row

    def save_assessment(
        self,
        result: Any,
        *,
        user_key: str | None = None,
        request: Any = None,
        channel: str = "bot",
        assessment_id: str | None = None,
    ) -> str:
        """Store an `engine.types.AssessmentResult` (or its dict); returns the assessment id."""
        row = self.assessment_row(
            result, user_key=user_key, request=request, channel=channel, assessment_id=assessment_id
        )
        with self.session() as s:
            s.add(Assessment(**row))
        return str(row["id"])

    def insert_assessment_row(self, row: dict[str, Any]) -> None:
        """Store a row built by `assessment_row` (a Core insert: the ORM unit of work costs more than the write)."""
        with self.engine.begin() as conn:
            conn.execute(insert(Assessment), row)

    async def ainsert_assessment_row(self, row: dict[str, Any]) -> None:
        """`insert_assessment_row` for the event loop: inline on SQLite, in a worker thread on a server.

        A local SQLite write is ~0.3 ms of CPU and no network wait, so a thread hop would cost more than it
        saves (measured: 1.9 vs 3.6 ms CPU per API request in-process); a server round trip lets the loop
        serve other requests meanwhile."""
        if is_sqlite(self.engine):
            self.insert_assessment_row(row)
        else:
            await asyncio.to_thread(self.insert_assessment_row, row)

    def get_assessment(self, assessment_id: str) -> Assessment | None:
        with self.read() as s:
            return s.get(Assessment, assessment_id)

    def latest_assessment(self, user_key: str) -> Assessment | None:
        with self.read() as s:
            return s.scalar(
                select(Assessment)
                .where(Assessment.user_key == user_key)
                .order_by(Assessment.created_at.desc())
                .limit(1)
            )

    # -------------------------------------------------------------------------------------- escalations
    def create_escalation(
        self, user_key: str, *, reason: str, assessment_id: str | None = None, dedupe: bool = True
    ) -> tuple[Escalation, bool]:
        """Open an escalation. With `dedupe`, an open/claimed one of the same user is returned instead."""
        with self.session() as s:
            if dedupe:
                existing = s.scalar(
                    select(Escalation)
                    .where(Escalation.user_key == user_key, Escalation.status.in_(OPEN_STATUSES))
                    .order_by(Escalation.id)
                    .limit(1)
                )
                if existing is not None:
                    return existing, False
            # usable detached without a refresh (two SELECTs more on the result turn): the timestamps are set
            # in Python at the flush and the notes are known to be none
            esc = Escalation(user_key=user_key, reason=reason, assessment_id=assessment_id, status="open", notes=[])
            s.add(esc)
            s.flush()
            return esc, True

    def get_escalation(self, escalation_id: int) -> Escalation | None:
        with self.read() as s:
            return s.scalar(
                select(Escalation).options(selectinload(Escalation.notes)).where(Escalation.id == escalation_id)
            )

    def list_escalations(
        self, *, status: str | None = None, advisor_id: int | None = None, limit: int = 50, offset: int = 0
    ) -> list[Escalation]:
        if status is not None and status not in ESCALATION_STATUSES:
            raise ValueError(f"status must be one of {ESCALATION_STATUSES}")
        q = select(Escalation).options(selectinload(Escalation.notes)).order_by(Escalation.id)
        if status:
            q = q.where(Escalation.status == status)
        if advisor_id is not None:
            q = q.where(Escalation.advisor_id == advisor_id)
        with self.read() as s:
            return list(s.scalars(q.limit(limit).offset(offset)))

    def claim_escalation(self, escalation_id: int, advisor_id: int) -> Escalation | None:
        """Claim one open escalation. Exactly one of several concurrent claimers wins; the others get None.

        One conditional `UPDATE … WHERE status = 'open'`: SQLite serialises writers; on PostgreSQL a second
        claimer's UPDATE waits for the first one's row lock and then finds the row no longer open. It waits
        (no SKIP LOCKED) so that when it returns None the winner is committed and the loser can be told who
        has the case.
        """
        now = utcnow()
        with self.session() as s:
            if s.get(Escalation, escalation_id) is None:
                raise NotFound(f"escalation {escalation_id} not found")
            res = s.execute(
                update(Escalation)
                .where(Escalation.id == escalation_id, Escalation.status == "open")
                .values(status="claimed", advisor_id=advisor_id, claimed_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if res.rowcount != 1:
                return None
        return self.get_escalation(escalation_id)

    def claim_next_escalation(self, advisor_id: int) -> Escalation | None:
        """Claim the oldest open escalation (a work queue for several advisors at once)."""
        if self.dialect == "postgresql":
            now = utcnow()
            with self.session() as s:
                esc_id = s.scalar(
                    select(Escalation.id)
                    .where(Escalation.status == "open")
                    .order_by(Escalation.created_at, Escalation.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
                if esc_id is None:
                    return None
                s.execute(
                    update(Escalation)
                    .where(Escalation.id == esc_id)
                    .values(status="claimed", advisor_id=advisor_id, claimed_at=now, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
            return self.get_escalation(esc_id)
        for _ in range(50):  # SQLite: try the oldest open ones until a conditional UPDATE wins
            with self.session() as s:
                ids = list(
                    s.scalars(
                        select(Escalation.id)
                        .where(Escalation.status == "open")
                        .order_by(Escalation.created_at, Escalation.id)
                        .limit(5)
                    )
                )
            if not ids:
                return None
            for esc_id in ids:
                got = self.claim_escalation(esc_id, advisor_id)
                if got is not None:
                    return got
        return None

    def add_escalation_note(self, escalation_id: int, body: str, author_id: int | None = None) -> EscalationNote:
        with self.session() as s:
            esc = s.get(Escalation, escalation_id)
            if esc is None:
                raise NotFound(f"escalation {escalation_id} not found")
            note = EscalationNote(escalation_id=escalation_id, author_id=author_id, body=body)
            s.add(note)
            esc.updated_at = utcnow()
            s.flush()
            return note

    def resolve_escalation(
        self,
        escalation_id: int,
        advisor_id: int | None,
        *,
        resolution: str | None = None,
        outcome: str | None = None,
        force: bool = False,
    ) -> Escalation | None:
        """Resolve an open or claimed escalation. Only its claimer may resolve it unless `force` (admin).
        Returns None when it is already resolved or claimed by someone else."""
        if outcome is not None and outcome not in CASE_OUTCOMES:
            raise ValueError(f"outcome must be one of {CASE_OUTCOMES}")
        now = utcnow()
        with self.session() as s:
            if s.get(Escalation, escalation_id) is None:
                raise NotFound(f"escalation {escalation_id} not found")
            cond = [Escalation.id == escalation_id, Escalation.status != "resolved"]
            if not force:
                cond.append((Escalation.advisor_id.is_(None)) | (Escalation.advisor_id == advisor_id))
            values: dict[str, Any] = {"status": "resolved", "resolved_at": now, "updated_at": now}
            if advisor_id is not None:
                values["advisor_id"] = advisor_id
            if resolution is not None:
                values["resolution"] = resolution
            if outcome is not None:
                values["outcome"] = outcome
            res = s.execute(
                update(Escalation).where(*cond).values(**values).execution_options(synchronize_session=False)
            )
            if res.rowcount != 1:
                return None
        return self.get_escalation(escalation_id)

    def reassign_escalation(
        self, escalation_id: int, from_advisor_id: int | None, to_advisor_id: int
    ) -> Escalation | None:
        """Hand a claimed case to another advisor: only its holder may (`from_advisor_id`), or anyone with
        `None` (an admin). One conditional UPDATE: a concurrent claim, hand-over or resolution wins or loses
        whole. None when the case is not claimed (any more) by `from_advisor_id`."""
        now = utcnow()
        with self.session() as s:
            if s.get(Escalation, escalation_id) is None:
                raise NotFound(f"escalation {escalation_id} not found")
            cond = [Escalation.id == escalation_id, Escalation.status == "claimed"]
            if from_advisor_id is not None:
                cond.append(Escalation.advisor_id == from_advisor_id)
            res = s.execute(
                update(Escalation)
                .where(*cond)
                .values(advisor_id=to_advisor_id, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if res.rowcount != 1:
                return None
        return self.get_escalation(escalation_id)

    def mark_first_answer(self, escalation_id: int, at: datetime | None = None) -> None:
        """The first advisor message to the applicant (later ones leave it as it is)."""
        with self.session() as s:
            s.execute(
                update(Escalation)
                .where(Escalation.id == escalation_id, Escalation.first_answer_at.is_(None))
                .values(first_answer_at=at or utcnow())
                .execution_options(synchronize_session=False)
            )

    def set_escalation_message(self, escalation_id: int, advisors_message_id: int) -> None:
        with self.session() as s:
            s.execute(
                update(Escalation).where(Escalation.id == escalation_id).values(advisors_message_id=advisors_message_id)
            )

    # -------------------------------------------------------------------------------- financing requests
    @staticmethod
    def _new_folio() -> str:
        # AS-YYMMDD-XXXXXX: readable over the phone (no 0/O/1/I), ~1e9 per day
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
        return f"AS-{utcnow():%y%m%d}-" + "".join(secrets.choice(alphabet) for _ in range(6))

    def create_financing_request(
        self,
        idempotency_key: str,
        user_key: str,
        *,
        assessment_id: str | None = None,
        bank: str | None = None,
        vehicle_price: float | None = None,
        term_months: int | None = None,
        contact: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
    ) -> tuple[FinancingRequest, bool]:
        """Create once per idempotency key and once per assessment: a retry (double click, network retry) or a
        second link for the same assessment returns the first request and `created=False`, even when two
        submissions race (the unique indexes decide; the loser reads the winner)."""
        for _ in range(5):
            found = self.find_financing_request(idempotency_key=idempotency_key, assessment_id=assessment_id)
            if found is not None:
                return found, False
            try:
                with self.session() as s:
                    fr = FinancingRequest(
                        folio=self._new_folio(),
                        idempotency_key=idempotency_key,
                        user_key=user_key,
                        assessment_id=assessment_id,
                        bank=bank,
                        vehicle_price=vehicle_price,
                        term_months=term_months,
                        contact_enc=self.cipher.encrypt_json(contact) if contact else None,
                        details=dict(details or {}),
                    )
                    s.add(fr)
                    s.flush()
                    return fr, True
            except IntegrityError:
                continue  # a concurrent twin won (same key or assessment) or a folio collided: look again
        raise Conflict("could not create the financing request")

    def find_financing_request(
        self, *, idempotency_key: str | None = None, assessment_id: str | None = None
    ) -> FinancingRequest | None:
        """The request of this assessment (whichever link sent it), else the one stored under this key."""
        with self.read() as s:
            if assessment_id is not None:
                found = s.scalar(select(FinancingRequest).where(FinancingRequest.assessment_id == assessment_id))
                if found is not None:
                    return found
            if idempotency_key is not None:
                return s.scalar(select(FinancingRequest).where(FinancingRequest.idempotency_key == idempotency_key))
            return None

    def get_financing_request(self, folio: str) -> FinancingRequest | None:
        with self.read() as s:
            return s.scalar(select(FinancingRequest).where(FinancingRequest.folio == folio))

    def financing_contact(self, fr: FinancingRequest) -> dict[str, Any] | None:
        return self.cipher.decrypt_json(fr.contact_enc) if fr.contact_enc is not None else None

    # ------------------------------------------------------------------------------------------ erasure
    def erase_applicant(self, user_key: str) -> ErasureReport:
        """/borrar_mis_datos: delete everything that identifies the person, keep unlinkable aggregates.

        Deleted: the applicant row (encrypted name/phone, chat id, consent, profile), the bank profile,
        advisors' notes, the messages of their cases and the encrypted contact of financing requests. In
        events, assessments, escalations and financing requests the pseudonymous key is replaced by a fresh
        random tombstone,
        so counts stay right but nothing links those rows to the person any more (the HMAC key cannot
        recompute a tombstone). Flush the event outbox first so no queued event re-links later
        (`EventSink.flush()`); events arriving afterwards carry a key with no applicant behind it.
        """
        tomb = "erased-" + uuid.uuid4().hex
        counts: dict[str, int] = {}
        with self.session() as s:
            bp = s.execute(delete(BankProfile).where(BankProfile.user_id == user_key)).rowcount
            esc_ids = list(s.scalars(select(Escalation.id).where(Escalation.user_key == user_key)))
            if esc_ids:
                counts["escalation_notes_deleted"] = s.execute(
                    delete(EscalationNote).where(EscalationNote.escalation_id.in_(esc_ids))
                ).rowcount
                counts["case_messages_deleted"] = s.execute(
                    delete(CaseMessage).where(CaseMessage.escalation_id.in_(esc_ids))
                ).rowcount
            now = utcnow()
            counts["escalations"] = s.execute(
                update(Escalation)
                .where(Escalation.user_key == user_key)
                .values(user_key=tomb, resolution=None, updated_at=now)
            ).rowcount
            s.execute(
                update(Escalation)
                .where(Escalation.user_key == tomb, Escalation.status != "resolved")
                .values(status="resolved", resolved_at=now, resolution="erased at the applicant's request")
            )
            counts["financing_requests"] = s.execute(
                update(FinancingRequest)
                .where(FinancingRequest.user_key == user_key)
                .values(user_key=tomb, contact_enc=None, updated_at=now)
            ).rowcount
            counts["assessments"] = s.execute(
                update(Assessment).where(Assessment.user_key == user_key).values(user_key=tomb)
            ).rowcount
            counts["events"] = s.execute(update(Event).where(Event.user_key == user_key).values(user_key=tomb)).rowcount
            s.execute(update(FunnelProgress).where(FunnelProgress.user_key == user_key).values(user_key=tomb))
            s.execute(update(FunnelStepSeconds).where(FunnelStepSeconds.user_key == user_key).values(user_key=tomb))
            deleted = s.execute(delete(Applicant).where(Applicant.user_key == user_key)).rowcount
        return ErasureReport(
            user_key=user_key,
            applicant_deleted=bool(deleted),
            bank_profiles_deleted=bp,
            tombstone=tomb,
            rows_unlinked=counts,
        )

    # -------------------------------------------------------------------------------------------- users
    def create_user(
        self,
        username: str,
        *,
        password_hash: str,
        role: str,
        email: str | None = None,
        display_name: str | None = None,
        telegram_user_id: int | None = None,
        is_active: bool = True,
    ) -> User:
        """`password_hash` is already hashed by the caller (api/ uses pwdlib/argon2)."""
        if role not in USER_ROLES:
            raise ValueError(f"role must be one of {USER_ROLES}")
        try:
            with self.session() as s:
                u = User(
                    username=username,
                    password_hash=password_hash,
                    role=role,
                    email=email,
                    display_name=display_name,
                    telegram_user_id=telegram_user_id,
                    is_active=is_active,
                )
                s.add(u)
                s.flush()
                return u
        except IntegrityError:
            raise Conflict(f"user {username!r} (or its e-mail / Telegram id) already exists") from None

    def get_user(self, user_id: int) -> User | None:
        with self.read() as s:
            return s.get(User, user_id)

    def get_user_by_username(self, username: str) -> User | None:
        with self.read() as s:
            return s.scalar(select(User).where(User.username == username))

    def get_user_by_telegram(self, telegram_user_id: int) -> User | None:
        with self.read() as s:
            return s.scalar(select(User).where(User.telegram_user_id == telegram_user_id))

    def list_users(self, *, role: str | None = None, active_only: bool = False) -> list[User]:
        q = select(User).order_by(User.id)
        if role:
            q = q.where(User.role == role)
        if active_only:
            q = q.where(User.is_active.is_(True))
        with self.read() as s:
            return list(s.scalars(q))

    _USER_FIELDS = frozenset(
        {"password_hash", "role", "email", "display_name", "telegram_user_id", "is_active", "last_login_at"}
    )

    def update_user(self, user_id: int, **fields: Any) -> User:
        unknown = set(fields) - self._USER_FIELDS
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        if "role" in fields and fields["role"] not in USER_ROLES:
            raise ValueError(f"role must be one of {USER_ROLES}")
        try:
            with self.session() as s:
                u = s.get(User, user_id)
                if u is None:
                    raise NotFound(f"user {user_id} not found")
                for k, v in fields.items():
                    setattr(u, k, v)
                s.flush()
                return u
        except IntegrityError:
            raise Conflict("e-mail or Telegram id already used by another user") from None

    def revoke_tokens(self, user_id: int, *, password_hash: str | None = None) -> int:
        """Bump the user's token version (one UPDATE, so two workers never lose a bump), optionally with a new
        password hash; every token issued before is refused from now on. Returns the new version."""
        values: dict[str, Any] = {"token_version": User.token_version + 1, "updated_at": utcnow()}
        if password_hash is not None:
            values["password_hash"] = password_hash
        with self.session() as s:
            version = s.scalar(update(User).where(User.id == user_id).values(**values).returning(User.token_version))
            if version is None:
                raise NotFound(f"user {user_id} not found")
            return int(version)

    def delete_user(self, user_id: int) -> bool:
        with self.session() as s:
            return bool(s.execute(delete(User).where(User.id == user_id)).rowcount)

    def count_users(self) -> int:
        with self.read() as s:
            return int(s.scalar(select(func.count()).select_from(User)) or 0)
