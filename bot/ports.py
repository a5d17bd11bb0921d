"""The narrow interfaces the bot needs from storage and analytics (filled by storage.aio / storage.events).

Handlers depend on these protocols, not on SQLAlchemy: the production wiring passes
`storage.aio.AsyncStorage` and `storage.events.EventSink`; nothing else is assumed about them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class ApplicantStore(Protocol):
    """What the bot stores about an applicant (personal fields are encrypted by the implementation)."""

    def user_key(self, telegram_id: int | str) -> str: ...

    async def run(self, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`work(sync_storage, *args, **kwargs)` in one worker thread (several calls, one hop)."""
        ...

    async def upsert_applicant(self, telegram_id: int | str, chat_id: int | None = None) -> Any: ...

    async def record_consent(self, user_key: str, *, given: bool = True, version: str | None = None) -> Any: ...

    async def save_profile(
        self,
        user_key: str,
        *,
        name: str | None = None,
        phone: str | None = None,
        birth_year: int | None = None,
        monthly_income: float | None = None,
        complete: bool = True,
    ) -> Any: ...

    async def save_bank_profile(
        self,
        user_key: str,
        *,
        respuestas: dict[str, Any],
        banco_recomendado: str | None,
        banco_segunda_opcion: str | None,
        is_complete: bool,
    ) -> Any: ...

    async def save_assessment(self, result: Any, *, user_key: str | None = None, request: Any = None) -> str: ...

    async def latest_assessment(self, user_key: str) -> Any: ...

    async def create_escalation(
        self, user_key: str, *, reason: str, assessment_id: str | None = None
    ) -> tuple[Any, bool]: ...

    async def claim_escalation(self, escalation_id: int, advisor_id: int) -> Any | None: ...

    async def resolve_escalation(
        self, escalation_id: int, advisor_id: int | None, *, resolution: str | None = None
    ) -> Any | None: ...

    async def get_escalation(self, escalation_id: int) -> Any | None: ...

    async def set_escalation_message(self, escalation_id: int, advisors_message_id: int) -> None: ...

    async def erase_applicant(self, user_key: str) -> Any: ...

    async def get_user_by_telegram(self, telegram_user_id: int) -> Any | None: ...

    async def create_user(
        self,
        username: str,
        *,
        password_hash: str,
        role: str,
        display_name: str | None = None,
        telegram_user_id: int | None = None,
    ) -> Any: ...


class EventSink(Protocol):
    """Non-blocking, durable emission of funnel events (SPEC §8)."""

    async def aemit(self, event: Any) -> None: ...

    async def aemit_many(self, events: list[Any]) -> None: ...

    def flush(self) -> int: ...
