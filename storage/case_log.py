"""A case's conversation with the applicant, stored (`case_messages`), and the outbox of what is sent to them.

Every message of a case is a row: what the applicant wrote (`received`) and what they are sent (an advisor's
answer, "un asesor tomó tu caso", "tu asesor cerró la conversación"). A message to the applicant is written
*before* it is sent, as `pending`; a sender takes it with one conditional UPDATE (`pending`/`retrying` →
`sending`, with a lease), so of two senders (the immediate delivery and the retry sweep, or two bot processes)
exactly one sends it; then it is `delivered`, or `retrying` with a back-off (Telegram or Redis failed), and
`failed` after the last try. A sender that died while `sending` leaves a lease that runs out: the message is
taken again (the one case where the applicant could get it twice: the send went out, the process died before
writing `delivered`).

The payload (the text, the applicant's address, a media reference to copy) is Fernet-encrypted JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from dialogs.ports import QueuedMessage
from storage.models import CaseMessage, User
from storage.repositories import Storage
from storage.types import utcnow

LEASE_SECONDS = 30  # a sender holds a message this long; past it, the message counts as not sent
MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (2.0, 5.0, 15.0, 30.0, 60.0)  # after the 1st, 2nd, … failed try
PENDING_GRACE_SECONDS = 10.0  # a new message is the immediate sender's first; the sweep takes it after this


@dataclass(frozen=True, slots=True)
class CaseEntry:
    """One message of a case, readable (for the advisors' page and the API)."""

    id: int
    case_id: int
    author: str  # applicant | advisor | system
    author_id: int | None
    author_name: str | None
    surface: str
    text: str
    state: str
    attempts: int
    created_at: datetime
    delivered_at: datetime | None


class CaseLog:
    def __init__(self, storage: Storage, *, backoff: tuple[float, ...] = BACKOFF_SECONDS) -> None:
        self.storage, self.backoff = storage, backoff

    # ------------------------------------------------------------------------------------------ writing
    def add(
        self,
        case_id: int,
        author: str,
        *,
        surface: str,
        text: str,
        to: str | None = None,
        copy: dict[str, Any] | None = None,
        author_id: int | None = None,
        key: str | None = None,
    ) -> tuple[int, bool]:
        """Store a message; `to` (the applicant's address) makes it one to send (`pending`), else it was
        received. With `key`, a second call returns the first message: (id, created)."""
        payload = self.storage.cipher.encrypt_json({"t": text, "to": to, "c": copy})
        state = "pending" if to is not None else "received"
        if key is not None:
            found = self._by_key(key)
            if found is not None:
                return found, False
        try:
            with self.storage.session() as s:
                row = CaseMessage(
                    escalation_id=case_id,
                    author=author,
                    author_id=author_id,
                    surface=surface,
                    payload_enc=payload,
                    state=state,
                    attempts=0,
                    idempotency_key=key,
                    delivered_at=None,
                )
                s.add(row)
                s.flush()
                return int(row.id), True
        except IntegrityError:
            if key is None or self.storage._joined() is not None:
                raise
            found = self._by_key(key)  # a concurrent twin with the same key won
            if found is None:
                raise
            return found, False

    def _by_key(self, key: str) -> int | None:
        with self.storage.read() as s:
            return s.scalar(select(CaseMessage.id).where(CaseMessage.idempotency_key == key))

    # ------------------------------------------------------------------------------------------ sending
    def take(self, message_id: int, *, now: datetime | None = None) -> bool:
        """Claim a message for sending (False: another sender has it, or it was delivered or failed)."""
        now = now or utcnow()
        free = or_(
            CaseMessage.state.in_(("pending", "retrying")),
            and_(CaseMessage.state == "sending", CaseMessage.next_attempt_at <= now),
        )
        with self.storage.session() as s:
            res = s.execute(
                update(CaseMessage)
                .where(CaseMessage.id == message_id, free)
                .values(state="sending", next_attempt_at=now + timedelta(seconds=LEASE_SECONDS), updated_at=now)
                .execution_options(synchronize_session=False)
            )
            return bool(res.rowcount == 1)

    def peek(self, message_id: int) -> QueuedMessage | None:
        """A message to the applicant as a sender needs it (nothing is claimed)."""
        with self.storage.read() as s:
            row = s.get(CaseMessage, message_id)
            if row is None:
                return None
            payload = self.storage.cipher.decrypt_json(row.payload_enc) or {}
        if not payload.get("to"):
            return None
        return QueuedMessage(row.id, row.escalation_id, str(payload["to"]), str(payload.get("t", "")), payload.get("c"))

    def delivered(self, message_id: int) -> int | None:
        """Sent: returns the case id."""
        now = utcnow()
        with self.storage.session() as s:
            s.execute(
                update(CaseMessage)
                .where(CaseMessage.id == message_id, CaseMessage.state == "sending")
                .values(state="delivered", delivered_at=now, next_attempt_at=None, last_error=None, updated_at=now,
                        attempts=CaseMessage.attempts + 1)
                .execution_options(synchronize_session=False)
            )  # fmt: skip
            return s.scalar(select(CaseMessage.escalation_id).where(CaseMessage.id == message_id))

    def failed(self, message_id: int, error: str) -> tuple[int | None, str]:
        """The send failed: `retrying` after a back-off, `failed` after the last try. (case id, state)."""
        now = utcnow()
        with self.storage.session() as s:
            row = s.get(CaseMessage, message_id)
            if row is None or row.state != "sending":
                return (row.escalation_id if row else None), (row.state if row else "failed")
            row.attempts += 1
            row.last_error = error[:64]
            if row.attempts >= MAX_ATTEMPTS:
                row.state, row.next_attempt_at = "failed", None
            else:
                wait = self.backoff[min(row.attempts, len(self.backoff)) - 1]
                row.state, row.next_attempt_at = "retrying", now + timedelta(seconds=wait)
            row.updated_at = now
            s.flush()
            return row.escalation_id, row.state

    def due(self, surfaces: tuple[str, ...], *, limit: int = 50, now: datetime | None = None) -> list[int]:
        """Messages the retry sweep should take now: retrying ones whose back-off is over, pending ones the
        immediate sender did not take within the grace, sending ones whose sender's lease ran out."""
        now = now or utcnow()
        grace = now - timedelta(seconds=PENDING_GRACE_SECONDS)
        cond = or_(
            and_(CaseMessage.state == "pending", CaseMessage.created_at <= grace),
            and_(CaseMessage.state.in_(("retrying", "sending")), CaseMessage.next_attempt_at <= now),
        )
        with self.storage.read() as s:
            return list(
                s.scalars(
                    select(CaseMessage.id)
                    .where(cond, CaseMessage.surface.in_(surfaces))
                    .order_by(CaseMessage.id)
                    .limit(limit)
                )
            )

    # ------------------------------------------------------------------------------------------ reading
    def entries(self, case_id: int) -> list[CaseEntry]:
        with self.storage.read() as s:
            rows = s.execute(
                select(CaseMessage, User.display_name, User.username)
                .outerjoin(User, User.id == CaseMessage.author_id)
                .where(CaseMessage.escalation_id == case_id)
                .order_by(CaseMessage.id)
            ).all()
        out = []
        for row, display, username in rows:
            payload = self.storage.cipher.decrypt_json(row.payload_enc) or {}
            out.append(
                CaseEntry(row.id, row.escalation_id, row.author, row.author_id, display or username, row.surface,
                          str(payload.get("t", "")), row.state, row.attempts, row.created_at, row.delivered_at)
            )  # fmt: skip
        return out

    def state_of(self, message_id: int) -> str | None:
        with self.storage.read() as s:
            return s.scalar(select(CaseMessage.state).where(CaseMessage.id == message_id))
