"""A local stand-in for the Telegram Bot API, served over real HTTP (aiohttp on 127.0.0.1, random port).

It answers the methods the bot uses the way Telegram does (same JSON envelopes, same 400 descriptions for the
cases that matter: "message is not modified", "message to edit not found", "the chat is not a forum"), keeps
every chat's messages so tests can read what an applicant sees, records every call, and delivers updates by
`getUpdates` long polling. Updates can also be handed to the dispatcher directly (`dp.feed_update`): the bot
still makes all of its calls to this server over HTTP.

`TestUser` plays an applicant or an advisor: it types, sends a photo or a sticker, and presses buttons on
the messages the bot sent it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_ID = 4242001
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Asesor", "username": "asesor_test_bot"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    failed: bool = False  # answered with an injected error (`FakeTelegram.fail`)


@dataclass
class StoredMessage:
    message_id: int
    chat_id: int
    from_bot: bool
    text: str | None
    reply_markup: dict[str, Any] | None = None
    thread_id: int | None = None
    kind: str = "text"
    deleted: bool = False
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def body(self) -> str:
        """The text, for a message that has one (what the bot sends and edits); fails on a photo or sticker."""
        assert self.text is not None, f"message {self.message_id} in chat {self.chat_id} has no text: a {self.kind}"
        return self.text

    def buttons(self) -> list[dict[str, Any]]:
        if not self.reply_markup:
            return []
        return [b for row in self.reply_markup.get("inline_keyboard", []) for b in row]


class TelegramError(Exception):
    def __init__(self, code: int, description: str) -> None:
        self.code, self.description = code, description


# parameters Telegram takes as JSON-encoded strings in form posts
_JSON_PARAMS = {"reply_markup", "reply_parameters", "allowed_updates", "link_preview_options", "entities"}
_INT_PARAMS = {"chat_id", "from_chat_id", "message_id", "message_thread_id", "offset", "limit", "timeout"}


class FakeTelegram:
    def __init__(self, bot_id: int = BOT_ID, *, forum_chats: set[int] | None = None, lenient: bool = False) -> None:
        # lenient: edits of messages this server never sent succeed (the benchmark builds callbacks without
        # reading the server's message ids)
        self.lenient = lenient
        self.bot_id = bot_id
        self.token = f"{bot_id}:TEST-token"
        self.bot_user = {**BOT_USER, "id": bot_id}
        self.calls: list[Call] = []
        self.messages: dict[int, dict[int, StoredMessage]] = {}
        self.forum_chats = forum_chats or set()
        self._ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._threads = itertools.count(500)
        self._queue: list[dict[str, Any]] = []
        self._new_updates = asyncio.Condition()
        self.webhook: str | None = None
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.latency = 0.0  # seconds added to every answer (to model the network)
        # method (lower case) -> how many of its next calls fail, with which code and description
        self.failures: dict[str, list[Any]] = {}

    # ------------------------------------------------------------------------------------------ server
    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append(Call(method, params, time.perf_counter()))
        if self.latency:
            await asyncio.sleep(self.latency)
        failing = self.failures.get(method.lower())
        if failing and failing[0] > 0:  # Telegram having a bad moment: nothing is sent
            failing[0] -= 1
            self.calls[-1].failed = True
            return web.json_response({"ok": False, "error_code": failing[1], "description": failing[2]},
                                     status=failing[1])  # fmt: skip
        handler = getattr(self, "m_" + method.lower(), None)
        if handler is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found: method not found"}, status=404
            )
        try:
            result = await handler(params)
        except TelegramError as exc:
            return web.json_response(
                {"ok": False, "error_code": exc.code, "description": exc.description}, status=exc.code
            )
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if not isinstance(value, str):
                continue  # uploads are not used by the bot
            if key in _JSON_PARAMS:
                params[key] = json.loads(value)
            elif key in _INT_PARAMS and value.lstrip("-").isdigit():
                params[key] = int(value)
            elif value in ("true", "false"):
                params[key] = value == "true"
            else:
                params[key] = value
        return params

    def fail(self, method: str, times: int, code: int = 502, description: str = "Bad Gateway") -> None:
        """The next `times` calls of `method` (e.g. "sendMessage") answer with an error and do nothing."""
        self.failures[method.lower()] = [times, code, description]

    # ----------------------------------------------------------------------------------------- updates
    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates (an id is assigned when missing)."""
        update.setdefault("update_id", next(self._update_ids))
        self._queue.append(update)
        asyncio.get_running_loop().create_task(self._notify())
        return update

    async def _notify(self) -> None:
        async with self._new_updates:
            self._new_updates.notify_all()

    def next_update_id(self) -> int:
        return next(self._update_ids)

    async def m_getupdates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(p.get("offset") or 0)
        timeout = min(float(p.get("timeout") or 0), 2.0)
        # Telegram forgets updates below the offset; a copy pushed with `_redeliver` (a redelivery, as after
        # a lost webhook answer) is handed out once more whatever the offset
        self._queue = [u for u in self._queue if u["update_id"] >= offset or u.get("_redeliver")]
        if not self._queue and timeout:
            async with self._new_updates:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new_updates.wait(), timeout)
            self._queue = [u for u in self._queue if u["update_id"] >= offset or u.get("_redeliver")]
        out = [{k: v for k, v in u.items() if not k.startswith("_")} for u in self._queue]
        self._queue = [u for u in self._queue if not u.get("_redeliver")]
        return out

    # ----------------------------------------------------------------------------------------- methods
    async def m_getme(self, p: dict[str, Any]) -> dict[str, Any]:
        return self.bot_user

    async def m_deletewebhook(self, p: dict[str, Any]) -> bool:
        self.webhook = None
        return True

    async def m_setwebhook(self, p: dict[str, Any]) -> bool:
        self.webhook = p.get("url")
        return True

    async def m_getwebhookinfo(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.webhook or "", "has_custom_certificate": False, "pending_update_count": 0}

    async def m_setmycommands(self, p: dict[str, Any]) -> bool:
        return True

    async def m_answercallbackquery(self, p: dict[str, Any]) -> bool:
        return True

    def _chat(self, chat_id: int) -> dict[str, Any]:
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": f"U{chat_id}"}
        return {"id": chat_id, "type": "supergroup", "title": "Asesores", "is_forum": chat_id in self.forum_chats}

    def store(self, msg: StoredMessage) -> StoredMessage:
        self.messages.setdefault(msg.chat_id, {})[msg.message_id] = msg
        return msg

    def new_message_id(self) -> int:
        return next(self._ids)

    def _as_json(self, m: StoredMessage) -> dict[str, Any]:
        out: dict[str, Any] = {
            "message_id": m.message_id,
            "date": int(time.time()),
            "chat": self._chat(m.chat_id),
            "from": self.bot_user if m.from_bot else m.raw.get("from"),
        }
        if m.text is not None:
            out["text"] = m.text
        if m.reply_markup:
            out["reply_markup"] = m.reply_markup
        if m.thread_id is not None:
            out["message_thread_id"] = m.thread_id
            out["is_topic_message"] = True
        if m.kind == "photo":
            out["photo"] = m.raw.get("photo")
        if m.kind == "sticker":
            out["sticker"] = m.raw.get("sticker")
        return out

    def _get(self, chat_id: int, message_id: int) -> StoredMessage:
        m = self.messages.get(chat_id, {}).get(message_id)
        if m is None and self.lenient:
            m = self.store(StoredMessage(message_id, chat_id, True, None))
        if m is None or m.deleted:
            raise TelegramError(400, "Bad Request: message to edit not found")
        return m

    async def m_sendmessage(self, p: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(p["chat_id"])
        if not str(p.get("text", "")).strip():
            raise TelegramError(400, "Bad Request: message text is empty")
        if len(p["text"]) > 4096:
            raise TelegramError(400, "Bad Request: message is too long")
        thread = p.get("message_thread_id")
        if thread is None and p.get("reply_parameters"):
            reply_to = self.messages.get(chat_id, {}).get(p["reply_parameters"]["message_id"])
            thread = reply_to.thread_id if reply_to else None
        m = self.store(
            StoredMessage(
                self.new_message_id(),
                chat_id,
                True,
                p["text"],
                p.get("reply_markup"),
                thread_id=thread,
                raw={"reply_parameters": p.get("reply_parameters")},
            )
        )
        return self._as_json(m)

    async def m_editmessagetext(self, p: dict[str, Any]) -> dict[str, Any]:
        m = self._get(int(p["chat_id"]), int(p["message_id"]))
        markup = p.get("reply_markup")
        if m.text == p["text"] and m.reply_markup == markup:
            raise TelegramError(400, "Bad Request: message is not modified")
        m.text, m.reply_markup = p["text"], markup
        return self._as_json(m)

    async def m_editmessagereplymarkup(self, p: dict[str, Any]) -> dict[str, Any]:
        m = self._get(int(p["chat_id"]), int(p["message_id"]))
        if m.reply_markup == p.get("reply_markup"):
            raise TelegramError(400, "Bad Request: message is not modified")
        m.reply_markup = p.get("reply_markup")
        return self._as_json(m)

    async def m_deletemessage(self, p: dict[str, Any]) -> bool:
        m = self._get(int(p["chat_id"]), int(p["message_id"]))
        m.deleted = True
        return True

    async def m_copymessage(self, p: dict[str, Any]) -> dict[str, Any]:
        src = self.messages.get(int(p["from_chat_id"]), {}).get(int(p["message_id"]))
        if src is None:
            raise TelegramError(400, "Bad Request: message to copy not found")
        chat_id = int(p["chat_id"])
        thread = p.get("message_thread_id")
        m = self.store(
            StoredMessage(
                self.new_message_id(), chat_id, True, src.text, None, thread_id=thread, kind=src.kind, raw=dict(src.raw)
            )
        )
        return {"message_id": m.message_id}

    async def m_createforumtopic(self, p: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(p["chat_id"])
        if chat_id not in self.forum_chats:
            raise TelegramError(400, "Bad Request: the chat is not a forum")
        return {"message_thread_id": next(self._threads), "name": p["name"], "icon_color": 7322096}

    async def m_closeforumtopic(self, p: dict[str, Any]) -> bool:
        return True

    # ----------------------------------------------------------------------------------------- reading
    def chat(self, chat_id: int) -> list[StoredMessage]:
        return [m for m in self.messages.get(chat_id, {}).values() if not m.deleted]

    def bot_messages(self, chat_id: int) -> list[StoredMessage]:
        return [m for m in self.chat(chat_id) if m.from_bot]

    def last_bot_message(self, chat_id: int) -> StoredMessage:
        msgs = self.bot_messages(chat_id)
        assert msgs, f"the bot sent nothing to chat {chat_id}"
        return msgs[-1]

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]


class TestUser:
    """A person on the other side: builds the updates Telegram would send for their actions."""

    __test__ = False  # not a pytest class

    def __init__(self, tg: FakeTelegram, user_id: int, first_name: str = "Ana", chat_id: int | None = None) -> None:
        self.tg = tg
        self.user_id = user_id
        self.first_name = first_name
        self.chat_id = chat_id if chat_id is not None else user_id
        self._callbacks = itertools.count(1)

    @property
    def user(self) -> dict[str, Any]:
        return {"id": self.user_id, "is_bot": False, "first_name": self.first_name, "language_code": "es"}

    def _message(self, extra: dict[str, Any], kind: str, thread_id: int | None = None) -> dict[str, Any]:
        mid = self.tg.new_message_id()
        body = {
            "message_id": mid,
            "date": int(time.time()),
            "chat": self.tg._chat(self.chat_id),
            "from": self.user,
            **extra,
        }
        if thread_id is not None:
            body["message_thread_id"] = thread_id
            body["is_topic_message"] = True
        self.tg.store(
            StoredMessage(mid, self.chat_id, False, extra.get("text"), thread_id=thread_id, kind=kind, raw=body)
        )
        return {"update_id": self.tg.next_update_id(), "message": body}

    def text(self, text: str, *, thread_id: int | None = None, reply_to: int | None = None) -> dict[str, Any]:
        extra: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            extra["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        if reply_to is not None:
            original = self.tg.messages[self.chat_id][reply_to]
            extra["reply_to_message"] = self.tg._as_json(original)
        return self._message(extra, "text", thread_id)

    def photo(self) -> dict[str, Any]:
        return self._message(
            {"photo": [{"file_id": "AgAD-photo", "file_unique_id": "p1", "width": 90, "height": 90}]}, "photo"
        )

    def sticker(self) -> dict[str, Any]:
        sticker = {
            "file_id": "CAAD-sticker",
            "file_unique_id": "s1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return self._message({"sticker": sticker}, "sticker")

    def find_button(self, label: str, message_id: int | None = None) -> tuple[StoredMessage, dict[str, Any]]:
        """The newest bot message in this chat with a button whose label contains `label`."""
        msgs = self.tg.bot_messages(self.chat_id)
        if message_id is not None:
            msgs = [m for m in msgs if m.message_id == message_id]
        for exact in (True, False):
            for m in reversed(msgs):
                for b in m.buttons():
                    if (b["text"] == label) if exact else (label.lower() in b["text"].lower()):
                        return m, b
        raise AssertionError(f"no button {label!r} in chat {self.chat_id}; last: {msgs[-1].text if msgs else None!r}")

    def press(self, label: str, *, message_id: int | None = None) -> dict[str, Any]:
        m, button = self.find_button(label, message_id)
        assert "callback_data" in button, f"button {label!r} is a link"
        return self.press_data(m, button["callback_data"])

    def press_data(self, m: StoredMessage, data: str) -> dict[str, Any]:
        return {
            "update_id": self.tg.next_update_id(),
            "callback_query": {
                "id": f"{self.user_id}-{next(self._callbacks)}",
                "from": self.user,
                "message": self.tg._as_json(m),
                "chat_instance": str(self.chat_id),
                "data": data,
            },
        }
