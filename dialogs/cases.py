"""The case desk: escalations from the applicant's side (open, route, relay) and from the advisors' (take,
answer, resolve), whatever surface each one uses.

A case is an escalation row (storage) plus its route (`dialogs.ports.CaseRoute`, in Redis): the applicant's
conversation, the advisor who holds it, and where its card sits in the advisors' Telegram chat. Every change
returns what each side must be told: `Say` for the applicant (on Telegram or in the web chat), `CaseNotice`
for the advisors' side (post or re-render the card, relay a message). The surfaces deliver them; none of them
decides who is told what.

This is the one place that changes a case: issue #14's advisors' page adds its actions (note, reassign, and
take, answer and resolve from the web) here, beside the Telegram ones, and gets the same notices.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from dialogs import texts
from dialogs.background import Background
from dialogs.card import DECISION_LABELS, Evaluation, max_total
from dialogs.delivery import Address, CaseNotice, MessageRef, Outgoing, Say
from dialogs.parsing import money
from dialogs.ports import AssessmentDigest, CaseBoard, CaseRoute, CaseStore, Funnel, FunnelRecord
from dialogs.state import DialogState
from dialogs.ui import Button, Keyboard, Reply
from engine.policy import QUESTIONS, Policy

log = logging.getLogger(__name__)

# storage's short reason codes (escalations.reason)
STORED_REASON = {"decision_revisar": "revisar", "decision_rechazado": "rechazado"}
# the case buttons' payloads, the same on every advisors' surface
TAKE, RESOLVE = "esc:take", "esc:done"


def stored_reason(reasons: tuple[str, ...]) -> str:
    return ",".join(STORED_REASON.get(r, r) for r in reasons)[:64]


def case_keyboard(case_id: int, status: str) -> Keyboard:
    if status == "resolved":
        return ()
    row = [Button(texts.BTN_TAKE, f"{TAKE}:{case_id}")] if status == "open" else []
    row.append(Button(texts.BTN_RESOLVE, f"{RESOLVE}:{case_id}"))
    return (tuple(row),)


def status_line(route: CaseRoute) -> str:
    advisor = html.escape(route.advisor_name or texts.CASE_AN_ADVISOR)
    if route.status == "claimed":
        return texts.CASE_CLAIMED.format(advisor=advisor)
    if route.status == "resolved":
        return texts.CASE_CLOSED.format(advisor=advisor)
    return texts.CASE_OPEN


def _assessment_lines(policy: Policy, evaluation: Evaluation | None, row: AssessmentDigest | None) -> list[str]:
    if evaluation is not None:
        r = evaluation.result
        rec, second, band, decision = r.bank_fit.recommended, r.bank_fit.second, r.bank_fit.band, r.expert.decision
        rate, pd, score = r.expert.rate, r.pd.probability, r.credit_score
        total: int | None = r.bank_fit.scores.get(rec)
    elif row is not None:
        rec, second, band, decision = row.recommended_bank, row.second_bank, row.band, row.decision
        rate, pd, score, total = row.rate, row.pd, row.credit_score, None
    else:
        return [texts.CASE_NO_RESULT]
    bank = policy.banks.get(rec or "", rec or "—")
    alt = policy.banks.get(second or "", second or "ninguna")
    points = f" {total}/{max_total(policy)}" if total is not None else ""
    rate_txt = f" · tasa {rate:.1f} %" if decision == "aprobado" and rate else ""
    return [
        texts.CASE_RESULT.format(bank=html.escape(bank), second=html.escape(alt), band=html.escape(band or ""),
                                 points=points),
        texts.CASE_DECISION.format(decision=DECISION_LABELS.get(decision, decision), rate=rate_txt, pd=pd * 100,
                                   score=score),
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
    """The card advisors see: who, what they answered, the loan, and the assessment (without status line)."""
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


def _card_notice(route: CaseRoute, kind: str = "updated") -> CaseNotice:
    card = route.card or texts.CASE_TITLE.format(case_id=route.case_id)
    return CaseNotice(
        route.case_id,
        kind,
        f"{card}\n{status_line(route)}",
        case_keyboard(route.case_id, route.status),
        close_thread=route.status == "resolved",
        thread_id=route.thread_id,
        card_message_id=route.card_message_id,
    )


@dataclass
class DeskAnswer:
    """What an advisor's action produced: a short answer to the tap (`toast`, an alert when `alert`) or a
    message in the advisors' chat (`reply`), and what the sides of the case are told."""

    toast: str | None = None
    alert: bool = False
    reply: str | None = None
    outgoing: list[Outgoing] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Advisor:
    """A member of the advisors' Telegram chat (#14 adds the advisors' page, where it is a users.id)."""

    telegram_user_id: int
    name: str


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
        created_event = FunnelRecord(
            "EscalationCreated",
            user_key,
            {"escalation_id": case_id, "reasons": list(reasons)},
            policy_version=self.policy.version,
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
        else:
            body = texts.CASE_APPLICANT_FILE.format(case_id=route.case_id, kind=html.escape(media or "archivo"))
        copy = copy_of if text is None else None
        return [CaseNotice(route.case_id, "message", body, copy_of=copy, thread_id=route.thread_id,
                           card_message_id=route.card_message_id)]  # fmt: skip

    async def forget(self, user_key: str) -> list[Outgoing]:
        """The applicant erased their data: drop the routing, close the card without details."""
        route = await self.board.forget_user(user_key)
        if route is None:
            return []
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

    # ---------------------------------------------------------------------------------- advisors' side
    async def press(self, payload: str, advisor: Advisor) -> DeskAnswer:
        """*Tomar* / *Resolver* on a case card."""
        action, _, raw_id = payload.rpartition(":")
        if not raw_id.isdigit() or action not in (TAKE, RESOLVE):
            return DeskAnswer(texts.CASE_UNKNOWN_BUTTON)
        route = await self.board.get(raw_id)
        if route is None:
            return DeskAnswer(texts.CASE_GONE, alert=True)
        advisor_id = await self.store.advisor_for_telegram(advisor.telegram_user_id, advisor.name)
        to_applicant = Address.parse(route.applicant)
        if action == TAKE:
            if not await self.store.claim_case(route.case_id, advisor_id):
                return DeskAnswer(texts.CASE_TAKEN_BY_OTHER, alert=True)
            route.status, route.advisor_id, route.advisor_name = "claimed", advisor_id, advisor.name
            await self.board.save(route)
            return DeskAnswer(
                texts.CASE_YOURS, outgoing=[_card_notice(route), Say(to_applicant, (Reply(texts.CASE_TAKEN),))]
            )
        if not await self.store.resolve_case(route.case_id, advisor_id, resolution=texts.CASE_RESOLUTION_TELEGRAM):
            return DeskAnswer(texts.CASE_ONLY_TAKER_RESOLVES, alert=True)
        route.advisor_name = route.advisor_name or advisor.name
        await self.board.close(route)
        resolved = FunnelRecord(
            "EscalationResolved", route.user_key, {"escalation_id": route.case_id}, policy_version=self.policy.version
        )
        self.background.spawn(self.funnel.emit([resolved]), name=f"case-{route.case_id}-resolved")
        return DeskAnswer(
            texts.CASE_DONE, outgoing=[_card_notice(route), Say(to_applicant, (Reply(texts.CASE_RESOLVED),))]
        )

    async def advisor_writes(
        self, route: CaseRoute | None, advisor: Advisor, text: str | None, copy_of: MessageRef | None
    ) -> DeskAnswer:
        """A message in a case's topic (or a reply to one of its messages): to the applicant, if it is theirs."""
        if route is None or route.status == "resolved":
            return DeskAnswer()  # advisors talking among themselves
        if route.status != "claimed":
            return DeskAnswer(reply=texts.CASE_TAKE_FIRST)
        advisor_id = await self.store.advisor_for_telegram(advisor.telegram_user_id, advisor.name)
        if route.advisor_id != advisor_id:
            return DeskAnswer(
                reply=texts.CASE_HELD_BY.format(advisor=html.escape(route.advisor_name or texts.CASE_OTHER_PERSON))
            )
        to = Address.parse(route.applicant)
        if text is not None:
            say = Say(to, (Reply(texts.ADVISOR_SAYS.format(text=html.escape(text))),))
        else:
            say = Say(to, (Reply(texts.ADVISOR_SENT_FILE),), copy_of=copy_of)
        return DeskAnswer(outgoing=[say])
