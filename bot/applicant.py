"""The applicant's private chat: Telegram update -> dialog event -> flow -> stored state, replies, effects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, ErrorEvent, Message

from bot import escalation
from bot.app import BotDeps
from bot.render import deliver, markup
from dialogs import texts
from dialogs.card import Evaluation, evaluate, render_card
from dialogs.flow import Command, Event, Media, Outcome, Press, Text
from dialogs.state import SUMMARY, DialogState
from dialogs.ui import (
    Button,
    DeletePersonalData,
    Escalate,
    RecordConsent,
    RelayToAdvisor,
    Reply,
    RequestHandoff,
    RunAssessment,
    SaveProfile,
    Track,
)

if TYPE_CHECKING:
    from engine.types import AssessmentRequest, AssessmentResult
    from storage.repositories import Storage

log = logging.getLogger(__name__)


def make_router() -> Router:
    """A fresh router per dispatcher (an aiogram router can belong to one dispatcher only)."""
    router = Router(name="applicant")
    router.message.filter(F.chat.type == "private")
    router.callback_query.filter(F.message.chat.type == "private")
    router.message.register(on_message)
    router.callback_query.register(on_press)
    return router


STATE_KEY = "dialog"


def to_event(message: Message) -> Event:
    if message.text is not None:
        text = message.text.strip()
        if text.startswith("/"):
            return Command(text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if len(text) > 1 else "")
        return Text(text)
    kind = message.content_type
    return Media(str(kind.value if hasattr(kind, "value") else kind))


@dataclass
class Turn:
    """One handled update: who, where, and the state it produced."""

    bot: Bot
    deps: BotDeps
    fsm: FSMContext
    chat_id: int
    user_id: int
    user_key: str
    message: Message | None
    state: DialogState | None
    last_message_id: int | None = None
    events: list[Any] = field(default_factory=list)  # FunnelEvents of this update, emitted together at its end

    async def save(self) -> None:
        if self.state is None:
            await self.fsm.clear()
        else:
            await self.fsm.set_data({STATE_KEY: self.state.dump()})

    async def track(
        self,
        name: str,
        properties: dict[str, Any] | None = None,
        step: str | None = None,
        model_version: str | None = None,
    ) -> None:
        from storage.events import FunnelEvent

        self.events.append(
            FunnelEvent(
                name=name,  # type: ignore[arg-type]
                user_key=self.user_key,
                step=step,
                properties=properties or {},
                policy_version=self.deps.policy.version,
                model_version=model_version,
            )
        )

    async def emit_events(self) -> None:
        """One outbox write for the update's events (each write is a thread hop and a Redis round trip)."""
        events, self.events = self.events, []
        if events:
            await self.deps.events.aemit_many(events)

    def emit_events_later(self) -> None:
        """The same, after the update's answer: the applicant and the chat lock need not wait for analytics.
        (The events carry their own timestamps, so their order in the outbox does not matter.)"""
        events, self.events = self.events, []
        if events:
            self.deps.spawn(self.deps.events.aemit_many(events), name="emit-events")


async def on_message(message: Message, state: FSMContext, deps: BotDeps, bot: Bot) -> None:
    user_id = message.from_user.id if message.from_user else message.chat.id
    await handle(bot, deps, state, message.chat.id, user_id, to_event(message), message=message)


async def on_press(query: CallbackQuery, state: FSMContext, deps: BotDeps, bot: Bot) -> None:
    assert query.message is not None  # the router filter requires it
    await handle(bot, deps, state, query.message.chat.id, query.from_user.id, Press(query.data or ""), query=query)


