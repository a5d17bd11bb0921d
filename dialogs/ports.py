"""The typed ports of the conversation service (dialogs/service.py) and the case desk (dialogs/cases.py).

Each is a Protocol that a package outside dialogs/ satisfies, so that the conversation imports neither
SQLAlchemy nor Redis nor a Telegram framework:

| port | satisfied by |
|---|---|
| `Engine` (dialogs/card.py) | `engine.assess.Assessor`, `core.model_reload.ServedAssessor` (the model in service) |
| `ApplicantStore`, `CaseStore`, `Funnel`, `Sealer` | `storage.conversation.ConversationStore` (facade, outbox, keys) |
| `CaseBoard` | `storage.case_board.CaseBoard` (Redis) |
| `StateSlot` | `storage.dialog_state.HeldDialog` (Redis, the turn's locked copy), or a dict in memory (`asesor chat`) |
| `Courier` | each surface: bot/telegram.py, the web chat's inbox, the mailbox to another surface's process |
| `HandoffLink` | `core.handoff.handoff_url` |

Storage errors that mean "try again later" (the database or Redis unreachable) are raised as
`TemporarilyUnavailable`; the service then answers with a polite message and loses no step.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from dialogs.delivery import Outgoing
from dialogs.ids import new_uuid
from engine.types import AssessmentRequest, AssessmentResult


class TemporarilyUnavailable(RuntimeError):
    """A store the turn needs is down (database, Redis): the turn is not applied and may be retried."""


@dataclass(frozen=True, slots=True)
class FunnelRecord:
    """One funnel event of SPEC §8, stamped when it happened (it is written after the answer)."""

    name: str
    user_key: str
    properties: dict[str, Any] = field(default_factory=dict)
    step: str | None = None
    policy_version: str | None = None
    model_version: str | None = None
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: str = field(default_factory=lambda: str(new_uuid()))


@dataclass(frozen=True, slots=True)
class SavedResult:
    assessment_id: str
    case_id: int | None = None  # the case opened with it (a low score, an expert «revisar»)
    case_created: bool = False  # False: the applicant's open case was found instead


class AssessmentDigest(Protocol):
    """What a case card shows of a stored assessment (`storage.models.Assessment` has these columns)."""

    recommended_bank: str | None
    second_bank: str | None
    band: str | None
    decision: str
    rate: float | None
    pd: float
    credit_score: int
    result: dict[str, Any]  # the whole engine result (fired rules, knock-outs)


def occurrence_id(name: str, *parts: object) -> str:
    """A deterministic event id for one occurrence (`EscalationResolved` of case 12): a retry, a second
    process or a second surface doing the same thing yields the same id, which the events table keeps once."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, ":".join([name, *map(str, parts)])))


_EVENT_NAMESPACE = uuid.UUID("6f1d3c1e-3b8a-4a57-9d0b-5a7c2f9e4b11")


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """A case as storage holds it (the truth the queue shows; the route in Redis follows it)."""

    case_id: int
    user_key: str
    status: str  # open | claimed | resolved
    reason: str
    advisor_id: int | None
    advisor_name: str | None
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """A stored message to an applicant, as a sender reads it (storage/case_log.py)."""

    id: int
    case_id: int
    to: str  # dialogs.delivery.Address as text
    text: str
    copy: dict[str, Any] | None = None  # dialogs.delivery wire form of a MessageRef


class ApplicantStore(Protocol):
    def user_key(self, surface: str, external_id: int | str) -> str:
        """The pseudonymous key of an applicant (a Telegram user id, a web chat session id)."""
        ...

    async def record_consent(self, user_key: str, *, telegram_chat_id: int | None, notice_version: str) -> None: ...

    async def save_profile(
        self, user_key: str, *, telegram_chat_id: int | None, name: str, birth_year: int, phone: str | None
    ) -> None: ...

    async def save_result(
        self,
        user_key: str,
        request: AssessmentRequest,
        result: AssessmentResult,
        *,
        channel: str,
        case_reason: str | None,
    ) -> SavedResult:
        """The assessment, the seed's bank profile and, when `case_reason` is given, the case: all or none."""
        ...

    async def erase_applicant(self, user_key: str) -> None: ...


