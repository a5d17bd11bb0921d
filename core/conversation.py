"""Assembly of the conversation service for a surface's process (the bot, the API's web chat, `asesor chat`).

dialogs/ defines the service and its ports; storage/ and engine/ satisfy them; this module plugs one into the
other, so that every surface runs the same service with the same stores:

    parts = conversation_parts(policy, storage, events, redis)            # the case desk and its stores
    service = conversation_service(parts, engine=assessor, courier=..., settings=settings)

The courier is the surface's own (bot/telegram.py's for a bot, the web chat's transcript for the API); what
it cannot deliver goes to `parts.mail` (storage/mailbox.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from redis.asyncio import Redis

from core.config import Settings
from core.handoff import handoff_url
from dialogs.background import Background
from dialogs.card import Engine
from dialogs.cases import CaseDesk
from dialogs.flow import Flow
from dialogs.ports import CaseBoard as CaseBoardPort
from dialogs.ports import Courier
from dialogs.service import ConversationService
from engine.policy import Policy
from storage.case_board import CaseBoard
from storage.case_store import CaseDeskStore
from storage.conversation import ConversationStore
from storage.dialog_state import DialogStore
from storage.events import EventSink
from storage.mailbox import ChatLog, Mailbox, MailCourier
from storage.repositories import Storage


@dataclass
class ConversationParts:
    flow: Flow
    store: ConversationStore
    board: CaseBoard
    desk: CaseDesk
    dialogs: DialogStore
    chat_log: ChatLog
    mailbox: Mailbox
    mail: MailCourier  # the courier for other surfaces' conversations
    background: Background


def conversation_parts(
    policy: Policy,
    storage: Storage,
    events: EventSink,
    redis: Redis,
    *,
    namespace: str = "asesor",
    today: Callable[[], date] = date.today,
    dialogs: DialogStore | None = None,
) -> ConversationParts:
    """`namespace` prefixes the case routes, the web transcripts and the mailboxes (tests give each run its
    own; a deployment keeps the default in its own Redis)."""
    store = ConversationStore(storage, events)
    board = CaseBoard(redis, prefix=f"{namespace}:case")
    background = Background()
    desk = case_desk(policy, storage, events, board, background=background, today=today, funnel=store)
    chat_log = ChatLog(redis, store, prefix=f"{namespace}:chat")
    mailbox = Mailbox(redis, store, prefix=f"{namespace}:mail")
    return ConversationParts(
        Flow(policy, today),
        store,
        board,
        desk,
        dialogs or DialogStore(redis),
        chat_log,
        mailbox,
        MailCourier(chat_log, mailbox, receipts=desk),
        background,
    )


def case_desk(
    policy: Policy,
    storage: Storage,
    events: EventSink,
    board: CaseBoardPort,
    *,
    background: Background | None = None,
    today: Callable[[], date] = date.today,
    funnel: ConversationStore | None = None,
) -> CaseDesk:
    """The case desk alone (the advisors' page and the API), on `board` (Redis's, or `LocalCaseBoard` for
    an API without Redis)."""
    funnel = funnel or ConversationStore(storage, events)
    return CaseDesk(policy, CaseDeskStore(storage), board, funnel, background or Background(), today)


def conversation_service(
    parts: ConversationParts, *, engine: Engine, courier: Courier, settings: Settings
) -> ConversationService:
    return ConversationService(
        parts.flow,
        engine=engine,
        store=parts.store,
        desk=parts.desk,
        funnel=parts.store,
        sealer=parts.store,
        courier=courier,
        handoff_link=lambda key, assessment_id, surface: handoff_url(
            key, assessment_id, settings=settings, channel=surface
        ),
        background=parts.background,
    )