async def handle(
    bot: Bot,
    deps: BotDeps,
    fsm: FSMContext,
    chat_id: int,
    user_id: int,
    event: Event,
    *,
    message: Message | None = None,
    query: CallbackQuery | None = None,
) -> None:
    raw = (await fsm.get_data()).get(STATE_KEY)
    if not isinstance(raw, dict):  # absent, or written by something else: start clean rather than crash
        raw = None
    user_key = deps.store.user_key(user_id)
    if raw and raw.get("escalation_id"):
        route = await deps.board.get(raw["escalation_id"])
        if route is None or route.status == "resolved":
            raw = {**raw, "escalation_id": None}
    outcome = deps.flow.handle(raw, event)
    turn = Turn(bot, deps, fsm, chat_id, user_id, user_key, message, outcome.state)
    if (outcome.state.dump() if outcome.state else None) != raw:  # a stale tap or /ayuda changes nothing
        await turn.save()
    pressed = query.message.message_id if query is not None and query.message is not None else None
    shown = deliver(bot, chat_id, outcome.replies, pressed_message_id=pressed)
    try:
        if query is not None:  # the toast and the new screen are independent: one round trip instead of two
            _, turn.last_message_id = await asyncio.gather(_answer(query, outcome), shown)
        else:
            turn.last_message_id = await shown
        for effect in outcome.effects:
            await _run(turn, effect)
    finally:  # what happened before a failure is still counted
        turn.emit_events_later()


async def _answer(query: CallbackQuery, outcome: Outcome) -> None:
    try:
        await query.answer(outcome.toast or None)
    except TelegramAPIError as exc:  # a query older than ~15 min cannot be answered; nothing to do
        log.debug("answerCallbackQuery failed: %s", exc.message)


async def _run(turn: Turn, effect: object) -> None:
    deps = turn.deps
    if isinstance(effect, Track):
        step = str(effect.properties.get("question")) if "question" in effect.properties else None
        await turn.track(effect.event, effect.properties, step)
    elif isinstance(effect, RecordConsent):
        await deps.store.run(_record_consent, turn.user_id, turn.chat_id, effect.notice_version)
    elif isinstance(effect, SaveProfile):
        await deps.store.run(_save_profile, turn.user_id, turn.chat_id, effect)
    elif isinstance(effect, RunAssessment):
        await _assess(turn)
    elif isinstance(effect, RequestHandoff):
        await _handoff(turn)
    elif isinstance(effect, Escalate):
        await escalation.open_escalation(turn, effect.reasons)
    elif isinstance(effect, RelayToAdvisor):
        if turn.message is not None and turn.state is not None and turn.state.escalation_id:
            await escalation.relay_from_applicant(turn, int(turn.state.escalation_id), turn.message)
    elif isinstance(effect, DeletePersonalData):
        await _erase(turn)
    else:  # pragma: no cover - a new effect without an executor is a programming error
        raise TypeError(f"no executor for {effect!r}")


async def _assess(turn: Turn) -> None:
    deps, state = turn.deps, turn.state
    assert state is not None
    request = state.to_request()
    try:
        evaluation: Evaluation = await asyncio.to_thread(evaluate, deps.assess, request, deps.policy)
    except ValueError as exc:  # the engine refused an input the dialog let through (e.g. policy changed)
        log.warning("assessment refused: %s", type(exc).__name__)
        state.step, state.overlay = SUMMARY, None
        state.rev += 1
        await turn.save()
        await deliver(
            turn.bot,
            turn.chat_id,
            [
                Reply("No pude calcular tu resultado con estos datos; revisa tus respuestas, por favor."),
                deps.flow.prompt(state),
            ],
        )
        return
    result = evaluation.result
    reasons = tuple(result.escalation_reasons)
    # the automatic case is stored with the assessment: one transaction, one thread hop
    reason = escalation.stored_reason(reasons) if result.escalate and not state.escalation_id else None
    saved = await deps.store.run(_save_result, turn.user_key, request, result, reason)
    state.assessment_id = saved.assessment_id
    if saved.escalation_id is not None:
        state.escalation_id = str(saved.escalation_id)
    await turn.save()
    card = render_card(evaluation, deps.policy)
    if saved.escalation_id is not None:
        card += "\n\n" + texts.AUTO_ESCALATED
    keyboard = markup(deps.flow.result_keyboard(state))
    shown = False
    if turn.last_message_id is not None:
        try:
            await turn.bot.edit_message_text(
                text=card, chat_id=turn.chat_id, message_id=turn.last_message_id, reply_markup=keyboard
            )
            shown = True
        except TelegramAPIError:
            shown = False
    if not shown:
        await turn.bot.send_message(turn.chat_id, card, reply_markup=keyboard)
    props = {
        "recommended": result.bank_fit.recommended,
        "second": result.bank_fit.second,
        "band": result.bank_fit.band,
        "low_score": result.bank_fit.low_score,
        "decision": result.expert.decision,
        "assessment_id": state.assessment_id,
    }
    await turn.track("PerfilacionBancariaComplete", props, model_version=result.model_version)
    await turn.track(
        "ResultShown",
        {"assessment_id": state.assessment_id, "decision": result.expert.decision},
        model_version=result.model_version,
    )
    if saved.escalation_id is not None:
        await escalation.route_escalation(
            turn, saved.escalation_id, saved.escalation_created, reasons, evaluation=evaluation
        )


