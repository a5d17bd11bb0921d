"""python-telegram-bot 22 (`asesor bot --framework ptb`): its updates as `bot.telegram.Inbound`, `TelegramApi`
over its `Bot` (the configurable Bot API URL as PTB's `base_url` / `base_file_url`), polling and webhook.

One `TypeHandler` hands every update to the front desk (bot/telegram.py), which holds the dialog's state,
the chat's lock and the update's idempotency in Redis exactly as under aiogram (storage/dialog_state.py):
PTB's own persistence and per-update ordering are not used, so updates run concurrently
(`concurrent_updates`) and turns of one chat are serialised by the Redis lock, across processes too. The
webhook is a small aiohttp endpoint (aiohttp is already here for aiogram) instead of PTB's Tornado server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import warnings
from typing import Any

from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults, TypeHandler
from telegram.warnings import PTBUserWarning

from bot.app import WEBHOOK_PATH, TelegramBot, accepts_secret
from bot.ptb_request import AiohttpRequest
from bot.telegram import Inbound
from dialogs.ui import Keyboard

log = logging.getLogger(__name__)

_RAW_ENDPOINTS = ("send_message", "edit_message_text")
warnings.filterwarnings(
    "ignore", message=rf"Please use 'Bot\.({'|'.join(_RAW_ENDPOINTS)})' instead", category=PTBUserWarning
)

ALLOWED_UPDATES = ["message", "callback_query"]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# what a message holds when it is not text, in the names aiogram's `content_type` gives them
_CONTENT = ("photo", "sticker", "voice", "video", "video_note", "animation", "audio", "document", "location",
            "contact", "venue", "poll", "dice")  # fmt: skip


# PTB logs every Bot API call's parameters (names, texts, chat ids) at DEBUG and httpx every URL (with the
# bot's token in its path) at INFO: neither may reach the logs, whatever level the process runs at.
QUIET_LOGGERS = ("telegram", "httpx", "httpcore")


def make_application(token: str, api_url: str | None = None) -> Application:
    """An Application whose Bot talks to `api_url` (Telegram's, a self-hosted telegram-bot-api, the tests')."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    base = (api_url or "https://api.telegram.org").rstrip("/")
    # aiohttp rather than PTB's httpx (bot/ptb_request.py: a third of the CPU per update); a pool as large as
    # aiogram's Redis one, since PTB's 1 s pool timeout would fail a turn under a burst; getUpdates' long poll
    # gets its own transport, as PTB's default has
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{base}/bot")
        .base_file_url(f"{base}/file/bot")
        .request(AiohttpRequest(connection_pool_size=256, pool_timeout=10.0))
        .get_updates_request(AiohttpRequest(connection_pool_size=1))
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .concurrent_updates(True)
        .build()
    )


def attach(application: Application, app: TelegramBot) -> None:
    async def every_update(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        await app.front.handle(inbound(update))

    application.add_handler(TypeHandler(Update, every_update))


def markup(keyboard: Keyboard) -> InlineKeyboardMarkup | None:
    if not keyboard:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b.label, url=b.url)
                if b.url
                else InlineKeyboardButton(b.label, callback_data=b.payload)
                for b in row
            ]
            for row in keyboard
        ]
    )


def _reply(reply_to: int | None) -> ReplyParameters | None:
    return ReplyParameters(message_id=reply_to, allow_sending_without_reply=True) if reply_to else None


