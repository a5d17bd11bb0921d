"""Escalations: open one (stored for the API queue, posted to the advisors' chat with *Tomar* / *Resolver*),
and relay messages between the applicant and the advisor who took it."""

from __future__ import annotations

import hashlib
import html
import logging
from typing import TYPE_CHECKING, Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters

from bot.relay import Route
from dialogs import texts
from dialogs.card import DECISION_LABELS, Evaluation, max_total
from dialogs.parsing import money
from engine.policy import QUESTIONS

if TYPE_CHECKING:
    from bot.app import BotDeps
    from bot.applicant import Turn

log = logging.getLogger(__name__)

REASON_LABELS = {
    "low_score": "puntaje bajo",
    "decision_revisar": "dictamen «revisar»",
    "decision_rechazado": "dictamen «rechazado»",
    "decision_aprobado": "dictamen «aprobado»",
    "applicant_request": "el cliente pidió un asesor",
}
# storage's short reason codes (escalations.reason)
STORED_REASON = {"decision_revisar": "revisar", "decision_rechazado": "rechazado"}

TAKE, RESOLVE = "esc:take", "esc:done"


def card_keyboard(escalation_id: int, status: str) -> InlineKeyboardMarkup | None:
    if status == "resolved":
        return None
    row = []
    if status == "open":
        row.append(InlineKeyboardButton(text="🙋 Tomar", callback_data=f"{TAKE}:{escalation_id}"))
    row.append(InlineKeyboardButton(text="✅ Resolver", callback_data=f"{RESOLVE}:{escalation_id}"))
    return InlineKeyboardMarkup(inline_keyboard=[row])


def status_line(route: Route) -> str:
    if route.status == "claimed":
        return f"Estado: <b>atendido por {html.escape(route.advisor_name or 'un asesor')}</b>"
    if route.status == "resolved":
        return f"Estado: <b>resuelto</b> por {html.escape(route.advisor_name or 'un asesor')}"
    return "Estado: <b>abierto</b> — toca «Tomar» para atenderlo"


def _assessment_lines(deps: BotDeps, evaluation: Evaluation | None, row: Any) -> list[str]:
    policy = deps.policy
    if evaluation is not None:
        r = evaluation.result
        rec, second, band, decision = r.bank_fit.recommended, r.bank_fit.second, r.bank_fit.band, r.expert.decision
        rate, pd, score = r.expert.rate, r.pd.probability, r.credit_score
        total: int | None = r.bank_fit.scores.get(rec)
    elif row is not None:
        rec, second, band, decision = row.recommended_bank, row.second_bank, row.band, row.decision
        rate, pd, score, total = row.rate, row.pd, row.credit_score, None
    else:
        return ["Resultado: aún no calculado"]
    bank = policy.banks.get(rec or "", rec or "—")
    alt = policy.banks.get(second or "", second or "ninguna")
    points = f" {total}/{max_total(policy)}" if total is not None else ""
    rate_txt = f" · tasa {rate:.1f} %" if decision == "aprobado" and rate else ""
    return [
        f"Resultado: <b>{html.escape(bank)}</b> (2ª {html.escape(alt)}) · {html.escape(band or '')}{points}",
        f"Dictamen: {DECISION_LABELS.get(decision, decision)}{rate_txt} · PD {pd * 100:.1f} % · puntaje {score}",
    ]


def escalation_card(turn: Turn, escalation_id: int, reasons: tuple[str, ...], lines: list[str]) -> str:
    state = turn.state
    policy = turn.deps.policy
    why = ", ".join(REASON_LABELS.get(r, r) for r in reasons)
    out = [f"🆘 <b>Caso #{escalation_id}</b> — {html.escape(why)}"]
    if state is not None:
        age = f" · {turn.deps.flow.today().year - state.birth_year} años" if state.birth_year else ""
        out.append(
            f"👤 {html.escape(state.name or 'sin nombre')}{age} · 📞 {html.escape(state.phone or 'sin teléfono')}"
        )
        answers = "; ".join(
            f"{texts.FIELD_NAMES[q]}: {policy.answers[q].get(state.answers[q], state.answers[q])}"
            for q in QUESTIONS
            if q in state.answers
        )
        if answers:
            out.append(html.escape(answers))
        if state.vehicle_price:
            income = f" · ingreso declarado {money(state.income_exact)}" if state.income_exact else ""
            out.append(f"🚗 {money(state.vehicle_price)} a {state.term_months} meses{income}")
    out.extend(lines)
    return "\n".join(out)


def stored_reason(reasons: tuple[str, ...]) -> str:
    """The short reason codes kept in `escalations.reason`."""
    return ",".join(STORED_REASON.get(r, r) for r in reasons)[:64]


async def open_escalation(turn: Turn, reasons: tuple[str, ...], *, evaluation: Evaluation | None = None) -> None:
    """Open the applicant's case (or find the open one) and route it (see `route_escalation`)."""
    deps, state = turn.deps, turn.state
    assert state is not None
    esc, created = await deps.store.create_escalation(
        turn.user_key, reason=stored_reason(reasons), assessment_id=state.assessment_id
    )
    state.escalation_id = str(esc.id)
    await turn.save()
    await route_escalation(turn, esc.id, created, reasons, evaluation=evaluation)