# Storage work of one effect, run in one worker thread (`store.run`): one thread hop instead of two.
def _record_consent(store: Storage, user_id: int, chat_id: int, notice_version: str) -> None:
    with store.transaction():  # one write lock and one commit for both
        view = store.upsert_applicant(user_id, chat_id=chat_id)
        store.record_consent(view.user_key, version=notice_version)


def _save_profile(store: Storage, user_id: int, chat_id: int, profile: SaveProfile) -> None:
    with store.transaction():
        view = store.upsert_applicant(user_id, chat_id=chat_id)
        store.save_profile(
            view.user_key, name=profile.name, birth_year=profile.birth_year, phone=profile.phone, complete=True
        )


@dataclass(frozen=True)
class SavedResult:
    assessment_id: str
    escalation_id: int | None = None  # the case opened with it (a low score, an expert «revisar»)
    escalation_created: bool = False  # False: the applicant's open case was found instead


def _save_result(
    store: Storage, user_key: str, request: AssessmentRequest, result: AssessmentResult, escalate: str | None
) -> SavedResult:
    """The assessment, the seed's bank profile and, when `escalate` gives its reason, the case: all or none."""
    with store.transaction():
        assessment_id = str(store.save_assessment(result, user_key=user_key, request=request))
        store.save_bank_profile(
            user_key,
            respuestas=request.answers.model_dump(),
            banco_recomendado=result.bank_fit.recommended,
            banco_segunda_opcion=result.bank_fit.second,
            is_complete=True,
        )
        if escalate is None:
            return SavedResult(assessment_id)
        esc, created = store.create_escalation(user_key, reason=escalate, assessment_id=assessment_id)
        return SavedResult(assessment_id, esc.id, created)


async def _handoff(turn: Turn) -> None:
    state = turn.state
    if state is None or not state.assessment_id:
        await deliver(turn.bot, turn.chat_id, [Reply("Primero necesito calcular tu resultado.")])
        return
    url = turn.deps.handoff_url(turn.user_key, state.assessment_id)
    await deliver(turn.bot, turn.chat_id, [Reply(texts.HANDOFF, ((Button(texts.BTN_OPEN_FORM, url=url),),))])


async def _erase(turn: Turn) -> None:
    deps = turn.deps
    await turn.emit_events()
    await deps.settle()  # events of earlier updates still on their way to the outbox land first
    route = await deps.board.forget_user(turn.user_key)
    if route is not None:
        await escalation.notify_erased(turn.bot, deps, route)
    try:  # queued events must land before their key is replaced by the tombstone
        await asyncio.to_thread(deps.events.flush)
    except Exception as exc:
        log.warning("event flush before erasure failed: %s", type(exc).__name__)
    await deps.store.erase_applicant(turn.user_key)


async def on_error(event: ErrorEvent, bot: Bot) -> bool:
    """Anything that failed (Redis or the database unreachable, a bug): log without personal data and tell
    the applicant to try again rather than leaving them without an answer."""
    update = event.update
    # the exception's text may quote applicant input: log its type only, the traceback at debug level
    log.error("update %s failed: %s", update.update_id, type(event.exception).__name__)
    log.debug("update %s traceback", update.update_id, exc_info=event.exception)
    chat_id = None
    if update.message is not None and update.message.chat.type == "private":
        chat_id = update.message.chat.id
    elif update.callback_query is not None and update.callback_query.message is not None:
        chat_id = update.callback_query.message.chat.id
        with contextlib.suppress(TelegramAPIError):
            await update.callback_query.answer(texts.TEMPORARY_ERROR[:190])
    if chat_id is not None:
        with contextlib.suppress(TelegramAPIError):
            await bot.send_message(chat_id, texts.TEMPORARY_ERROR)
    return True