class PtbApi:
    """`bot.telegram.TelegramApi` over python-telegram-bot's Bot.

    sendMessage and editMessageText go through `Bot.do_api_request`, which returns Telegram's JSON as it came:
    `send_message` / `edit_message_text` turn every answer into a `Message` (Message.de_json), ~14 % of the bot's
    CPU per update (cProfile, benchmarks/surfaces.py --phases cpu), of which the adapter reads one id. PTB warns
    when `do_api_request` names an endpoint it has a method for; that warning is silenced for these two only
    (`_RAW_ENDPOINTS`)."""

    def __init__(self, bot: Any) -> None:
        self.bot = bot

    async def send(
        self, chat_id: int, text: str, keyboard: Keyboard = (), *, thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> int:  # fmt: skip
        params: dict[str, Any] = {"chat_id": chat_id, "text": text, "parse_mode": ParseMode.HTML}
        if keyboard:
            params["reply_markup"] = markup(keyboard)
        if thread_id is not None:
            params["message_thread_id"] = thread_id
        if reply_to:
            params["reply_parameters"] = _reply(reply_to)
        sent = await self.bot.do_api_request("send_message", api_kwargs=params)
        return int(sent["message_id"])

    async def edit(self, chat_id: int, message_id: int, text: str, keyboard: Keyboard = ()) -> bool:
        params: dict[str, Any] = {
            "chat_id": chat_id,
            "message_id": message_id,
            "text": text,
            "parse_mode": ParseMode.HTML,
        }
        if keyboard:
            params["reply_markup"] = markup(keyboard)
        try:
            await self.bot.do_api_request("edit_message_text", api_kwargs=params)
        except BadRequest as exc:  # too old to edit, deleted, or identical
            log.debug("edit failed (%s)", exc.message)
            return False
        return True

    async def answer(self, query_id: str, text: str | None = None, *, alert: bool = False) -> None:
        try:
            await self.bot.answer_callback_query(query_id, text=text or None, show_alert=alert)
        except TelegramError as exc:  # a query older than ~15 min cannot be answered; nothing to do
            log.debug("answerCallbackQuery failed: %s", exc.message)

    async def copy(
        self, chat_id: int, from_chat_id: int, message_id: int, *, thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> int:  # fmt: skip
        copied = await self.bot.copy_message(
            chat_id, from_chat_id, message_id, message_thread_id=thread_id, reply_parameters=_reply(reply_to)
        )
        return int(copied.message_id)

    async def create_topic(self, chat_id: int, name: str) -> int | None:
        try:
            return int((await self.bot.create_forum_topic(chat_id, name)).message_thread_id)
        except TelegramError:  # not a forum: the card goes in the chat and advisors reply to it
            return None

    async def close_topic(self, chat_id: int, thread_id: int) -> None:
        with contextlib.suppress(TelegramError):
            await self.bot.close_forum_topic(chat_id, thread_id)


def inbound(update: Update) -> Inbound:
    q = update.callback_query
    if q is not None:
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
    media = None if m.text is not None else next((k for k in _CONTENT if getattr(m, k, None)), "unknown")
    return Inbound(
        update.update_id,
        chat_id=m.chat.id,
        private=m.chat.type == "private",
        user_id=m.from_user.id if m.from_user else m.chat.id,
        user_name=m.from_user.full_name if m.from_user else "",
        from_bot=bool(m.from_user and m.from_user.is_bot),
        message_id=m.message_id,
        text=m.text,
        media=media,
        thread_id=m.message_thread_id if m.is_topic_message else None,
        reply_to=m.reply_to_message.message_id if m.reply_to_message else None,
    )


def webhook_app(
    application: Application,
    secret: str,
    *,
    path: str = WEBHOOK_PATH,
    background: bool = False,
    also_accept: tuple[str, ...] = (),
) -> web.Application:
    """Telegram's webhook endpoint: checks the secret header (`also_accept`: the previous key's secret during a
    rotation), then handles the update (`background`: answers at once and leaves the update to the
    application's queue, as in production)."""
    accepted = (secret, *also_accept)

    async def receive(request: web.Request) -> web.Response:
        if not accepts_secret(request.headers.get(SECRET_HEADER, ""), accepted):
            return web.json_response({"detail": "Unauthorized"}, status=401)
        try:
            update = Update.de_json(await request.json(), application.bot)
        except ValueError:
            return web.json_response({"detail": "not an update"}, status=400)
        if background:
            await application.update_queue.put(update)
        else:
            await application.process_update(update)
        return web.json_response({})

    app = web.Application()
    app.router.add_post(path, receive)
    return app


async def _until_stopped() -> None:
    """Until SIGINT or SIGTERM (the supervisor, Ctrl-C)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def run_polling(application: Application) -> None:
    assert application.updater is not None
    await application.bot.delete_webhook(drop_pending_updates=False)
    await application.start()
    await application.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
    try:
        await _until_stopped()
    finally:
        await application.updater.stop()
        await application.stop()


async def run_webhook(
    application: Application,
    *,
    public_url: str,
    secret: str,
    host: str,
    port: int,
    reuse_port: bool = False,
    also_accept: tuple[str, ...] = (),
) -> None:
    await application.start()
    app = webhook_app(application, secret, background=True, also_accept=also_accept)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
    await application.bot.set_webhook(
        public_url.rstrip("/") + WEBHOOK_PATH, secret_token=secret, allowed_updates=ALLOWED_UPDATES
    )
    log.info("webhook listening on %s:%s%s", host, port, WEBHOOK_PATH)
    try:
        await _until_stopped()
    finally:
        await runner.cleanup()
        await application.stop()
