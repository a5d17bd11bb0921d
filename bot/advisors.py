"""The advisors' chat: *Tomar* / *Resolver* on a case card, and the advisor's messages to the applicant."""

from __future__ import annotations

import contextlib
import html
import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Message

from bot.app import BotDeps
from bot.escalation import RESOLVE, TAKE, advisor_user_id, card_keyboard, relay_from_advisor, status_line
from bot.relay import Route

log = logging.getLogger(__name__)


def make_router() -> Router:
    """A fresh router per dispatcher: case buttons and advisors' messages, only in the advisors' chat."""
    router = Router(name="advisors")
    router.message.filter(in_advisors_chat)
    router.callback_query.filter(in_advisors_chat)
    router.callback_query.register(on_case_button, F.data.startswith("esc:"))
    router.message.register(on_advisor_message)
    return router


def in_advisors_chat(event: Message | CallbackQuery, deps: BotDeps) -> bool:
    chat = event.chat if isinstance(event, Message) else (event.message.chat if event.message else None)
    return chat is not None and deps.advisors_chat_id is not None and chat.id == deps.advisors_chat_id


TAKEN_NOTICE = "👋 Un asesor tomó tu caso y te escribirá por aquí en breve. Puedes escribirle en este chat."
RESOLVED_NOTICE = (
    "✅ Tu asesor cerró la conversación. Si necesitas algo más, escribe /start y toca «Hablar con un asesor»."
)


async def _refresh_card(bot: Bot, deps: BotDeps, route: Route) -> None:
    if route.card_message_id is None or deps.advisors_chat_id is None:
        return
    try:
        await bot.edit_message_text(
            text=f"{route.card_text or f'Caso #{route.escalation_id}'}\n{status_line(route)}",
            chat_id=deps.advisors_chat_id,
            message_id=route.card_message_id,
            reply_markup=card_keyboard(route.escalation_id, route.status),
        )
    except TelegramAPIError as exc:
        log.warning("could not update the card of case %s: %s", route.escalation_id, exc.message)


async def on_case_button(query: CallbackQuery, deps: BotDeps, bot: Bot) -> None:
    action, _, raw_id = (query.data or "").rpartition(":")
    if not raw_id.isdigit():
        await query.answer("Botón desconocido.")
        return
    route = await deps.board.get(raw_id)
    if route is None:
        await query.answer("Este caso ya no está disponible (resuelto o borrado).", show_alert=True)
        return
    advisor = await advisor_user_id(deps, query.from_user.id, query.from_user.full_name)
    if action == TAKE:
        claimed = await deps.store.claim_escalation(route.escalation_id, advisor)
        if claimed is None:
            await query.answer("Otra persona ya tomó este caso.", show_alert=True)
            return
        route.status, route.advisor_id, route.advisor_name = "claimed", query.from_user.id, query.from_user.full_name
        await deps.board.save(route)
        await query.answer("Caso tomado: escribe en este hilo para hablar con el cliente.")
        await _refresh_card(bot, deps, route)
        await bot.send_message(route.applicant_chat_id, TAKEN_NOTICE)
    elif action == RESOLVE:
        resolved = await deps.store.resolve_escalation(route.escalation_id, advisor, resolution="resuelto en Telegram")
        if resolved is None:
            await query.answer("Solo quien tomó el caso puede resolverlo.", show_alert=True)
            return
        route.advisor_name = route.advisor_name or query.from_user.full_name
        await deps.board.close(route)
        await query.answer("Caso resuelto.")
        await _refresh_card(bot, deps, route)
        if route.thread_id is not None and deps.advisors_chat_id is not None:
            with contextlib.suppress(TelegramAPIError):
                await bot.close_forum_topic(deps.advisors_chat_id, route.thread_id)
        await bot.send_message(route.applicant_chat_id, RESOLVED_NOTICE)
        from storage.events import FunnelEvent

        await deps.events.aemit(
            FunnelEvent(
                name="EscalationResolved",
                user_key=route.user_key,
                properties={"escalation_id": route.escalation_id},
                policy_version=deps.policy.version,
            )
        )
    else:
        await query.answer("Botón desconocido.")


async def on_advisor_message(message: Message, deps: BotDeps, bot: Bot) -> None:
    if message.from_user is None or message.from_user.is_bot or (message.text or "").startswith("/"):
        return
    reply_to = message.reply_to_message.message_id if message.reply_to_message else None
    thread = message.message_thread_id if message.is_topic_message else None
    route = await deps.board.find(thread_id=thread, reply_to=reply_to)
    if route is None or route.status == "resolved":
        return  # advisors talking among themselves
    if route.status != "claimed":
        await message.reply("Toca «Tomar» en la tarjeta del caso antes de escribirle al cliente.")
        return
    if route.advisor_id != message.from_user.id:
        await message.reply(f"Este caso lo atiende {html.escape(route.advisor_name or 'otra persona')}.")
        return
    await relay_from_advisor(bot, deps, route, message)
