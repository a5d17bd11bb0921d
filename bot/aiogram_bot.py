"""aiogram 3 (the default framework): its updates as `bot.telegram.Inbound`, `TelegramApi` over its `Bot`
(a configurable Bot API server, orjson bodies), polling and webhook.

aiogram's router, filters and FSM are not used: every update goes straight from `Dispatcher.feed_update`
(what polling, the webhook handler and the tests call) to the front desk, which holds the conversation's state,
lock and idempotency in Redis the same way for both frameworks (storage/dialog_state.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters, Update

from bot.app import WEBHOOK_PATH, TelegramBot, accepts_secret
from bot.session import JsonAiohttpSession
from bot.telegram import Inbound
from dialogs.ui import Keyboard

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query"]

# aiogram parses every answer with `Response[method.__returning__]`, a pydantic generic model; pydantic keeps
# those in a *weak* cache, so after a garbage collection each is rebuilt (milliseconds each, ~12 % of the
# bot's CPU under load in benchmarks/surfaces.py). Holding them here keeps the cache warm.
_PINNED_RESPONSE_TYPES: list[type] = []


def _pin_response_types() -> None:
    if _PINNED_RESPONSE_TYPES:
        return
    from aiogram import methods
    from aiogram.methods.base import Response

    used = (
        methods.GetMe, methods.GetUpdates, methods.SetWebhook, methods.DeleteWebhook, methods.SetMyCommands,
        methods.SendMessage, methods.EditMessageText, methods.EditMessageReplyMarkup, methods.AnswerCallbackQuery,
        methods.DeleteMessage, methods.CopyMessage, methods.CreateForumTopic, methods.CloseForumTopic,
    )  # fmt: skip
    # a generic parametrised at run time by each method's result type, which no static type can name
    _PINNED_RESPONSE_TYPES.extend(Response[m.__returning__] for m in used)  # type: ignore[name-defined]


def make_bot(token: str, api_url: str | None = None, *, session: AiohttpSession | None = None) -> Bot:
    """A Bot that talks to `api_url` (Telegram's, a self-hosted telegram-bot-api, or the test server)."""
    _pin_response_types()
    if session is None:
        session = JsonAiohttpSession(api=TelegramAPIServer.from_base(api_url)) if api_url else JsonAiohttpSession()
    return Bot(token=token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def markup(keyboard: Keyboard) -> InlineKeyboardMarkup | None:
    if not keyboard:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=b.label, url=b.url)
                if b.url
                else InlineKeyboardButton(text=b.label, callback_data=b.payload)
                for b in row
            ]
            for row in keyboard
        ]
    )


def _reply(reply_to: int | None) -> ReplyParameters | None:
    return ReplyParameters(message_id=reply_to, allow_sending_without_reply=True) if reply_to else None


class AiogramApi:
    """`bot.telegram.TelegramApi` over aiogram's Bot."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(
        self, chat_id: int, text: str, keyboard: Keyboard = (), *, thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> int:  # fmt: skip
        sent = await self.bot.send_message(
            chat_id, text, reply_markup=markup(keyboard), message_thread_id=thread_id, reply_parameters=_reply(reply_to)
        )
        return sent.message_id

    async def edit(self, chat_id: int, message_id: int, text: str, keyboard: Keyboard = ()) -> bool:
        try:
            await self.bot.edit_message_text(
                text=text, chat_id=chat_id, message_id=message_id, reply_markup=markup(keyboard)
            )
        except TelegramBadRequest as exc:  # too old to edit, deleted, or identical
            log.debug("edit failed (%s)", exc.message)
            return False
        return True

    async def answer(self, query_id: str, text: str | None = None, *, alert: bool = False) -> None:
        try:
            await self.bot.answer_callback_query(query_id, text=text or None, show_alert=alert or None)
        except TelegramAPIError as exc:  # a query older than ~15 min cannot be answered; nothing to do
            log.debug("answerCallbackQuery failed: %s", exc.message)

    async def copy(
        self, chat_id: int, from_chat_id: int, message_id: int, *, thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> int:  # fmt: skip
        copied = await self.bot.copy_message(
            chat_id, from_chat_id, message_id, message_thread_id=thread_id, reply_parameters=_reply(reply_to)
        )
        return copied.message_id

    async def create_topic(self, chat_id: int, name: str) -> int | None:
        try:
            return (await self.bot.create_forum_topic(chat_id, name=name)).message_thread_id
        except TelegramAPIError:  # not a forum: the card goes in the chat and advisors reply to it
            return None

    async def close_topic(self, chat_id: int, thread_id: int) -> None:
        with contextlib.suppress(TelegramAPIError):
            await self.bot.close_forum_topic(chat_id, thread_id)


def inbound(update: Update) -> Inbound:
    if update.callback_query is not None:
        q = update.callback_query
        message = q.message
        chat = message.chat if message is not None else None
        return Inbound(
            update.update_id,
            chat_id=chat.id if chat else None,
            private=chat is not None and chat.type == "private",
            user_id=q.from_user.id,
            user_name=q.from_user.full_name,
            query_id=q.id,
            data=q.data or "",
            pressed_message_id=message.message_id if message is not None else None,
        )
    m = update.message
    if m is None:
        return Inbound(update.update_id)
    kind = m.content_type
    return Inbound(
        update.update_id,
        chat_id=m.chat.id,
        private=m.chat.type == "private",
        user_id=m.from_user.id if m.from_user else m.chat.id,
        user_name=m.from_user.full_name if m.from_user else "",
        from_bot=bool(m.from_user and m.from_user.is_bot),
        message_id=m.message_id,
        text=m.text,
        media=None if m.text is not None else str(kind.value if hasattr(kind, "value") else kind),
        thread_id=m.message_thread_id if m.is_topic_message else None,
        reply_to=m.reply_to_message.message_id if m.reply_to_message else None,
    )


class AsesorDispatcher(Dispatcher):
    """Every update to the front desk (bot/telegram.py); polling and the webhook handler call this too."""

    def __init__(self, app: TelegramBot, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app = app

    async def feed_update(self, bot: Bot, update: Update, **kwargs: Any) -> Any:
        await self.app.front.handle(inbound(update))
        return None


async def run_polling(bot: Bot, dp: Dispatcher) -> None:
    await bot.delete_webhook(drop_pending_updates=False)
    await dp.start_polling(bot, handle_signals=True, allowed_updates=ALLOWED_UPDATES)


async def run_webhook(
    bot: Bot,
    dp: Dispatcher,
    *,
    public_url: str,
    secret: str,
    host: str,
    port: int,
    reuse_port: bool = False,
    also_accept: tuple[str, ...] = (),
) -> None:
    """Serve Telegram's webhook; `reuse_port`: other bot processes listen on the same port (`--workers`).
    `secret` is registered with Telegram; `also_accept`: the previous key's secret, still accepted while a
    rotation rolls out (processes still running the old key registered it)."""
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
    from aiohttp import web

    accepted = (secret, *also_accept)

    class Handler(SimpleRequestHandler):
        def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
            return accepts_secret(telegram_secret_token, accepted)

    app = web.Application()
    Handler(dispatcher=dp, bot=bot, secret_token=secret).register(app, path=WEBHOOK_PATH)
    setup_application(app, dp, bot=bot)

    async def on_startup(_: Any) -> None:
        await bot.set_webhook(
            public_url.rstrip("/") + WEBHOOK_PATH, secret_token=secret, allowed_updates=ALLOWED_UPDATES
        )

    app.on_startup.append(on_startup)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
    log.info("webhook listening on %s:%s%s", host, port, WEBHOOK_PATH)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
