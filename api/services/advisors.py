"""The advisors' side of one API process: the case desk (dialogs/cases.py) for the page `/asesores` and the API
`/v1/escalations`, the courier that carries what the desk's changes produce, and what the page shows.

With Redis (what a deployment runs), the desk works on the same case routes as the bot and the web chat
(storage/case_board.py), what is for Telegram (the card, a message to a Telegram applicant) goes to the bot
through the mailbox, a web chat applicant's message straight to their transcript, and each change is announced
on Redis so every API worker's open pages update. Without Redis (a local run of the API alone) the routes and
announcements live in this process (`LocalCaseBoard`) and nothing reaches Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from core.config import Settings
from core.conversation import case_desk
from dialogs.cases import CaseDesk, DeskAnswer
from dialogs.delivery import WEB, Outgoing
from storage.case_board import CaseBoard, LocalCaseBoard
from storage.case_store import CaseDeskStore
from storage.conversation import ConversationStore
from storage.dialog_state import redis_client
from storage.events import EventSink
from storage.mailbox import ChatLog, Mailbox, MailCourier
from storage.repositories import Storage

log = logging.getLogger("asesor.api.advisors")


class _Nowhere:
    """The courier of an API without Redis: there is no bot and no web chat to deliver to."""

    async def deliver(self, items: list[Outgoing]) -> None:
        if items:
            log.info("no Redis: %d case item(s) stay in storage only", len(items))


@dataclass
class Advisors:
    desk: CaseDesk
    board: CaseBoard | LocalCaseBoard
    courier: MailCourier | _Nowhere

    @property
    def store(self) -> CaseDeskStore:
        store = self.desk.store
        assert isinstance(store, CaseDeskStore)
        return store

    async def deliver(self, answer: DeskAnswer) -> DeskAnswer:
        """What a change produced reaches the other surfaces before the page or the API answers."""
        if answer.outgoing:
            await self.courier.deliver(answer.outgoing)
        return answer

    async def version(self) -> int:
        return await self.board.version()

    def listen(self) -> AsyncIterator[dict[str, Any]]:
        return self.board.listen()


class AdvisorsHolder:
    """Built on first use, once per API process."""

    def __init__(self, settings: Settings, storage: Storage, events: EventSink, namespace: str = "asesor") -> None:
        self.settings, self.storage, self.events, self.namespace = settings, storage, events, namespace
        self._built: Advisors | None = None
        self._lock = asyncio.Lock()
        self._sweep: asyncio.Task[None] | None = None
        self.redis: Redis | None = None

    def _build(self) -> Advisors:
        from api.services.handoff import policy_for

        policy = policy_for(self.settings)
        sealer = ConversationStore(self.storage, self.events)
        board: CaseBoard | LocalCaseBoard
        if self.settings.redis_url:
            self.redis = redis_client(self.settings.redis_url)
            board = CaseBoard(self.redis, prefix=f"{self.namespace}:case")
        else:
            board = LocalCaseBoard()
        desk = case_desk(policy, self.storage, self.events, board, funnel=sealer)
        courier: MailCourier | _Nowhere = _Nowhere()
        if self.redis is not None:
            chat_log = ChatLog(self.redis, sealer, prefix=f"{self.namespace}:chat")
            mailbox = Mailbox(self.redis, sealer, prefix=f"{self.namespace}:mail")
            courier = MailCourier(chat_log, mailbox, receipts=desk)
        return Advisors(desk, board, courier)

    async def get(self) -> Advisors:
        if self._built is None:
            async with self._lock:
                if self._built is None:
                    self._built = await asyncio.to_thread(self._build)
                    if isinstance(self._built.courier, MailCourier):  # web chat answers that failed: retried here
                        self._sweep = asyncio.create_task(
                            self._built.desk.serve_outbox(self._built.courier, (WEB,)), name="case-outbox-web"
                        )
        return self._built

    async def close(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            with contextlib.suppress(BaseException):
                await self._sweep
        if self._built is not None:
            await self._built.desk.background.settle()
        if self.redis is not None:
            await self.redis.aclose()


def age_minutes(since: datetime, now: datetime | None = None) -> float:
    now = now or datetime.now(UTC)
    return max(0.0, (now - since).total_seconds() / 60.0)
