"""Telegram, whichever framework receives the updates: the applicant's private chat and the advisors' chat.

aiogram (bot/aiogram_bot.py) and python-telegram-bot (bot/ptb_bot.py) each turn their update objects into an
`Inbound` and implement `TelegramApi` (the few Bot API calls the bot makes). The rest is here, once: the
conversation's lock and the update's idempotency (storage/dialog_state.py, the same Redis keys for both
frameworks), the dialog event, the conversation service or the case desk, and rendering their replies,
keyboards and notices as Telegram messages. No storage, no routing decision and no Spanish copy live here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace
from typing import Protocol

from core.logging import bound
from dialogs import texts
from dialogs.cases import Advisor, CaseDesk, DeskAnswer
from dialogs.delivery import TELEGRAM, Address, CaseNotice, MessageRef, Outgoing, Say
from dialogs.flow import Command, Event, Media, Press, Text
from dialogs.outbox import deliver_tracked
from dialogs.ports import CaseRoute, Courier
from dialogs.service import Conversation, ConversationService, TurnResult
from dialogs.ui import Keyboard, Reply
from storage.dialog_state import DialogKey, DialogStore, seen_key

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Inbound:
    """One update, as the bot needs it (a message or a button press), whatever framework parsed it."""

    update_id: int
    chat_id: int | None = None
    private: bool = False
    user_id: int | None = None
    user_name: str = ""
    from_bot: bool = False
    message_id: int | None = None
    text: str | None = None
    media: str | None = None  # the content type when the message is not text (photo, sticker, …)
    thread_id: int | None = None  # the forum topic of a message in one
    reply_to: int | None = None  # the message it replies to
    query_id: str | None = None  # a button press (callback query)
    data: str | None = None
    pressed_message_id: int | None = None  # the message whose button was pressed


class TelegramApi(Protocol):
    """The Bot API calls the bot makes. `edit` returns False when Telegram refuses the edit (too old,
    deleted, not modified); `answer`, `create_topic` (None: not a forum) and `close_topic` never raise."""

    async def send(
        self, chat_id: int, text: str, keyboard: Keyboard = (), *, thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> int: ...  # fmt: skip

    async def edit(self, chat_id: int, message_id: int, text: str, keyboard: Keyboard = ()) -> bool: ...

    async def answer(self, query_id: str, text: str | None = None, *, alert: bool = False) -> None: ...

    async def copy(
        self, chat_id: int, from_chat_id: int, message_id: int, *, thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> int: ...  # fmt: skip

    async def create_topic(self, chat_id: int, name: str) -> int | None: ...

    async def close_topic(self, chat_id: int, thread_id: int) -> None: ...


def to_event(u: Inbound) -> Event:
    if u.query_id is not None:
        return Press(u.data or "")
    if u.text is not None:
        text = u.text.strip()
        if text.startswith("/"):
            return Command(text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if len(text) > 1 else "")
        return Text(text)
    return Media(u.media or "unknown")


async def show(api: TelegramApi, chat_id: int, replies: list[Reply], *, pressed: int | None = None) -> int | None:
    """Send the replies in order; a `replace` reply edits the message whose button was pressed (one message
    per step instead of a growing pile of keyboards). Returns the id of the last message shown."""
    last: int | None = None
    editable = pressed
    for reply in replies:
        if reply.replace and editable is not None and await api.edit(chat_id, editable, reply.text, reply.keyboard):
            last, editable = editable, None
            continue
        last = await api.send(chat_id, reply.text, reply.keyboard)
        editable = None
    return last


class TelegramCourier:
    """`dialogs.ports.Courier` of a Telegram bot: applicants' Telegram chats and the advisors' chat; what is
    for another surface (a web chat applicant) goes to `elsewhere`."""

    def __init__(self, api: TelegramApi, desk: CaseDesk, advisors_chat_id: int | None, elsewhere: Courier) -> None:
        self.api, self.desk, self.advisors, self.elsewhere = api, desk, advisors_chat_id, elsewhere

    async def deliver(self, items: list[Outgoing]) -> None:
        other: list[Outgoing] = []
        for item in items:
            if isinstance(item, Say):
                if item.to.surface == TELEGRAM:
                    await self._say(item)
                else:
                    other.append(item)
            elif self.advisors is None:
                log.warning("ADVISORS_CHAT_ID is not set: case %s is only in the API queue", item.case_id)
            else:
                await self._notice(self.advisors, item)
        if other:
            await self.elsewhere.deliver(other)

    async def _say(self, say: Say) -> None:
        """A stored case message is taken, sent and marked (dialogs/outbox.py): a Bot API failure leaves it
        `retrying` for the desk's sweep instead of losing it."""
        await deliver_tracked(say, self._send, self.desk)

    async def _send(self, say: Say) -> None:
        chat = int(say.to.chat)
        if say.copy_of is not None and say.copy_of.address.surface == TELEGRAM:
            await self.api.copy(chat, int(say.copy_of.address.chat), say.copy_of.message_id)
            return
        await show(self.api, chat, list(say.replies))

    async def _notice(self, chat: int, n: CaseNotice) -> None:
        if n.kind == "opened":  # a forum chat gets one topic per case; a plain group falls back to replies
            current = await self.desk.current_card(n.case_id)  # taken on the page before it got here: say so
            if current is not None:
                n = replace(n, text=current.text, keyboard=current.keyboard)
            thread = await self.api.create_topic(chat, texts.CASE_TITLE.format(case_id=n.case_id))
            message_id = await self.api.send(chat, n.text, n.keyboard, thread_id=thread)
            await self.desk.placed(n.case_id, thread_id=thread, message_id=message_id)
        elif n.kind == "message":
            if n.copy_of is not None and n.copy_of.address.surface == TELEGRAM:
                message_id = await self.api.copy(
                    chat, int(n.copy_of.address.chat), n.copy_of.message_id, thread_id=n.thread_id,
                    reply_to=None if n.thread_id else n.card_message_id,
                )  # fmt: skip
            else:
                message_id = await self.api.send(
                    chat, n.text, thread_id=n.thread_id, reply_to=None if n.thread_id else n.card_message_id
                )
            await self.desk.posted(n.case_id, message_id)
        else:  # updated, choose, erased: the card changes; a case that is over closes its topic
            if n.kind in ("updated", "choose"):
                # rendered from the case's state now: notices from several processes may arrive out of order
                current = await self.desk.current_card(n.case_id)
                if current is not None:
                    keyboard = n.keyboard if n.kind == "choose" else current.keyboard
                    n = replace(current, keyboard=keyboard, close_thread=n.close_thread or current.close_thread)
            if n.card_message_id is not None and not await self.api.edit(chat, n.card_message_id, n.text, n.keyboard):
                log.info("card of case %s not edited (unchanged or gone)", n.case_id)
            if n.close_thread and n.thread_id is not None:
                await self.api.close_topic(chat, n.thread_id)


