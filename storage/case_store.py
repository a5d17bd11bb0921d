"""`dialogs.ports.CaseStore` over the storage facade: cases, their notes, and their stored conversation.

Each method is one storage effect in a worker thread (the event loop never blocks), and every change of a
case is one conditional UPDATE (`Storage.claim_escalation`, `resolve_escalation`, `reassign_escalation`), so
of two advisors acting on one case at once, from any surfaces and processes, exactly one wins. A database
that cannot be reached surfaces as `dialogs.ports.TemporarilyUnavailable`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from dialogs.delivery import TELEGRAM, Address
from dialogs.ports import AssessmentDigest, CaseFacts, QueuedMessage
from storage.case_log import CaseLog
from storage.conversation import hop
from storage.repositories import Conflict, NotFound, Storage


class CaseDeskStore:
    def __init__(self, storage: Storage, log: CaseLog | None = None) -> None:
        self.sync = storage
        self.log = log or CaseLog(storage)

    # ------------------------------------------------------------------------------------------ cases
    async def open_case(self, user_key: str, *, reason: str, assessment_id: str | None) -> tuple[int, bool]:
        def work() -> tuple[int, bool]:
            esc, created = self.sync.create_escalation(user_key, reason=reason, assessment_id=assessment_id)
            return int(esc.id), created

        return await hop(work)

    def facts(self, case_id: int) -> CaseFacts | None:
        esc = self.sync.get_escalation(case_id)
        if esc is None:
            return None
        name = None
        if esc.advisor_id is not None:
            user = self.sync.get_user(esc.advisor_id)
            name = (user.display_name or user.username) if user is not None else None
        return CaseFacts(esc.id, esc.user_key, esc.status, esc.reason, esc.advisor_id, name, esc.outcome)

    async def case(self, case_id: int) -> CaseFacts | None:
        return await hop(self.facts, case_id)

    async def latest_assessment(self, user_key: str) -> AssessmentDigest | None:
        return await hop(self.sync.latest_assessment, user_key)

    async def applicant_address(self, user_key: str) -> str | None:
        chat = await hop(self.sync.telegram_chat_id, user_key)
        return str(Address(TELEGRAM, str(chat))) if chat is not None else None

    async def claim_case(self, case_id: int, advisor_id: int) -> bool:
        def work() -> bool:
            try:
                return self.sync.claim_escalation(case_id, advisor_id) is not None
            except NotFound:
                return False

        return await hop(work)

    async def claim_next_case(self, advisor_id: int) -> int | None:
        def work() -> int | None:
            esc = self.sync.claim_next_escalation(advisor_id)
            return int(esc.id) if esc is not None else None

        return await hop(work)

    async def resolve_case(
        self, case_id: int, advisor_id: int, *, outcome: str, resolution: str | None, force: bool
    ) -> bool:
        def work() -> bool:
            try:
                esc = self.sync.resolve_escalation(
                    case_id, advisor_id, resolution=resolution, outcome=outcome, force=force
                )
            except NotFound:
                return False
            return esc is not None

        return await hop(work)

    async def reassign_case(self, case_id: int, from_advisor_id: int | None, to_advisor_id: int) -> bool:
        def work() -> bool:
            try:
                return self.sync.reassign_escalation(case_id, from_advisor_id, to_advisor_id) is not None
            except NotFound:
                return False

        return await hop(work)

    async def add_note(self, case_id: int, body: str, author_id: int) -> bool:
        def work() -> bool:
            try:
                self.sync.add_escalation_note(case_id, body, author_id=author_id)
            except NotFound:
                return False
            return True

        return await hop(work)

    async def set_case_message(self, case_id: int, message_id: int) -> None:
        await hop(self.sync.set_escalation_message, case_id, message_id)

    async def advisor_for_telegram(self, telegram_user_id: int, display_name: str) -> int:
        """The advisors' chat is the authorisation: a member who acts on a case gets an advisor account
        (without a password, so it cannot log in to the API until an admin sets one)."""

        def work() -> int:
            user = self.sync.get_user_by_telegram(telegram_user_id)
            if user is None:
                digest = hashlib.sha256(f"advisor:{telegram_user_id}".encode()).hexdigest()[:12]
                try:
                    user = self.sync.create_user(
                        f"telegram-{digest}",
                        password_hash="!",
                        role="advisor",
                        display_name=display_name[:100],
                        telegram_user_id=telegram_user_id,
                    )
                except Conflict:  # created by a concurrent tap
                    user = self.sync.get_user_by_telegram(telegram_user_id)
            assert user is not None
            return int(user.id)

        return await hop(work)

    async def advisor_name(self, user_id: int) -> str | None:
        def work() -> str | None:
            user = self.sync.get_user(user_id)
            if user is None or not user.is_active or user.role not in ("advisor", "admin"):
                return None
            return str(user.display_name or user.username)

        return await hop(work)

    # --------------------------------------------------------------------- the conversation and outbox
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
    ) -> tuple[int, bool]:
        def work() -> tuple[int, bool]:
            return self.log.add(
                case_id, author, surface=surface, text=text, to=to, copy=copy, author_id=author_id, key=key
            )

        return await hop(work)

    async def mark_first_answer(self, case_id: int) -> None:
        await hop(self.sync.mark_first_answer, case_id)

    async def take_message(self, message_id: int) -> bool:
        return await hop(lambda: self.log.take(message_id) is not None)

    async def peek_message(self, message_id: int) -> QueuedMessage | None:
        return await hop(self.log.peek, message_id)

    async def message_delivered(self, message_id: int) -> int | None:
        return await hop(self.log.delivered, message_id)

    async def message_failed(self, message_id: int, error: str) -> tuple[int | None, str]:
        return await hop(self.log.failed, message_id, error)

    async def due_messages(self, surfaces: tuple[str, ...]) -> list[int]:
        return await hop(lambda: self.log.due(surfaces))
