"""The conversation service: one applicant turn, whatever the surface (aiogram, python-telegram-bot, the web
chat, the terminal).

    surface update ─► dialog event ─► ConversationService.handle ─► Flow.handle ─► effects through the ports
                                                                          ▲             │ (store, assess, cases,
                                           show_result / result_refused / case_opened ◄─┘  handoff, erase)
    surface ◄─ TurnResult (replies for this conversation, toast) ; Courier ◄─ Say / CaseNotice (background)

The surface holds the conversation's lock while it calls `handle` and renders the result (storage/
dialog_state.py), so turns of one conversation never interleave. The service executes every effect before it
stores the new state: a turn whose effect failed (the database or Redis down) is not applied, and the applicant
gets `texts.TEMPORARY_ERROR` and retries the same step (no step is lost, none is taken twice). Funnel events
and what other conversations are told (the case card for the advisors, a relayed message) go out after the
answer, in the background.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from dialogs import texts
from dialogs.background import Background
from dialogs.card import Engine, Evaluation, evaluate, render_card
from dialogs.cases import CaseDesk, stored_reason
from dialogs.delivery import TELEGRAM, Address, MessageRef, Outgoing
from dialogs.flow import Event, Flow, Media, Outcome, Text
from dialogs.ports import (
    ApplicantStore,
    Courier,
    Funnel,
    FunnelRecord,
    HandoffLink,
    Sealer,
    StateSlot,
    TemporarilyUnavailable,
)
from dialogs.state import DialogState, open_personal, seal_personal
from dialogs.ui import (
    DeletePersonalData,
    Effect,
    Escalate,
    RecordConsent,
    RelayToAdvisor,
    Reply,
    RequestHandoff,
    RunAssessment,
    SaveProfile,
    Track,
)
from engine.pd.registry import ModelUnavailable

log = logging.getLogger(__name__)

# how each surface's assessments are labelled in storage (assessments.channel)
CHANNELS = {TELEGRAM: "bot", "web": "web", "terminal": "terminal"}


@dataclass(frozen=True, slots=True)
class Conversation:
    """Whose turn it is and where they are."""

    address: Address
    user_key: str  # pseudonymous (dialogs.ports.ApplicantStore.user_key)

    @property
    def telegram_chat_id(self) -> int | None:
        return int(self.address.chat) if self.address.surface == TELEGRAM else None

    @property
    def channel(self) -> str:
        return CHANNELS.get(self.address.surface, self.address.surface)


@dataclass
class TurnResult:
    """What the surface renders for the conversation whose turn it was."""

    replies: list[Reply] = field(default_factory=list)
    toast: str | None = None  # a short notice for a pressed button (Telegram's answerCallbackQuery)
    stale: bool = False  # the pressed button belonged to an old message
    unavailable: bool = False  # nothing was applied: a store was down; the replies ask to retry
    erased: bool = False  # the applicant's data was deleted (the surface drops what it keeps of the chat)


@dataclass
class _Turn:
    conv: Conversation
    event: Event
    source: MessageRef | None
    state: DialogState | None
    replies: list[Reply]
    events: list[FunnelRecord] = field(default_factory=list)
    outgoing: list[Outgoing] = field(default_factory=list)
    erased: bool = False


class ConversationService:
    def __init__(
        self,
        flow: Flow,
        *,
        engine: Engine,
        store: ApplicantStore,
        desk: CaseDesk,
        funnel: Funnel,
        sealer: Sealer,
        courier: Courier,
        handoff_link: HandoffLink,
        background: Background | None = None,
    ) -> None:
        self.flow, self.policy = flow, flow.policy
        self.engine, self.store, self.desk, self.funnel = engine, store, desk, funnel
        self.sealer, self.courier, self.handoff_link = sealer, courier, handoff_link
        self.background = background or desk.background

    def user_key(self, surface: str, external_id: int | str) -> str:
        return self.store.user_key(surface, external_id)

    def unavailable(self) -> TurnResult:
        """The answer to a turn that could not be applied (a store down, an unexpected failure)."""
        return TurnResult([Reply(texts.TEMPORARY_ERROR)], toast=texts.TEMPORARY_ERROR[:190], unavailable=True)

    async def handle(
        self, conv: Conversation, event: Event, slot: StateSlot, *, source: MessageRef | None = None
    ) -> TurnResult:
        """One turn. `slot`: the conversation's stored dialog (its lock is held by the caller); `source`: the
        surface's reference to the message (a photo to copy to the advisor)."""
        stored = slot.get()
        raw = open_personal(stored, self.sealer)
        case_id = raw.get("escalation_id") if raw else None
        closed = not await self.desk.is_open(case_id) if case_id else False  # the advisor resolved it meanwhile
        outcome = self.flow.handle(raw, event, case_closed=closed)
        turn = _Turn(conv, event, source, outcome.state, list(outcome.replies))
        try:
            for effect in outcome.effects:
                await self._run(turn, effect)
        except TemporarilyUnavailable as exc:
            log.warning("turn not applied, a store is unavailable: %s", type(exc.__cause__ or exc).__name__)
            return self.unavailable()
        dump = turn.state.dump() if turn.state is not None else None
        if dump != raw:  # a stale tap or /ayuda changes nothing: no write
            slot.set(seal_personal(dump, self.sealer, stored, raw))
        if turn.events:
            self.background.spawn(self.funnel.emit(turn.events), name="emit-events")
        if turn.outgoing:
            self.background.spawn(self.courier.deliver(turn.outgoing), name="deliver")
        return TurnResult(turn.replies, outcome.toast, outcome.stale, erased=turn.erased)

    # -------------------------------------------------------------------------------------- effects
    def _follow(self, turn: _Turn, outcome: Outcome) -> None:
        turn.state = outcome.state
        turn.replies.extend(outcome.replies)

    def _track(self, turn: _Turn, name: str, properties: dict[str, Any], **extra: Any) -> None:
        turn.events.append(
            FunnelRecord(name, turn.conv.user_key, properties, policy_version=self.policy.version, **extra)
        )

    async def _run(self, turn: _Turn, effect: Effect) -> None:
        conv, state = turn.conv, turn.state
        if isinstance(effect, Track):
            step = str(effect.properties["question"]) if "question" in effect.properties else None
            self._track(turn, effect.event, dict(effect.properties), step=step)
        elif isinstance(effect, RecordConsent):
            await self.store.record_consent(
                conv.user_key, telegram_chat_id=conv.telegram_chat_id, notice_version=effect.notice_version
            )
        elif isinstance(effect, SaveProfile):
            await self.store.save_profile(
                conv.user_key,
                telegram_chat_id=conv.telegram_chat_id,
                name=effect.name,
                birth_year=effect.birth_year,
                phone=effect.phone,
            )
        elif isinstance(effect, RunAssessment):
            assert state is not None
            await self._assess(turn, state)
        elif isinstance(effect, RequestHandoff):
            url = None
            if state is not None and state.assessment_id:
                url = self.handoff_link(conv.user_key, state.assessment_id, conv.address.surface)
            turn.replies.append(self.flow.handoff_reply(url))
        elif isinstance(effect, Escalate):
            assert state is not None
            case_id, created = await self.desk.open(conv.user_key, effect.reasons, state.assessment_id)
            self._follow(turn, self.flow.case_opened(state, case_id))
            await self._route(turn, case_id, created, effect.reasons, None)
        elif isinstance(effect, RelayToAdvisor):
            if state is not None and state.escalation_id:
                text = turn.event.text if isinstance(turn.event, Text) else None
                media = turn.event.kind if isinstance(turn.event, Media) else None
                turn.outgoing += await self.desk.relay_from_applicant(state.escalation_id, text, media, turn.source)
        elif isinstance(effect, DeletePersonalData):
            await self._erase(turn)
        else:  # pragma: no cover - a new effect without an executor is a programming error
            raise TypeError(f"no executor for {effect!r}")

    async def _route(
        self, turn: _Turn, case_id: int, created: bool, reasons: tuple[str, ...], evaluation: Evaluation | None
    ) -> None:
        assert turn.state is not None
        out, events = await self.desk.route(
            turn.conv.user_key, turn.conv.address, turn.state, case_id, created, reasons, evaluation
        )
        turn.outgoing += out
        turn.events += events

    async def _assess(self, turn: _Turn, state: DialogState) -> None:
        request = state.to_request()
        try:  # CPU-bound (the assessment and the what-if's verdicts, dialogs/card.py): off the event loop
            evaluation = await asyncio.to_thread(evaluate, self.engine, request, self.policy)
        except ModelUnavailable as exc:  # the model in service is refused (logged where it was loaded): retry later
            raise TemporarilyUnavailable("the model in service cannot serve") from exc
        except ValueError as exc:  # the engine refused an input the dialog let through (e.g. policy changed)
            log.warning("assessment refused: %s", type(exc).__name__)
            self._follow(turn, self.flow.result_refused(state))
            return
        result = evaluation.result
        reasons = tuple(result.escalation_reasons)
        # the automatic case is stored with the assessment: one transaction, one thread hop
        reason = stored_reason(reasons) if result.escalate and not state.escalation_id else None
        saved = await self.store.save_result(
            turn.conv.user_key, request, result, channel=turn.conv.channel, case_reason=reason
        )
        card = render_card(evaluation, self.policy)
        self._follow(
            turn,
            self.flow.show_result(state, card, saved.assessment_id, saved.case_id, auto_case=saved.case_id is not None),
        )
        props = {
            "recommended": result.bank_fit.recommended,
            "second": result.bank_fit.second,
            "band": result.bank_fit.band,
            "low_score": result.bank_fit.low_score,
            "decision": result.expert.decision,
            "assessment_id": saved.assessment_id,
        }
        self._track(turn, "PerfilacionBancariaComplete", props, model_version=result.model_version)
        shown = {"assessment_id": saved.assessment_id, "decision": result.expert.decision}
        self._track(turn, "ResultShown", shown, model_version=result.model_version)
        if saved.case_id is not None:
            await self._route(turn, saved.case_id, saved.case_created, reasons, evaluation)

    async def _erase(self, turn: _Turn) -> None:
        user_key = turn.conv.user_key
        if turn.events:  # this turn's events land before the key is replaced by the tombstone
            await self.funnel.emit(turn.events)
            turn.events = []
        await self.background.settle()  # and the events of earlier turns still on their way
        turn.outgoing += await self.desk.forget(user_key)
        try:  # queued events must land before their key is replaced by the tombstone
            await asyncio.to_thread(self.funnel.flush)
        except Exception as exc:
            log.warning("event flush before erasure failed: %s", type(exc).__name__)
        await self.store.erase_applicant(user_key)
        turn.erased = True

    async def settle(self) -> None:
        await self.background.settle()
