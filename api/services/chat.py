"""The web chat (`/chat`): the applicant's conversation in a browser, through the same conversation service as
the Telegram bot.

A browser session is a random id in a signed, HttpOnly, SameSite cookie. Its dialog lives in the same Redis
store as the bot's (`storage.dialog_state.DialogKey.web(session)`, the same lock and the same idempotency:
every form carries a turn id, and a form posted twice is handled once), so a reload or a restart of the API
resumes at the same step, and two tabs of one session take turns. What the page shows is the session's
transcript (`storage.mailbox.ChatLog`, sealed): the applicant's answers, the dialog's replies, and what an
advisor writes (appended by the bot's process); the page polls it.

Replies keep their Telegram HTML subset (`<b>`, `<i>`, user values already escaped by the dialog); `to_html`
lets exactly those tags through and escapes everything else. Buttons are real buttons of a plain form; only
those of the current revision are shown (older ones would be stale).
"""

from __future__ import annotations

import asyncio
import html
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import Markup
from redis.asyncio import Redis

from core.config import Settings
from core.conversation import ConversationParts, conversation_parts, conversation_service
from dialogs.delivery import WEB, Address
from dialogs.flow import COMMANDS, Command, Event, Press, Text
from dialogs.ids import new_uuid
from dialogs.service import Conversation, ConversationService, TurnResult
from dialogs.state import load_state
from dialogs.ui import Keyboard, Reply, parse_payload
from storage.dialog_state import DialogKey, redis_client, seen_key
from storage.events import EventSink
from storage.mailbox import LogEntry, PendingAppend
from storage.repositories import Storage

COOKIE = "asesor_chat"
COOKIE_SALT = "web-chat-session"
COOKIE_MAX_AGE = 60 * 60 * 24 * 14  # as long as the dialog (storage/dialog_state.py)
MAX_TEXT = 500  # a typed answer; the longest sensible one (a name, an amount) is far shorter
# control characters a keyboard does not type (a NUL, an escape): a form can carry them, Telegram never does
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

# what the dialog's texts use of Telegram's HTML: bold, italics, and the entities of escaped user values
_KEEP = re.compile(r"(</?[bi]>|&(?:amp|lt|gt|quot|#39|#x27);)")


def to_html(text: str) -> Markup:
    """The dialog's Telegram-HTML text for the page: its <b>, <i> and entities survive, anything else is
    escaped (a user's "<b>" was escaped by the dialog, so it stays text)."""
    return Markup("".join(p if i % 2 else html.escape(p, quote=False) for i, p in enumerate(_KEEP.split(text))))


def _rev_of(keyboard: Keyboard) -> int | None:
    for row in keyboard:
        for b in row:
            parsed = parse_payload(b.payload) if b.payload else None
            if parsed is not None:
                return parsed[0]
    return None


@dataclass(frozen=True, slots=True)
class ShownEntry:
    """One transcript entry as the template reads it."""

    seq: int
    who: str
    html: Markup
    keyboard: Keyboard  # empty when its buttons are no longer current
    links: Keyboard  # URL buttons (the handoff link): always shown


@dataclass
class ChatView:
    seq: int
    rev: int | None
    entries: list[ShownEntry]
    turn: str  # the id the next form post carries
    reset: bool = False  # the transcript was cleared (the dialog ended): the page starts over