class CaseStore(Protocol):
    """Cases in storage (storage/case_store.py): every change is one conditional UPDATE, so of two advisors
    acting at once on any surfaces exactly one wins."""

    async def open_case(self, user_key: str, *, reason: str, assessment_id: str | None) -> tuple[int, bool]:
        """(case id, created); an applicant has at most one open case (the open one is returned)."""
        ...

    async def case(self, case_id: int) -> CaseFacts | None: ...

    async def latest_assessment(self, user_key: str) -> AssessmentDigest | None: ...

    async def applicant_address(self, user_key: str) -> str | None:
        """Where to write to the applicant when the case's route is gone (their Telegram chat, if known)."""
        ...

    async def claim_case(self, case_id: int, advisor_id: int) -> bool:
        """Exactly one of several concurrent claimers wins."""
        ...

    async def claim_next_case(self, advisor_id: int) -> int | None:
        """Claim the oldest open case; None when none is open."""
        ...

    async def resolve_case(
        self, case_id: int, advisor_id: int, *, outcome: str, resolution: str | None, force: bool
    ) -> bool:
        """Only the claimer (or nobody's case; anyone's with `force`) may be resolved."""
        ...

    async def reassign_case(self, case_id: int, from_advisor_id: int | None, to_advisor_id: int) -> bool: ...

    async def add_note(self, case_id: int, body: str, author_id: int) -> bool: ...

    async def set_case_message(self, case_id: int, message_id: int) -> None: ...

    async def advisor_for_telegram(self, telegram_user_id: int, display_name: str) -> int:
        """The users.id of a member of the advisors' chat (an account is created on first use)."""
        ...

    async def advisor_name(self, user_id: int) -> str | None: ...

    # the case's conversation and its outbox (storage/case_log.py)
    async def log_message(
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
    ) -> tuple[int, bool]: ...

    async def mark_first_answer(self, case_id: int) -> None: ...

    async def take_message(self, message_id: int) -> bool:
        """Claim a stored message for sending; False when another sender has it or it is settled."""
        ...

    async def peek_message(self, message_id: int) -> QueuedMessage | None: ...

    async def message_delivered(self, message_id: int) -> int | None: ...

    async def message_failed(self, message_id: int, error: str) -> tuple[int | None, str]: ...

    async def due_messages(self, surfaces: tuple[str, ...]) -> list[int]: ...


class Funnel(Protocol):
    async def emit(self, records: list[FunnelRecord]) -> None:
        """Non-blocking and durable (an outbox); never raises."""
        ...

    def flush(self) -> int:
        """Write what is queued now (before an erasure re-keys the applicant's rows)."""
        ...


class Sealer(Protocol):
    """Encryption of the personal fields a dialog holds in flight (the database's Fernet keys)."""

    def seal(self, text: str) -> str: ...

    def unseal(self, token: str) -> str | None:
        """None when no configured key opens it (rotated away)."""
        ...


@dataclass
class CaseRoute:
    """Where a case's conversations are (storage/case_board.py keeps these in Redis)."""

    case_id: int
    user_key: str
    applicant: str  # the applicant's conversation, `surface:chat` (dialogs.delivery.Address)
    status: str = "open"  # open | claimed | resolved
    advisor_id: int | None = None  # users.id of the advisor who holds it
    advisor_name: str | None = None
    card: str | None = None  # the case card without its status line, to re-render on every change
    outcome: str | None = None  # how it was resolved
    thread_id: int | None = None  # its forum topic in the advisors' Telegram chat, when that chat is a forum
    card_message_id: int | None = None  # the card's message there


class CaseBoard(Protocol):
    async def save(self, route: CaseRoute) -> None: ...

    async def get(self, case_id: int | str) -> CaseRoute | None: ...

    async def for_user(self, user_key: str) -> CaseRoute | None: ...

    async def close(self, route: CaseRoute) -> None: ...

    async def forget_user(self, user_key: str) -> CaseRoute | None: ...

    async def map_message(self, message_id: int, case_id: int) -> None: ...

    async def find(self, *, thread_id: int | None, reply_to: int | None) -> CaseRoute | None: ...

    async def announce(self, case_id: int, kind: str) -> None:
        """Tell every open advisors' page (any process) that the case changed; never raises."""
        ...


class StateSlot(Protocol):
    """The stored dialog of the conversation a turn holds (its lock is held by the caller)."""

    def get(self) -> dict[str, Any] | None: ...

    def set(self, dialog: dict[str, Any] | None) -> None: ...


class Courier(Protocol):
    async def deliver(self, items: list[Outgoing]) -> None:
        """Deliver to other conversations and to the advisors' side (after the turn's answer)."""
        ...


HandoffLink = Callable[[str, str, str], str]  # (user key, assessment id, channel) -> the web form's signed link
