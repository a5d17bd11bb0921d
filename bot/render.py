"""From the dialog's transport-free replies to Telegram calls."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from dialogs.ui import Keyboard, Reply

log = logging.getLogger(__name__)


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


async def deliver(bot: Bot, chat_id: int, replies: list[Reply], *, pressed_message_id: int | None = None) -> int | None:
    """Send the replies in order; a `replace` reply edits the message whose button was pressed (one
    message per step instead of a growing pile of keyboards). Returns the id of the last message shown."""
    last: int | None = None
    editable = pressed_message_id
    for reply in replies:
        if reply.replace and editable is not None:
            try:
                await bot.edit_message_text(
                    text=reply.text, chat_id=chat_id, message_id=editable, reply_markup=markup(reply.keyboard)
                )
                last, editable = editable, None
                continue
            except TelegramBadRequest as exc:  # too old to edit, deleted, or identical: send a new one
                log.debug("edit failed (%s); sending a new message", exc.message)
        sent = await bot.send_message(chat_id=chat_id, text=reply.text, reply_markup=markup(reply.keyboard))
        last = sent.message_id
        editable = None
    return last
