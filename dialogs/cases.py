"""The case desk: the one place that changes a case, whatever surface the advisor uses (the advisors'
Telegram chat, the advisors' page `/asesores`, the API `/v1/escalations`), and whatever surface the applicant
uses (Telegram, the web chat).

A case is an escalation row (storage: the truth, `CaseFacts`) plus its route (`dialogs.ports.CaseRoute`, in
Redis): the applicant's conversation, the advisor who holds it, and where its card sits in the advisors'
Telegram chat. Every change is one conditional UPDATE in storage (of two advisors acting at once, on any
surfaces, exactly one wins; the other is told who has it), then the route follows, and the change returns what
each side must be told:

- the applicant: a `Say` carrying the receipt of a stored case message (storage/case_log.py): written before
  it is sent, delivered once, retried when Telegram or Redis fails (dialogs/outbox.py);
- the advisors' Telegram chat: a `CaseNotice` (post the card, re-render it in its current state, relay);
- every advisors' page: `CaseBoard.announce` (Redis pub/sub, so every API worker's open pages hear it).

The surfaces deliver these; none of them decides who is told what. Funnel events (`EscalationCreated`,
`EscalationResolved`) are emitted here only, each with an id derived from the case (`occurrence_id`), so a
retry or a second surface cannot count one twice.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from dialogs import texts
from dialogs.background import Background
from dialogs.card import DECISION_LABELS, Evaluation, max_total, shown_band
from dialogs.case_view import as_result, short_lines
from dialogs.delivery import Address, CaseNotice, MessageRef, Outgoing, Say
from dialogs.parsing import money
from dialogs.ports import (
    AssessmentDigest,
    CaseBoard,
    CaseRoute,
    CaseStore,
    Courier,
    Funnel,
    FunnelRecord,
    occurrence_id,
)
from dialogs.state import DialogState
from dialogs.ui import Button, Keyboard, Reply
from engine.policy import QUESTIONS, Policy
from engine.types import AssessmentResult

log = logging.getLogger(__name__)

# storage's short reason codes (escalations.reason)
STORED_REASON = {"decision_revisar": "revisar", "decision_rechazado": "rechazado"}
# the case buttons' payloads, the same on every advisors' surface
TAKE, RESOLVE, OUTCOME, BACK = "esc:take", "esc:done", "esc:out", "esc:back"
OUTCOMES = tuple(texts.OUTCOME_LABELS)  # storage.models.CASE_OUTCOMES


def stored_reason(reasons: tuple[str, ...]) -> str:
    return ",".join(STORED_REASON.get(r, r) for r in reasons)[:64]


def case_keyboard(case_id: int, status: str) -> Keyboard:
    if status == "resolved":
        return ()
    row = [Button(texts.BTN_TAKE, f"{TAKE}:{case_id}")] if status == "open" else []
    row.append(Button(texts.BTN_RESOLVE, f"{RESOLVE}:{case_id}"))
    return (tuple(row),)


def outcome_keyboard(case_id: int) -> Keyboard:
    """*Resolver* on the card asks how the case ended (the page's select has the same choices)."""
    buttons = [Button(label, f"{OUTCOME}:{case_id}:{code}") for code, label in texts.OUTCOME_LABELS.items()]
    return (tuple(buttons[:2]), tuple(buttons[2:]), (Button(texts.BTN_CASE_BACK, f"{BACK}:{case_id}"),))


def status_line(route: CaseRoute) -> str:
    advisor = html.escape(route.advisor_name or texts.CASE_AN_ADVISOR)
    if route.status == "claimed":
        return texts.CASE_CLAIMED.format(advisor=advisor)
    if route.status == "resolved":
        label = texts.OUTCOME_LABELS.get(route.outcome or "")
        outcome = texts.CASE_OUTCOME.format(outcome=label.lower()) if label else ""
        return texts.CASE_CLOSED.format(advisor=advisor, outcome=outcome)
    return texts.CASE_OPEN


def _assessment_lines(policy: Policy, evaluation: Evaluation | None, row: AssessmentDigest | None) -> list[str]:
    # the live evaluation or the stored digest (its decision a plain str, its rate and result possibly absent)
    rec: str | None
    second: str | None
    band: str | None
    decision: str
    rate: float | None
    result: AssessmentResult | None
    if evaluation is not None:
        r = evaluation.result
        rec, second, decision = r.bank_fit.recommended, r.bank_fit.second, r.expert.decision
        band = shown_band(r.bank_fit)
        rate, pd, score = r.expert.rate, r.pd.probability, r.credit_score
        total: int | None = r.bank_fit.scores.get(rec)
        result = r
    elif row is not None:
        rec, second, band, decision = row.recommended_bank, row.second_bank, row.band, row.decision
        rate, pd, score, total = row.rate, row.pd, row.credit_score, None
        result = as_result(getattr(row, "result", None))
        if result is not None:
            total = result.bank_fit.scores.get(rec or "")
            band = shown_band(result.bank_fit)
    else:
        return [texts.CASE_NO_RESULT]
    bank = policy.banks.get(rec or "", rec or "—")
    alt = policy.banks.get(second or "", second or "ninguna")
    points = f" {total}/{max_total(policy)}" if total is not None else ""
    rate_txt = f" · tasa {rate:.1f} %" if decision == "aprobado" and rate else ""
    if result is not None and band is None:  # the closest bank, not a fit (dialogs/card.py shown_band)
        headline = texts.CASE_RESULT_NO_BANK.format(bank=html.escape(bank), points=points)
    else:
        headline = texts.CASE_RESULT.format(
            bank=html.escape(bank), second=html.escape(alt), band=html.escape(band or ""), points=points
        )
    return [
        headline,
        texts.CASE_DECISION.format(decision=DECISION_LABELS.get(decision, decision), rate=rate_txt, pd=pd * 100,
                                   score=score),
        *short_lines(result, policy),
    ]  # fmt: skip


def case_card(
    policy: Policy,
    year: int,
    case_id: int,
    reasons: tuple[str, ...],
    state: DialogState | None,
    evaluation: Evaluation | None,
    row: AssessmentDigest | None = None,
) -> str:
    """The card advisors see: who, what they answered, the loan, and the assessment with its top rules and
    knock-outs (without status line)."""
    why = ", ".join(texts.CASE_REASONS.get(r, r) for r in reasons)
    out = [texts.CASE_HEADER.format(case_id=case_id, reasons=html.escape(why))]
    if state is not None:
        age = texts.CASE_AGE.format(age=year - state.birth_year) if state.birth_year else ""
        out.append(
            texts.CASE_WHO.format(
                name=html.escape(state.name or texts.CASE_NO_NAME),
                age=age,
                phone=html.escape(state.phone or texts.CASE_NO_PHONE),
            )
        )
        answers = "; ".join(
            f"{texts.FIELD_NAMES[q]}: {policy.answers[q].get(state.answers[q], state.answers[q])}"
            for q in QUESTIONS
            if q in state.answers
        )
        if answers:
            out.append(html.escape(answers))
        if state.vehicle_price:
            income = texts.CASE_INCOME.format(income=money(state.income_exact)) if state.income_exact else ""
            out.append(texts.CASE_LOAN.format(price=money(state.vehicle_price), term=state.term_months, income=income))
    out.extend(_assessment_lines(policy, evaluation, row))
    return "\n".join(out)


def card_text(route: CaseRoute) -> str:
    """The card as it must read now: its body and the status line of the route."""
    card = route.card or texts.CASE_TITLE.format(case_id=route.case_id)
    return f"{card}\n{status_line(route)}"


def _card_notice(route: CaseRoute, kind: str = "updated", keyboard: Keyboard | None = None) -> CaseNotice:
    return CaseNotice(
        route.case_id,
        kind,
        card_text(route),
        case_keyboard(route.case_id, route.status) if keyboard is None else keyboard,
        close_thread=route.status == "resolved",
        thread_id=route.thread_id,
        card_message_id=route.card_message_id,
    )


@dataclass
class DeskAnswer:
    """What an advisor's action produced: a short answer to the tap (`toast`, an alert when `alert`) or a
    message in the advisors' chat (`reply`), what the sides of the case are told, and for the page and the API
    `result`: ok | duplicate | not_found | taken | resolved | not_claimed | not_holder | no_address | invalid."""

    toast: str | None = None
    alert: bool = False
    reply: str | None = None
    outgoing: list[Outgoing] = field(default_factory=list)
    result: str = "ok"
    holder: str | None = None  # who has the case, when someone else does
    message_id: int | None = None  # the stored case message an answer created

    @property
    def ok(self) -> bool:
        return self.result in ("ok", "duplicate")


@dataclass(frozen=True, slots=True)
class Advisor:
    """A member of the advisors' Telegram chat (an account is made for them on first use)."""

    telegram_user_id: int
    name: str


@dataclass(frozen=True, slots=True)
class Staff:
    """A signed-in user of the advisors' page or the API (users.id); an admin may act on anyone's case."""

    user_id: int
    name: str
    admin: bool = False


@dataclass(frozen=True, slots=True)
class _Who:
    id: int
    name: str
    admin: bool


class CaseDesk:
    def __init__(
        self,
        policy: Policy,
        store: CaseStore,
        board: CaseBoard,
        funnel: Funnel,
        background: Background,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.policy, self.store, self.board, self.funnel = policy, store, board, funnel
        self.background, self.today = background, today

    # ------------------------------------------------------------------------------- applicant's side
    async def is_open(self, case_id: int | str) -> bool:
        route = await self.board.get(case_id)
        return route is not None and route.status != "resolved"

    async def open(self, user_key: str, reasons: tuple[str, ...], assessment_id: str | None) -> tuple[int, bool]:
        """Store the applicant's case, or find their open one: (case id, created)."""
        return await self.store.open_case(user_key, reason=stored_reason(reasons), assessment_id=assessment_id)

    async def route(
        self,
        user_key: str,
        applicant: Address,
        state: DialogState,
        case_id: int,
        created: bool,
        reasons: tuple[str, ...],
        evaluation: Evaluation | None,
    ) -> tuple[list[Outgoing], list[FunnelRecord]]:
        """A stored case gets its route (every process sees it before the turn ends: a second tap finds it)
        and its card for the advisors. An open case found again (a double tap, or the automatic case racing
        the button) is already routed."""
        if not created and await self.is_open(case_id):
            return [], []
        row = None if evaluation is not None else await self.store.latest_assessment(user_key)
        card = case_card(self.policy, self.today().year, case_id, reasons, state, evaluation, row)
        route = CaseRoute(case_id, user_key, str(applicant), card=card)
        await self.board.save(route)
        await self.board.announce(case_id, "opened")
        created_event = FunnelRecord(
            "EscalationCreated",
            user_key,
            {"escalation_id": case_id, "reasons": list(reasons)},
            policy_version=self.policy.version,
            id=occurrence_id("EscalationCreated", case_id),
        )
        return [_card_notice(route, "opened")], [created_event]

    async def relay_from_applicant(
        self, case_id: int | str, text: str | None, media: str | None, copy_of: MessageRef | None
    ) -> list[Outgoing]:
        route = await self.board.get(case_id)
        if route is None:
            return []
        if text is not None:
            body = texts.CASE_APPLICANT_SAYS.format(case_id=route.case_id, text=html.escape(text))
            stored = html.escape(text)
        else:
            body = texts.CASE_APPLICANT_FILE.format(case_id=route.case_id, kind=html.escape(media or "archivo"))
            stored = texts.CASE_APPLICANT_FILE_STORED.format(kind=html.escape(media or "archivo"))
        surface = Address.parse(route.applicant).surface
        await self.store.log_message(route.case_id, "applicant", surface=surface, text=stored)
        await self.board.announce(route.case_id, "message")
        copy = copy_of if text is None else None
        return [CaseNotice(route.case_id, "message", body, copy_of=copy, thread_id=route.thread_id,
                           card_message_id=route.card_message_id)]  # fmt: skip

    async def forget(self, user_key: str) -> list[Outgoing]:
        """The applicant erased their data: drop the routing, close the card without details."""
        route = await self.board.forget_user(user_key)
        if route is None:
            return []
        await self.board.announce(route.case_id, "erased")
        text = texts.CASE_ERASED.format(case_id=route.case_id)
        return [CaseNotice(route.case_id, "erased", text, (), close_thread=True, thread_id=route.thread_id,
                           card_message_id=route.card_message_id)]  # fmt: skip

    # --------------------------------------------------------- the advisors' Telegram chat's bookkeeping
    async def placed(self, case_id: int, *, thread_id: int | None, message_id: int) -> None:
        """The card was posted (in its own topic when the chat is a forum)."""
        route = await self.board.get(case_id)
        if route is None:
            return
        route.thread_id, route.card_message_id = thread_id, message_id
        await self.board.save(route)
        await self.board.map_message(message_id, case_id)
        await self.store.set_case_message(case_id, message_id)

    async def posted(self, case_id: int, message_id: int) -> None:
        """Another message about the case was posted there (a reply to it reaches the case)."""
        await self.board.map_message(message_id, case_id)

    async def locate(self, *, thread_id: int | None, reply_to: int | None) -> CaseRoute | None:
        """The case an advisors' chat message is about (its topic, or the message it replies to)."""
        return await self.board.find(thread_id=thread_id, reply_to=reply_to)

    async def current_card(self, case_id: int) -> CaseNotice | None:
        """The card in its current state (a courier re-renders from this, so edits that arrive out of order
        still leave the card as the queue shows it)."""
        route = await self.board.get(case_id)
        return _card_notice(route) if route is not None else None

    # ----------------------------------------------------------------------------------------- advisors
    async def _who(self, actor: Advisor | Staff) -> _Who:
        if isinstance(actor, Staff):
            return _Who(actor.user_id, actor.name, actor.admin)
        user_id = await self.store.advisor_for_telegram(actor.telegram_user_id, actor.name)
        return _Who(user_id, actor.name, False)

    async def _refused(self, case_id: int, who: _Who) -> DeskAnswer:
        """Why an action on a case did not apply, read back after the conditional UPDATE lost."""
        facts = await self.store.case(case_id)
        if facts is None:
            return DeskAnswer(texts.CASE_GONE, alert=True, result="not_found")
        if facts.status == "resolved":
            return DeskAnswer(texts.CASE_GONE, alert=True, result="resolved")
        if facts.status == "claimed" and facts.advisor_id != who.id:
            name = html.escape(facts.advisor_name or texts.CASE_OTHER_PERSON)
            return DeskAnswer(texts.CASE_TAKEN_BY_OTHER.format(advisor=name), alert=True, result="taken",
                              holder=facts.advisor_name)  # fmt: skip
        if facts.status == "open":
            return DeskAnswer(texts.CASE_TAKE_FIRST_PAGE, alert=True, result="not_claimed")
        return DeskAnswer(texts.CASE_ALREADY_YOURS, result="ok")

    async def _tell(
        self,
        case_id: int,
        to: str | None,
        author: str,
        text: str,
        *,
        author_id: int | None = None,
        copy_of: MessageRef | None = None,
        key: str | None = None,
    ) -> tuple[Say | None, int | None, bool]:
        """A message to the applicant, stored first (the outbox), then handed over as a tracked `Say`."""
        if to is None:
            return None, None, False
        address = Address.parse(to)
        copy = {"a": str(copy_of.address), "m": copy_of.message_id} if copy_of else None
        message_id, created = await self.store.log_message(
            case_id, author, surface=address.surface, text=text, to=to, copy=copy, author_id=author_id, key=key
        )
        if not created:
            return None, message_id, False
        return Say(address, (Reply(text),), copy_of=copy_of, receipt=message_id), message_id, True

    async def _applicant(self, case_id: int, route: CaseRoute | None) -> str | None:
        if route is not None:
            return route.applicant
        facts = await self.store.case(case_id)
        return await self.store.applicant_address(facts.user_key) if facts is not None else None

    async def take(self, case_id: int, actor: Advisor | Staff) -> DeskAnswer:
        """*Tomar*: exactly one claimer wins; the card shows who, the applicant is told."""
        who = await self._who(actor)
        if not await self.store.claim_case(case_id, who.id):
            return await self._refused(case_id, who)
        return await self._taken(case_id, who)

    async def take_next(self, actor: Advisor | Staff) -> tuple[int | None, DeskAnswer]:
        """The oldest open case (a work queue for several advisors at once): (its id, the answer), or
        (None, …) when no case is open."""
        who = await self._who(actor)
        case_id = await self.store.claim_next_case(who.id)
        if case_id is None:
            return None, DeskAnswer(result="not_found")
        return case_id, await self._taken(case_id, who)

    async def _taken(self, case_id: int, who: _Who) -> DeskAnswer:
        route = await self.board.get(case_id)
        out: list[Outgoing] = []
        if route is not None:
            route.status, route.advisor_id, route.advisor_name = "claimed", who.id, who.name
            await self.board.save(route)
            out.append(_card_notice(route))
        say, _, _ = await self._tell(case_id, await self._applicant(case_id, route), "system", texts.CASE_TAKEN)
        out += [say] if say else []
        await self.board.announce(case_id, "claimed")
        return DeskAnswer(texts.CASE_YOURS, outgoing=out)

    async def answer(
        self,
        case_id: int,
        actor: Advisor | Staff,
        text: str | None,
        *,
        copy_of: MessageRef | None = None,
        key: str | None = None,
        echo: bool = True,
    ) -> DeskAnswer:
        """An advisor writes to the applicant (only the case's holder). `key` makes a retry one message. Like a
        note, it is also posted in the case's topic, so the advisors' chat reads the whole conversation
        (`echo=False` when it was written there)."""
        who = await self._who(actor)
        facts = await self.store.case(case_id)
        if facts is None:
            return DeskAnswer(reply=texts.CASE_GONE, result="not_found")
        if facts.status == "resolved":
            return DeskAnswer(reply=texts.CASE_ALREADY_RESOLVED, result="resolved")
        if facts.status != "claimed":
            return DeskAnswer(reply=texts.CASE_TAKE_FIRST, result="not_claimed")
        if facts.advisor_id != who.id:
            name = html.escape(facts.advisor_name or texts.CASE_OTHER_PERSON)
            return DeskAnswer(reply=texts.CASE_HELD_BY.format(advisor=name), result="not_holder",
                              holder=facts.advisor_name)  # fmt: skip
        route = await self.board.get(case_id)
        to = await self._applicant(case_id, route)
        body = texts.ADVISOR_SAYS.format(text=html.escape(text)) if text is not None else texts.ADVISOR_SENT_FILE
        say, message_id, created = await self._tell(case_id, to, "advisor", body, author_id=who.id,
                                                    copy_of=None if text is not None else copy_of, key=key)  # fmt: skip
        if message_id is None:
            return DeskAnswer(reply=texts.CASE_NO_ADDRESS, result="no_address")
        if not created:
            return DeskAnswer(result="duplicate", message_id=message_id)
        await self.store.mark_first_answer(case_id)
        await self.board.announce(case_id, "message")
        out: list[Outgoing] = [say] if say else []
        if echo and route is not None and text is not None:  # after the applicant's: theirs goes first
            said = texts.CASE_ADVISOR_SAID.format(advisor=html.escape(who.name), case_id=case_id,
                                                  text=html.escape(text))  # fmt: skip
            out.append(CaseNotice(case_id, "message", said, thread_id=route.thread_id,
                                  card_message_id=route.card_message_id))  # fmt: skip
        return DeskAnswer(texts.CASE_ANSWER_SENT, outgoing=out, message_id=message_id)

    async def note(self, case_id: int, actor: Advisor | Staff, body: str, *, echo: bool = True) -> DeskAnswer:
        """An internal note (never sent to the applicant); posted in the case's topic so the Telegram chat
        has it too (`echo=False` when it was written there)."""
        who = await self._who(actor)
        if not await self.store.add_note(case_id, body, who.id):
            return DeskAnswer(texts.CASE_GONE, alert=True, result="not_found")
        await self.board.announce(case_id, "note")
        route = await self.board.get(case_id)
        out: list[Outgoing] = []
        if echo and route is not None:
            text = texts.CASE_NOTE.format(advisor=html.escape(who.name), case_id=case_id, text=html.escape(body))
            out.append(CaseNotice(case_id, "message", text, thread_id=route.thread_id,
                                  card_message_id=route.card_message_id))  # fmt: skip
        return DeskAnswer(texts.CASE_NOTE_SAVED, outgoing=out)

    async def reassign(self, case_id: int, actor: Advisor | Staff, to_user_id: int) -> DeskAnswer:
        """Hand a claimed case to another advisor: its holder may, or an admin."""
        who = await self._who(actor)
        name = await self.store.advisor_name(to_user_id)
        if name is None:
            return DeskAnswer(texts.CASE_CANNOT_REASSIGN, alert=True, result="invalid")
        if not await self.store.reassign_case(case_id, None if who.admin else who.id, to_user_id):
            refused = await self._refused(case_id, who)
            if refused.result == "ok":  # it is the actor's, so the UPDATE lost for another reason
                refused = DeskAnswer(texts.CASE_CANNOT_REASSIGN, alert=True, result="not_holder")
            return refused
        route = await self.board.get(case_id)
        out: list[Outgoing] = []
        if route is not None:
            route.advisor_id, route.advisor_name = to_user_id, name
            await self.board.save(route)
            out.append(_card_notice(route))
        await self.board.announce(case_id, "reassigned")
        return DeskAnswer(texts.CASE_REASSIGNED.format(advisor=html.escape(name)), outgoing=out)

    async def resolve(
        self, case_id: int, actor: Advisor | Staff, outcome: str, *, note: str | None = None
    ) -> DeskAnswer:
        """*Resolver* with how it ended: only the holder (or an admin); the card closes, the applicant is
        told, `EscalationResolved` is emitted once."""
        if outcome not in OUTCOMES:
            return DeskAnswer(texts.CASE_UNKNOWN_BUTTON, alert=True, result="invalid")
        who = await self._who(actor)
        facts = await self.store.case(case_id)
        if facts is None:
            return DeskAnswer(texts.CASE_GONE, alert=True, result="not_found")
        if facts.status == "claimed" and facts.advisor_id != who.id and not who.admin:
            return DeskAnswer(texts.CASE_ONLY_TAKER_RESOLVES, alert=True, result="not_holder",
                              holder=facts.advisor_name)  # fmt: skip
        if not await self.store.resolve_case(case_id, who.id, outcome=outcome, resolution=note, force=who.admin):
            return await self._refused(case_id, who)
        route = await self.board.get(case_id)
        to = await self._applicant(case_id, route)
        out: list[Outgoing] = []
        if note and route is not None:  # the closing note, in the topic before it closes (the page shows it too)
            text = texts.CASE_CLOSING_NOTE.format(
                advisor=html.escape(who.name), case_id=case_id, text=html.escape(note)
            )
            out.append(CaseNotice(case_id, "message", text, thread_id=route.thread_id,
                                  card_message_id=route.card_message_id))  # fmt: skip
        if route is not None:
            route.advisor_name = facts.advisor_name if facts.status == "claimed" else who.name
            route.advisor_name = route.advisor_name or who.name
            route.outcome = outcome
            await self.board.close(route)
            out.append(_card_notice(route))
        say, _, _ = await self._tell(case_id, to, "system", texts.CASE_RESOLVED)
        out += [say] if say else []
        resolved = FunnelRecord(
            "EscalationResolved",
            facts.user_key,
            {"escalation_id": case_id, "reason": facts.reason, "outcome": outcome},
            policy_version=self.policy.version,
            id=occurrence_id("EscalationResolved", case_id),
        )
        await self.funnel.emit([resolved])  # the outbox append, never blocking on the events table
        await self.board.announce(case_id, "resolved")
        return DeskAnswer(texts.CASE_DONE, outgoing=out)

    # ------------------------------------------------------------------------ the Telegram card's buttons
    async def press(self, payload: str, advisor: Advisor) -> DeskAnswer:
        """*Tomar*, *Resolver* (then one of the outcomes, or *Volver*) on a case card."""
        head, _, rest = payload.partition(":")
        action, _, rest = rest.partition(":")
        raw_id, _, outcome = rest.partition(":")
        kind = f"{head}:{action}"
        if not raw_id.isdigit() or kind not in (TAKE, RESOLVE, OUTCOME, BACK):
            return DeskAnswer(texts.CASE_UNKNOWN_BUTTON)
        case_id = int(raw_id)
        if kind == TAKE:
            return await self.take(case_id, advisor)
        if kind == OUTCOME:
            return await self.resolve(case_id, advisor, outcome)
        route = await self.board.get(case_id)
        if route is None or route.status == "resolved":
            return DeskAnswer(texts.CASE_GONE, alert=True, result="resolved")
        if kind == BACK:
            return DeskAnswer(outgoing=[_card_notice(route)])
        who = await self._who(advisor)
        facts = await self.store.case(case_id)
        if facts is None or facts.status == "resolved":
            return DeskAnswer(texts.CASE_GONE, alert=True, result="resolved")
        if facts.status == "claimed" and facts.advisor_id != who.id:
            return DeskAnswer(texts.CASE_ONLY_TAKER_RESOLVES, alert=True, result="not_holder")
        choose = _card_notice(route, "choose", outcome_keyboard(case_id))
        return DeskAnswer(texts.CASE_CHOOSE_OUTCOME, outgoing=[choose])

    async def advisor_writes(
        self, route: CaseRoute | None, advisor: Advisor, text: str | None, copy_of: MessageRef | None,
        *, key: str | None = None,
    ) -> DeskAnswer:  # fmt: skip
        """A message in a case's topic (or a reply to one of its messages): to the applicant, if it is theirs."""
        if route is None or route.status == "resolved":
            return DeskAnswer()  # advisors talking among themselves
        answer = await self.answer(route.case_id, advisor, text, copy_of=copy_of, key=key, echo=False)
        if answer.result in ("ok", "duplicate"):
            answer.toast = None  # on Telegram the message itself is the confirmation
        return answer

    # --------------------------------------------------------------------------- the outbox (receipts)
    async def sending(self, receipt: int) -> bool:
        return await self.store.take_message(receipt)

    async def delivered(self, receipt: int) -> None:
        case_id = await self.store.message_delivered(receipt)
        if case_id is not None:
            await self.board.announce(case_id, "delivery")

    async def failed(self, receipt: int, error: str) -> None:
        case_id, _state = await self.store.message_failed(receipt, error)
        if case_id is not None:
            await self.board.announce(case_id, "delivery")

    async def redeliver(self, courier: Courier, surfaces: tuple[str, ...]) -> int:
        """One pass of the retry sweep: the stored messages to applicants on `surfaces` that are due (a
        failed try whose back-off is over, one nobody took, a sender that died) go to `courier` again; the
        courier takes each before sending, so a message another sender has is skipped."""
        items: list[Outgoing] = []
        for message_id in await self.store.due_messages(surfaces):
            queued = await self.store.peek_message(message_id)
            if queued is None or not queued.to:
                continue
            copy = MessageRef(Address.parse(queued.copy["a"]), int(queued.copy["m"])) if queued.copy else None
            items.append(Say(Address.parse(queued.to), (Reply(queued.text),), copy_of=copy, receipt=queued.id))
        if items:
            await courier.deliver(items)
        return len(items)

    async def serve_outbox(self, courier: Courier, surfaces: tuple[str, ...], interval: float = 1.0) -> None:
        """The retry sweep, until cancelled (a bot process runs it beside its updates, the API for the web)."""
        while True:
            try:
                await self.redeliver(courier, surfaces)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database or Redis restarting: try again on the next pass
                log.warning("case outbox sweep failed: %s", type(exc).__name__)
            await asyncio.sleep(interval)