class WebChat:
    """The web chat's side of one API process: its conversation service and its transcripts."""

    def __init__(self, settings: Settings, parts: ConversationParts, service: ConversationService) -> None:
        self.settings, self.parts, self.service = settings, parts, service
        # ASESOR_CHAT_SECRET, used for nothing else; itsdangerous signs with the last key and accepts any (rotation)
        self.cookies = URLSafeSerializer(list(reversed(settings.signing_keys("chat"))), salt=COOKIE_SALT)
        # every turn checks its cookie's signature (~2 % of a turn's CPU): the answers for recent cookies are
        # kept, bounded; the keys only change with a restart
        self._verified = lru_cache(maxsize=4096)(self._verify)

    # -------------------------------------------------------------------------------------- sessions
    def session_of(self, cookie: str | None) -> str | None:
        return self._verified(cookie) if cookie and len(cookie) <= 256 else None

    def _verify(self, cookie: str) -> str | None:
        try:
            value = self.cookies.loads(cookie)
        except BadSignature:
            return None
        return value if isinstance(value, str) and 16 <= len(value) <= 64 else None

    @staticmethod
    def new_session() -> str:
        return secrets.token_urlsafe(24)

    def cookie_for(self, session: str) -> str:
        return str(self.cookies.dumps(session))

    # ----------------------------------------------------------------------------------------- turns
    @staticmethod
    def event_of(press: str | None, text: str | None, command: str | None) -> Event | None:
        if command:
            return Command(command) if command in COMMANDS else None
        if press:
            return Press(press[:64])
        if text is not None:
            text = _CONTROL.sub("", text).strip()[:MAX_TEXT]
            if text.startswith("/") and len(text) > 1:
                return Command(text[1:].split(maxsplit=1)[0].lower())
            return Text(text)
        return None

    async def turn(self, session: str, event: Event, turn_id: str | None, seen: int, *, echo: bool = True) -> ChatView:
        """Run one turn of the session (or, for a turn id seen before, nothing) and return what the page
        lacks since `seen`: the new transcript entries and the current buttons. `echo`: show what the applicant
        said (not for the first visit's automatic start). Two Redis round trips when the page is up to date:
        the lock with the dialog, then the transcript's append with the dialog and the lock's release."""
        conv = Conversation(Address(WEB, session), self.service.user_key(WEB, session))
        turn_key = seen_key(f"web:{session}", turn_id) if turn_id else None
        pending: PendingAppend | None = None
        async with self.parts.dialogs.turn(DialogKey.web(session), seen=turn_key) as held:
            if held.first_time is not False:
                before = held.get()
                result = await self.service.handle(conv, event, held)
                said = self._said(event, before) if echo else None
                pending = self.parts.chat_log.appending(session, self._entries(said, result), clear=held.mode == "del")
                held.send_with_release(pending.call)
            stored = held.get()
        rev = stored.get("rev") if stored else None
        rev = rev if isinstance(rev, int) else None
        if pending is not None:
            added, last, base = pending.stored()
            if seen == last - len(added) and not 0 < seen <= base:
                return ChatView(last, rev, [self._shown(e, rev) for e in added], new_uuid().hex)
        return await self.view(session, seen, rev)  # something else was added meanwhile (an advisor, a tab)

    def _said(self, event: Event, before: dict[str, Any] | None) -> str | None:
        """What the applicant's bubble shows: the label of the pressed button (on the screen the dialog was
        showing), the typed text, the command."""
        if isinstance(event, Text):
            return html.escape(event.text) if event.text else None
        if isinstance(event, Command):
            return f"/{html.escape(event.name)}"
        if isinstance(event, Press):
            state, _ = load_state(before, self.service.policy)
            if state is not None:
                for row in self.service.flow.prompt(state).keyboard:
                    for b in row:
                        if b.payload == event.data:
                            return html.escape(b.label)
        return None

    @staticmethod
    def _entries(said: str | None, result: TurnResult) -> list[tuple[str, Reply]]:
        entries: list[tuple[str, Reply]] = []
        if said and not result.erased:
            entries.append(("user", Reply(said)))
        replies = list(result.replies)
        if not replies and result.toast:  # a stale button: say so (Telegram shows it as a toast)
            replies = [Reply(result.toast)]
        entries += [("bot", r) for r in replies]
        return entries

    async def start(self, session: str) -> ChatView:
        """A first visit: the dialog begins as /start would begin it on Telegram (once per session)."""
        return await self.turn(session, Command("start"), None, 0, echo=False)

    # ----------------------------------------------------------------------------------------- views
    async def current_rev(self, session: str) -> int | None:
        stored = await self.parts.dialogs.read(DialogKey.web(session))
        rev = stored.get("rev") if stored else None
        return rev if isinstance(rev, int) else None

    async def changed(self, session: str, seen: int) -> bool:
        last, base = await self.parts.chat_log.marks(session)
        return last != seen or 0 < seen <= base

    async def view(self, session: str, seen: int = 0, rev: int | None = None) -> ChatView:
        """The entries after `seen` (all of them when `seen` is 0, or when the transcript was cleared since)."""
        log = self.parts.chat_log
        if rev is None:
            rev = await self.current_rev(session)
        last, base = await log.marks(session)
        reset = 0 < seen <= base  # what the page shows was cleared since: it starts over
        entries = await log.tail(session, last if reset or not seen else last - seen, after=0 if reset else seen)
        shown = [self._shown(e, rev) for e in entries]
        return ChatView(last, rev, shown, new_uuid().hex, reset)

    @staticmethod
    def _shown(entry: LogEntry, rev: int | None) -> ShownEntry:
        links = tuple(row for row in entry.keyboard if all(b.url for b in row))
        buttons = tuple(row for row in entry.keyboard if not all(b.url for b in row))
        current = buttons if buttons and rev is not None and _rev_of(buttons) == rev else ()
        return ShownEntry(entry.seq, entry.who, to_html(entry.text), current, links)


class WebChatHolder:
    """Built on first use (it needs the engine), once per API process; None without Redis."""

    def __init__(self, settings: Settings, storage: Storage, events: EventSink, get_assessor: Any,
                 namespace: str = "asesor") -> None:  # fmt: skip
        self.settings, self.storage, self.events, self.get_assessor = settings, storage, events, get_assessor
        self.namespace = namespace
        self._chat: WebChat | None = None
        self._lock = asyncio.Lock()
        self.redis: Redis | None = None

    @property
    def available(self) -> bool:
        return bool(self.settings.redis_url)

    def _build(self) -> WebChat:
        served = self.get_assessor  # core.model_reload.ServedAssessor: each call on the model in service
        assert self.settings.redis_url
        self.redis = redis_client(self.settings.redis_url)
        parts = conversation_parts(served.policy, self.storage, self.events, self.redis, namespace=self.namespace)
        service = conversation_service(parts, engine=served, courier=parts.mail, settings=self.settings)
        return WebChat(self.settings, parts, service)

    async def get(self) -> WebChat:
        if self._chat is None:
            async with self._lock:  # the engine's first build takes seconds: in a thread, once
                if self._chat is None:
                    self._chat = await asyncio.to_thread(self._build)
        return self._chat

    async def close(self) -> None:
        if self._chat is not None:
            await self._chat.service.settle()
        if self.redis is not None:
            await self.redis.aclose()