async def route_escalation(
    turn: Turn, escalation_id: int, created: bool, reasons: tuple[str, ...], *, evaluation: Evaluation | None
) -> None:
    """Route a stored case; its card is posted to the advisors' chat in the background, so that the
    applicant's answer does not wait for the advisors' side. The case is in the database (and the API's
    queue) and in the relay board before the update ends: a second tap finds it, and a crash before the card
    is posted loses no case."""
    deps = turn.deps
    if not created:
        existing = await deps.board.get(escalation_id)
        if existing is not None and existing.status != "resolved":
            return  # already posted (a double tap, or the automatic escalation raced the button)
    route = Route(escalation_id, turn.user_key, turn.chat_id, turn.user_id)
    await deps.board.save(route)
    await turn.track("EscalationCreated", {"escalation_id": escalation_id, "reasons": list(reasons)})
    if deps.advisors_chat_id is None:
        log.warning("ADVISORS_CHAT_ID is not set: escalation %s is only in the API queue", escalation_id)
        return
    card = None  # without the evaluation at hand, the background task reads the latest stored assessment
    if evaluation is not None:
        card = escalation_card(turn, escalation_id, reasons, _assessment_lines(deps, evaluation, None))
    deps.spawn(_post_case(turn, deps.advisors_chat_id, route, reasons, card), name=f"post-case-{escalation_id}")


async def _post_case(turn: Turn, chat: int, route: Route, reasons: tuple[str, ...], card: str | None) -> None:
    """The case card in the advisors' chat: a topic of its own in a forum, else a plain message."""
    deps = turn.deps
    if card is None:  # the button before any result: the latest stored assessment, if there is one
        row = await deps.store.latest_assessment(turn.user_key)
        card = escalation_card(turn, route.escalation_id, reasons, _assessment_lines(deps, None, row))
    try:  # a forum chat gets one topic per case; a plain group falls back to replies
        topic = await turn.bot.create_forum_topic(chat, name=f"Caso #{route.escalation_id}")
        route.thread_id = topic.message_thread_id
    except TelegramAPIError:
        route.thread_id = None
    route.card_text = card
    sent = await turn.bot.send_message(
        chat,
        f"{route.card_text}\n{status_line(route)}",
        message_thread_id=route.thread_id,
        reply_markup=card_keyboard(route.escalation_id, "open"),
    )
    route.card_message_id = sent.message_id
    await deps.board.save(route)
    await deps.board.map_message(sent.message_id, route.escalation_id)
    await deps.store.set_escalation_message(route.escalation_id, sent.message_id)


def _where(route: Route) -> dict[str, Any]:
    if route.thread_id is not None:
        return {"message_thread_id": route.thread_id}
    if route.card_message_id is not None:
        return {"reply_parameters": ReplyParameters(message_id=route.card_message_id, allow_sending_without_reply=True)}
    return {}


async def relay_from_applicant(turn: Turn, escalation_id: int, message: Message) -> None:
    deps = turn.deps
    route = await deps.board.get(escalation_id)
    if route is None or deps.advisors_chat_id is None:
        return
    if message.text is not None:
        sent = await turn.bot.send_message(
            deps.advisors_chat_id,
            f"💬 <b>Cliente (caso #{escalation_id}):</b> {html.escape(message.text)}",
            **_where(route),
        )
        message_id = sent.message_id
    else:
        copied = await turn.bot.copy_message(
            deps.advisors_chat_id, from_chat_id=message.chat.id, message_id=message.message_id, **_where(route)
        )
        message_id = copied.message_id
    await deps.board.map_message(message_id, escalation_id)


async def relay_from_advisor(bot: Bot, deps: BotDeps, route: Route, message: Message) -> None:
    if message.text is not None:
        await bot.send_message(route.applicant_chat_id, f"💬 <b>Tu asesor:</b> {html.escape(message.text)}")
    else:
        await bot.copy_message(route.applicant_chat_id, from_chat_id=message.chat.id, message_id=message.message_id)


async def notify_erased(bot: Bot, deps: BotDeps, route: Route) -> None:
    """The applicant deleted their data: close their case in the advisors' chat, without details."""
    if deps.advisors_chat_id is None:
        return
    try:
        if route.card_message_id is not None:
            await bot.edit_message_text(
                text=f"🗑️ Caso #{route.escalation_id}: el cliente borró sus datos; el caso se cerró.",
                chat_id=deps.advisors_chat_id,
                message_id=route.card_message_id,
                reply_markup=None,
            )
        if route.thread_id is not None:
            await bot.close_forum_topic(deps.advisors_chat_id, route.thread_id)
    except TelegramAPIError as exc:
        log.warning("could not close erased case %s in the advisors' chat: %s", route.escalation_id, exc.message)


async def advisor_user_id(deps: BotDeps, telegram_user_id: int, display_name: str) -> int:
    """The advisors' chat is the authorisation: a member who takes a case gets an advisor account (without
    a password, so it cannot log in to the API until an admin sets one)."""
    user = await deps.store.get_user_by_telegram(telegram_user_id)
    if user is None:
        digest = hashlib.sha256(f"advisor:{telegram_user_id}".encode()).hexdigest()[:12]
        try:
            user = await deps.store.create_user(
                f"telegram-{digest}",
                password_hash="!",
                role="advisor",
                display_name=display_name[:100],
                telegram_user_id=telegram_user_id,
            )
        except ValueError:  # created by a concurrent tap
            user = await deps.store.get_user_by_telegram(telegram_user_id)
    return int(user.id)
