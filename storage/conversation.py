"""The conversation service's storage ports (dialogs/ports.py), satisfied by the storage facade, the event
outbox and the database's Fernet keys.

Each port method is one storage effect: one transaction in one worker thread (`Storage.transaction`), so the
event loop never blocks and a turn's writes are all or none (consent with the applicant row; the profile with
it; the assessment with the seed's bank profile and, when the result escalates, the case). A database that
cannot be reached surfaces as `dialogs.ports.TemporarilyUnavailable`, which the service answers with a polite
retry message without applying the turn.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from dialogs.delivery import TELEGRAM
from dialogs.ports import FunnelRecord, SavedResult, TemporarilyUnavailable
from engine.types import AssessmentRequest, AssessmentResult
from storage.events import EventSink, FunnelEvent
from storage.privacy import DecryptionError
from storage.repositories import Storage

T = TypeVar("T")
_OUTAGES = (OperationalError, InterfaceError, PoolTimeout)


async def hop(work: Callable[..., T], *args: Any) -> T:
    """One storage effect in a worker thread; an unreachable database is `TemporarilyUnavailable`."""
    try:
        return await asyncio.to_thread(work, *args)
    except _OUTAGES as exc:
        raise TemporarilyUnavailable("the database is unavailable") from exc


class ConversationStore:
    """`ApplicantStore`, `Funnel` and `Sealer` of dialogs/ports.py over one `Storage` (`CaseStore` is
    storage/case_store.py's)."""

    def __init__(self, storage: Storage, events: EventSink) -> None:
        self.sync, self.events = storage, events
        # a dialog's sealed name and phone are opened on every turn (~4 % of a web chat turn's CPU): the texts of
        # recent tokens stay in this process, which holds the keys anyway; bounded, and cleared by an erasure
        self._opened = functools.lru_cache(maxsize=2048)(self._open)

    async def _hop(self, work: Callable[..., T], *args: Any) -> T:
        return await hop(work, *args)

    # ------------------------------------------------------------------------------------- applicants
    def user_key(self, surface: str, external_id: int | str) -> str:  # an HMAC: no thread needed
        if surface == TELEGRAM:
            return self.sync.user_key(external_id)
        return self.sync.session_user_key(str(external_id), surface)

    async def record_consent(self, user_key: str, *, telegram_chat_id: int | None, notice_version: str) -> None:
        def work() -> None:
            with self.sync.transaction():  # one write lock and one commit for both
                self.sync.ensure_applicant(user_key, chat_id=telegram_chat_id)
                self.sync.record_consent(user_key, version=notice_version)

        await self._hop(work)

    async def save_profile(
        self, user_key: str, *, telegram_chat_id: int | None, name: str, birth_year: int, phone: str | None
    ) -> None:
        def work() -> None:
            with self.sync.transaction():
                self.sync.ensure_applicant(user_key, chat_id=telegram_chat_id)
                self.sync.save_profile(user_key, name=name, birth_year=birth_year, phone=phone, complete=True)

        await self._hop(work)

    async def save_result(
        self,
        user_key: str,
        request: AssessmentRequest,
        result: AssessmentResult,
        *,
        channel: str,
        case_reason: str | None,
    ) -> SavedResult:
        def work() -> SavedResult:
            with self.sync.transaction():
                assessment_id = str(
                    self.sync.save_assessment(result, user_key=user_key, request=request, channel=channel)
                )
                self.sync.save_bank_profile(
                    user_key,
                    respuestas=request.answers.model_dump(),
                    banco_recomendado=result.bank_fit.recommended,
                    banco_segunda_opcion=result.bank_fit.second,
                    is_complete=True,
                )
                if case_reason is None:
                    return SavedResult(assessment_id)
                esc, created = self.sync.create_escalation(user_key, reason=case_reason, assessment_id=assessment_id)
                return SavedResult(assessment_id, esc.id, created)

        return await self._hop(work)

    async def erase_applicant(self, user_key: str) -> None:
        await self._hop(self.sync.erase_applicant, user_key)
        self._opened.cache_clear()  # nothing opened before the erasure outlives it here

    # ----------------------------------------------------------------------------------------- funnel
    async def emit(self, records: list[FunnelRecord]) -> None:
        events = [
            FunnelEvent(
                id=r.id,
                name=r.name,
                user_key=r.user_key,
                step=r.step,
                occurred_at=r.occurred_at,
                properties=r.properties,
                policy_version=r.policy_version,
                model_version=r.model_version,
            )
            for r in records
        ]
        await self.events.aemit_many(events)

    def flush(self) -> int:
        return self.events.flush()

    # ---------------------------------------------------------------------------------------- sealing
    def seal(self, text: str) -> str:
        token = self.sync.cipher.encrypt(text)
        assert token is not None
        return token.decode("ascii")

    def unseal(self, token: str) -> str | None:
        return self._opened(token)

    def _open(self, token: str) -> str | None:
        try:
            return self.sync.cipher.decrypt(token.encode("ascii"))
        except (DecryptionError, UnicodeEncodeError):
            return None