class TelegramFrontDesk:
    """Every update of the bot: the applicant's private chat through the conversation service, the advisors'
    chat through the case desk; other chats are ignored."""

    def __init__(
        self,
        api: TelegramApi,
        service: ConversationService,
        desk: CaseDesk,
        courier: Courier,
        dialogs: DialogStore,
        *,
        bot_id: int,
        advisors_chat_id: int | None,
    ) -> None:
        self.api, self.service, self.desk, self.courier, self.dialogs = api, service, desk, courier, dialogs
        self.bot_id, self.advisors = bot_id, advisors_chat_id
        self.duplicates = 0

    async def handle(self, u: Inbound) -> None:
        # every line logged while this update is handled (and by the tasks it starts) carries its update_id,
        # Telegram's counter of the bot's updates: it names no person, and ties a turn's lines together
        with bound(update_id=u.update_id):
            await self._handle(u)

    async def _handle(self, u: Inbound) -> None:
        try:
            if u.chat_id is not None and u.private and u.user_id is not None:
                await self._applicant(u)
            elif u.chat_id is not None and u.chat_id == self.advisors:
                if await self.dialogs.first_time(seen_key(self.bot_id, u.update_id)):
                    await self._advisors(u)
                else:
                    self.duplicates += 1
            else:  # another chat, or an update the bot does not use: only remember it was seen
                await self.dialogs.first_time(seen_key(self.bot_id, u.update_id))
        except Exception as exc:
            await self._apologise(u, exc)

    async def _applicant(self, u: Inbound) -> None:
        assert u.chat_id is not None and u.user_id is not None
        key = DialogKey.telegram(self.bot_id, u.chat_id, u.user_id)
        async with self.dialogs.turn(key, seen=seen_key(self.bot_id, u.update_id)) as held:
            if held.first_time is False:  # Telegram delivered it again: handled once already
                self.duplicates += 1
                log.info("duplicate update %s dropped", u.update_id)
                return
            conv = Conversation(Address(TELEGRAM, str(u.chat_id)), self.service.user_key(TELEGRAM, u.user_id))
            source = MessageRef(conv.address, u.message_id) if u.media and u.message_id is not None else None
            result = await self.service.handle(conv, to_event(u), held, source=source)
            await held.commit()  # written before the screen moves on (a Redis failure after it loses no step)
            await self.render(u, result)

    async def render(self, u: Inbound, result: TurnResult) -> None:
        assert u.chat_id is not None
        shown = show(self.api, u.chat_id, result.replies, pressed=u.pressed_message_id)
        if u.query_id is not None:  # the toast and the new screen are independent: one round trip instead of two
            await asyncio.gather(self.api.answer(u.query_id, result.toast), shown)
        else:
            await shown

    async def _advisors(self, u: Inbound) -> None:
        assert u.chat_id is not None
        advisor = Advisor(u.user_id or 0, u.user_name)
        if u.query_id is not None:
            answer = await self.desk.press(u.data or "", advisor)
            await self.api.answer(u.query_id, answer.toast, alert=answer.alert)
        else:
            if u.from_bot or u.user_id is None:
                return
            route = await self.desk.locate(thread_id=u.thread_id, reply_to=u.reply_to)
            if (u.text or "").startswith("/"):
                answer = await self._command(u, route, advisor)
            else:
                copy = MessageRef(Address(TELEGRAM, str(u.chat_id)), u.message_id) if u.message_id else None
                key = f"tg:{u.chat_id}:{u.message_id}" if u.message_id else None
                answer = await self.desk.advisor_writes(
                    route, advisor, u.text, None if u.text is not None else copy, key=key
                )
            if answer.reply:
                await self.api.send(u.chat_id, answer.reply, thread_id=u.thread_id, reply_to=u.message_id)
        if answer.outgoing:
            await self.courier.deliver(answer.outgoing)

    async def _command(self, u: Inbound, route: CaseRoute | None, advisor: Advisor) -> DeskAnswer:
        """`/nota <texto>` in a case's topic (or as a reply to one of its messages) stores an internal note."""
        name, _, body = (u.text or "").partition(" ")
        if name.split("@", 1)[0].lower() != "/nota" or route is None:
            return DeskAnswer()
        if not body.strip():
            return DeskAnswer(reply=texts.CASE_NOTE_USAGE)
        answer = await self.desk.note(route.case_id, advisor, body.strip()[:4000], echo=False)
        return DeskAnswer(reply=answer.toast, outgoing=answer.outgoing)

    async def _apologise(self, u: Inbound, exc: BaseException) -> None:
        """Anything that failed (Redis or the database unreachable, a bug): log without personal data and tell
        the applicant to try again rather than leaving them without an answer."""
        # the exception's text may quote applicant input: log its type only, the traceback at debug level
        log.error("update %s failed: %s", u.update_id, type(exc).__name__)
        log.debug("update %s traceback", u.update_id, exc_info=exc)
        if u.chat_id is None or not u.private:
            return
        sorry = self.service.unavailable()
        with contextlib.suppress(Exception):
            if u.query_id is not None:
                await self.api.answer(u.query_id, sorry.toast)
            await show(self.api, u.chat_id, sorry.replies)
