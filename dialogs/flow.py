"""The applicant's dialog as a pure state machine: (stored state, event) -> (new state, replies, effects).

No transport and no I/O: the conversation service (dialogs/service.py) loads the stored dict, calls
`Flow.handle`, carries out `outcome.effects` (store consent and profile, emit funnel events, run the assessment,
escalate, delete data), feeds what an effect produced back through `show_result`, `result_refused` or
`case_opened` (the dialog's state changes only here), stores the state and hands the replies to the surface.
Labels of answers and bank names come from the policy; numeric bounds from its [limits].
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from dialogs import parsing, texts
from dialogs.state import (
    BIRTH_YEAR,
    CONSENT,
    INCOME_CHECK,
    INCOME_EXACT,
    NAME,
    ORDER,
    PHONE,
    QUESTION_PREFIX,
    QUESTION_STEPS,
    RESULT,
    RESUME,
    SUMMARY,
    TERM,
    VEHICLE_PRICE,
    DialogState,
    load_state,
    question_step,
)
from dialogs.ui import (
    Button,
    DeletePersonalData,
    Effect,
    Escalate,
    Keyboard,
    RecordConsent,
    RelayToAdvisor,
    Reply,
    RequestHandoff,
    RunAssessment,
    SaveProfile,
    Track,
    parse_payload,
    payload,
)
from engine.policy import QUESTIONS, Policy

# ------------------------------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # without the slash, lower case: "start", "ayuda", …


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Press:
    data: str  # the button's payload


@dataclass(frozen=True, slots=True)
class Media:
    kind: str  # photo, sticker, voice, document, …


Event = Command | Text | Press | Media


@dataclass
class Outcome:
    state: DialogState | None  # None: forget the stored dialog
    replies: list[Reply] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    toast: str | None = None  # short notice for a pressed button (Telegram's answerCallbackQuery)
    stale: bool = False  # the pressed button belonged to an old message


# The one list of commands: what the dialog answers (`_command`), what the web chat accepts after a slash and
# what the bot lists in Telegram's menu, with the menu's description of each.
COMMANDS: dict[str, str] = {
    "start": "Empezar o continuar",
    "reiniciar": "Volver a empezar las preguntas",
    "cancelar": "Terminar la conversación",
    "ayuda": "Cómo funciona",
    "privacidad": "Aviso de privacidad",
    "borrar_mis_datos": "Borrar mis datos personales",
}


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


class Flow:
    def __init__(self, policy: Policy, today: Callable[[], date] = date.today) -> None:
        self.policy = policy
        self.today = today
        self.n_questions = len(QUESTIONS)

    # ------------------------------------------------------------------------------------------ entry
    def handle(self, raw: dict[str, Any] | None, event: Event, *, case_closed: bool = False) -> Outcome:
        """`case_closed`: the case the state points to was resolved or erased (the relay is over)."""
        state, repaired = load_state(raw, self.policy)
        if case_closed and state is not None and state.escalation_id:
            state.escalation_id = None
        if repaired and state is not None and not isinstance(event, Command):
            # the input was meant for a screen this version no longer knows: show where we are instead
            return Outcome(
                state,
                [Reply(texts.STATE_REPAIRED), self.prompt(state)],
                toast=texts.STALE_BUTTON if isinstance(event, Press) else None,
            )
        if isinstance(event, Command):
            outcome = self._command(state, event.name)
        elif state is None:
            outcome = self._no_dialog(event)
        elif isinstance(event, Press):
            outcome = self._press(state, event.data)
        elif isinstance(event, Text):
            outcome = self._text(state, event.text)
        else:
            outcome = self._media(state)
        if repaired and outcome.state is not None:
            outcome.replies.insert(0, Reply(texts.STATE_REPAIRED))
        return outcome

    # ----------------------------------------------------------------------------------------- prompts
    def prompt(self, state: DialogState) -> Reply:
        """The message that asks for the current step (or the resume offer)."""
        rev = state.rev
        back = (Button(texts.BTN_BACK, payload(rev, "back")),)
        if state.overlay == RESUME:
            return Reply(
                texts.RESUME_OFFER.format(where=html.escape(self.describe(state.step))),
                (
                    (Button(texts.BTN_CONTINUE, payload(rev, "cont")),),
                    (Button(texts.BTN_RESTART, payload(rev, "new")),),
                ),
            )
        if state.overlay == INCOME_CHECK:
            return self._income_check_prompt(state)
        step = state.step
        edit_prefix = ""
        if state.editing and step not in (SUMMARY, RESULT):
            edit_prefix = f"<i>Cambiar: {texts.FIELD_NAMES[self._field(step)]}</i>\n"
        if step == CONSENT:
            return Reply(
                texts.WELCOME,
                (
                    (Button(texts.BTN_ACCEPT, payload(rev, "ok")),),
                    (Button(texts.BTN_DECLINE, payload(rev, "no")),),
                    (Button(texts.BTN_NOTICE, payload(rev, "aviso")),),
                ),
            )
        if step == NAME:
            return Reply(edit_prefix + texts.ASK_NAME, (back,))
        if step == BIRTH_YEAR:
            return Reply(edit_prefix + texts.ASK_BIRTH_YEAR, (back,))
        if step == PHONE:
            return Reply(edit_prefix + texts.ASK_PHONE, ((Button(texts.BTN_SKIP_PHONE, payload(rev, "skip")),), back))
        if step.startswith(QUESTION_PREFIX):
            q = step.removeprefix(QUESTION_PREFIX)
            k = QUESTIONS.index(q) + 1
            rows: list[tuple[Button, ...]] = [
                (Button(label, payload(rev, "a", code)),) for code, label in self.policy.answers[q].items()
            ]
            rows.append(back)
            text = f"{edit_prefix}<b>Pregunta {k} de {self.n_questions}</b>\n{texts.QUESTION_PROMPTS[q]}"
            if q in state.answers:
                text += f"\n<i>Tu respuesta actual: {html.escape(self.policy.answers[q][state.answers[q]])}</i>"
            return Reply(text, tuple(rows))
        if step == INCOME_EXACT:
            return Reply(
                edit_prefix + texts.ASK_INCOME_EXACT, ((Button(texts.BTN_SKIP_INCOME, payload(rev, "skip")),), back)
            )
        if step == VEHICLE_PRICE:
            return Reply(edit_prefix + texts.ASK_VEHICLE_PRICE, (back,))
        if step == TERM:
            options = [Button(f"{t} meses", payload(rev, "a", str(t))) for t in self.policy.offered_terms]
            rows = [tuple(options[i : i + 3]) for i in range(0, len(options), 3)]
            rows.append(back)
            return Reply(edit_prefix + texts.ASK_TERM, tuple(rows))
        if step == SUMMARY:
            return self._summary(state)
        return Reply("¿Qué quieres hacer ahora?", self.result_keyboard(state))

    def result_keyboard(self, state: DialogState) -> Keyboard:
        rev = state.rev
        return (
            (Button(texts.BTN_FINANCING, payload(rev, "fin")),),
            (Button(texts.BTN_ADVISOR, payload(rev, "adv")),),
            (Button(texts.BTN_EDIT, payload(rev, "edit")), Button(texts.BTN_RESTART, payload(rev, "new"))),
        )

    def describe(self, step: str) -> str:
        """Where the applicant is, in words (for the resume offer)."""
        if step.startswith(QUESTION_PREFIX):
            k = QUESTIONS.index(step.removeprefix(QUESTION_PREFIX)) + 1
            return f"pregunta {k} de {self.n_questions}"
        if step == SUMMARY:
            return "el resumen de tus respuestas"
        if step == RESULT:
            return "tu resultado"
        if step == CONSENT:
            return "el aviso de privacidad"
        return texts.FIELD_NAMES[self._field(step)].lower()

    @staticmethod
    def _field(step: str) -> str:
        return step.removeprefix(QUESTION_PREFIX)

    def _summary(self, state: DialogState) -> Reply:
        lines = [texts.SUMMARY_TITLE]
        for step, value in self.summary_values(state):
            lines.append(f"• {texts.FIELD_NAMES[self._field(step)]}: {html.escape(value)}")
        lines.append("")
        lines.append(texts.SUMMARY_FOOTER)
        buttons = [
            Button(texts.FIELD_NAMES[self._field(s)], payload(state.rev, "e", s)) for s, _ in self.summary_values(state)
        ]
        rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
        rows.append((Button(texts.BTN_CONFIRM, payload(state.rev, "go")),))
        rows.append((Button(texts.BTN_BACK, payload(state.rev, "back")),))
        return Reply("\n".join(lines), tuple(rows))

    def summary_values(self, state: DialogState) -> list[tuple[str, str]]:
        values: list[tuple[str, str]] = [
            (NAME, state.name or texts.NOT_GIVEN),
            (BIRTH_YEAR, str(state.birth_year) if state.birth_year else texts.NOT_GIVEN),
            (PHONE, state.phone or texts.NOT_GIVEN),
        ]
        for q in QUESTIONS:
            code = state.answers.get(q)
            values.append(
                (question_step(q), self.policy.answers[q].get(code, texts.NOT_GIVEN) if code else texts.NOT_GIVEN)
            )
        values.append(
            (INCOME_EXACT, parsing.money(state.income_exact) if state.income_exact is not None else "prefiero no decir")
        )
        values.append((VEHICLE_PRICE, parsing.money(state.vehicle_price) if state.vehicle_price else texts.NOT_GIVEN))
        values.append((TERM, f"{state.term_months} meses" if state.term_months else texts.NOT_GIVEN))
        return values

    # ---------------------------------------------------------------------------------------- commands
    def _command(self, state: DialogState | None, name: str) -> Outcome:
        if name == "start":
            if state is None:
                fresh = DialogState()
                return Outcome(fresh, [self.prompt(fresh)], [Track("BotStarted")])
            if not state.consent or state.step == CONSENT:
                state.step, state.overlay = CONSENT, None
                state.rev += 1
                return Outcome(state, [self.prompt(state)])
            state.overlay = RESUME
            state.rev += 1
            return Outcome(state, [self.prompt(state)])
        if name == "reiniciar":
            if state is None or not state.consent:
                fresh = DialogState()
                return Outcome(fresh, [self.prompt(fresh)], [] if state else [Track("BotStarted")])
            return self._restart(state)
        if name == "cancelar":
            return Outcome(None, [Reply(texts.CANCELLED)])
        if name == "borrar_mis_datos":
            return Outcome(None, [Reply(texts.DELETED)], [DeletePersonalData()])
        if name in ("ayuda", "privacidad"):
            info = Reply(texts.HELP if name == "ayuda" else texts.PRIVACY)
            if state is None:
                return Outcome(None, [info, Reply(texts.START_HINT)])
            return Outcome(state, [info, self.prompt(state)])
        replies = [Reply(texts.UNKNOWN_COMMAND)]
        if state is not None:
            replies.append(self.prompt(state))
        return Outcome(state, replies)

    def _restart(self, state: DialogState) -> Outcome:
        state.answers = {}
        state.income_exact = state.vehicle_price = state.term_months = None
        state.done = [s for s in state.done if s in (NAME, BIRTH_YEAR, PHONE)]
        state.editing = False
        state.assessment_id = None
        self._goto(state, state.first_missing())
        return Outcome(state, [Reply(texts.RESTARTED), self.prompt(state)])

    # ------------------------------------------------------------------------------------------ events
    def _no_dialog(self, event: Event) -> Outcome:
        if isinstance(event, Press):
            return Outcome(None, [Reply(texts.NO_CONVERSATION)], toast=texts.NO_CONVERSATION, stale=True)
        if isinstance(event, Media):
            return Outcome(None, [Reply(texts.ONLY_TEXT + "\n" + texts.START_HINT)])
        # any text without a dialog starts one: people often say "hola" instead of /start
        return self._command(None, "start")

    def _media(self, state: DialogState) -> Outcome:
        if state.step == RESULT and state.escalation_id and state.overlay is None:
            return Outcome(state, [Reply(texts.RELAYED)], [RelayToAdvisor()])
        return Outcome(state, [Reply(texts.ONLY_TEXT), self.prompt(state)])

    def _goto(self, state: DialogState, step: str) -> None:
        state.step = step
        state.overlay = None
        state.rev += 1

    def _income_conflict(self, state: DialogState) -> bool:
        band = state.answers.get("ingreso_mensual")
        income = state.income_exact
        return band is not None and income is not None and not self.policy.mappings.income_fits_band(income, band)

    def _income_check_prompt(self, state: DialogState) -> Reply:
        m, labels = self.policy.mappings, self.policy.answers["ingreso_mensual"]
        amount = parsing.money(state.income_exact or 0)
        band = html.escape(labels[state.answers["ingreso_mensual"]])
        derived = m.band_for_income(state.income_exact or 0)
        rows: list[tuple[Button, ...]] = []
        if derived is not None:
            label = texts.BTN_INCOME_AMOUNT.format(amount=amount, band=labels[derived])
            rows.append((Button(label, payload(state.rev, "ia")),))
        rows.append(
            (
                Button(
                    texts.BTN_INCOME_BAND.format(band=labels[state.answers["ingreso_mensual"]]),
                    payload(state.rev, "ib"),
                ),
            )
        )
        return Reply(texts.INCOME_CHECK.format(amount=amount, band=band), tuple(rows))

    def _income_checked(self, state: DialogState, action: str) -> Outcome:
        """The applicant said which is right: the amount (the band is re-derived from it) or the band."""
        derived = self.policy.mappings.band_for_income(state.income_exact or 0)
        answered = state.step
        if action == "ia" and derived is not None:
            state.answers["ingreso_mensual"] = derived
            state.overlay = None
            return self._advance(state, answered, [], checked=True)
        if action == "ib":
            state.income_exact = None
            state.done = [s for s in state.done if s != INCOME_EXACT]
            self._goto(state, INCOME_EXACT)
            return Outcome(state, [replace(self.prompt(state))])
        return Outcome(state, toast=texts.STALE_BUTTON, stale=True)

    def _advance(self, state: DialogState, answered: str, effects: list[Effect], checked: bool = False) -> Outcome:
        """After a valid answer: to the summary when editing, else to the next step in order.

        An exact income that contradicts the chosen band (either given second) first asks which is right.
        """
        if (
            not checked
            and answered in (INCOME_EXACT, question_step("ingreso_mensual"))
            and self._income_conflict(state)
        ):
            state.overlay = INCOME_CHECK
            state.rev += 1
            return Outcome(state, [replace(self.prompt(state))], effects)
        first_time = answered not in state.done
        state.mark_done(answered)
        if answered in (NAME, BIRTH_YEAR, PHONE) and PHONE in state.done:
            assert state.name is not None and state.birth_year is not None
            effects.append(SaveProfile(state.name, state.birth_year, state.phone))
            if answered == PHONE and first_time:
                effects.append(Track("ProfileCompleted"))
        if answered.startswith(QUESTION_PREFIX):
            q = answered.removeprefix(QUESTION_PREFIX)
            effects.append(Track("QuestionAnswered", {"step": QUESTIONS.index(q) + 1, "question": q}))
        if state.editing:
            state.editing = False
            self._goto(state, SUMMARY)
        else:
            self._goto(state, ORDER[ORDER.index(answered) + 1])
        return Outcome(state, [replace(self.prompt(state))], effects)

    def _press(self, state: DialogState, data: str) -> Outcome:
        parsed = parse_payload(data)
        if parsed is None or parsed[0] != state.rev:
            return Outcome(state, toast=texts.STALE_BUTTON, stale=True)
        _, action, arg = parsed
        step = state.step
        if state.overlay == RESUME:
            if action == "cont":
                state.overlay = None
                state.rev += 1
                return Outcome(state, [replace(self.prompt(state))])
            if action == "new":
                return self._restart(state)
            return Outcome(state, toast=texts.STALE_BUTTON, stale=True)
        if action == "back":
            return self._back(state)
        if step == CONSENT:
            if action == "ok":
                state.consent = True
                self._goto(state, NAME)  # linear, like "back" and forward elsewhere
                return Outcome(
                    state,
                    [replace(Reply(texts.CONSENT_GIVEN)), self.prompt(state)],
                    [RecordConsent(texts.NOTICE_VERSION), Track("ConsentGiven", {"notice": texts.NOTICE_VERSION})],
                )
            if action == "no":
                return Outcome(None, [replace(Reply(texts.CONSENT_DECLINED))])
            if action == "aviso":
                return Outcome(state, [Reply(texts.PRIVACY), self.prompt(state)])
        if step.startswith(QUESTION_PREFIX) and action == "a":
            q = step.removeprefix(QUESTION_PREFIX)
            if arg in self.policy.answers[q]:
                state.answers[q] = arg
                return self._advance(state, step, [])
        if state.overlay == INCOME_CHECK:
            return self._income_checked(state, action)
        if step == TERM and action == "a" and arg.isdigit() and int(arg) in self.policy.offered_terms:
            state.term_months = int(arg)
            return self._advance(state, step, [])
        if step in (PHONE, INCOME_EXACT) and action == "skip":
            if step == PHONE:
                state.phone = None
            else:
                state.income_exact = None
            return self._advance(state, step, [])
        if step == SUMMARY:
            if action == "e" and arg in (s for s, _ in self.summary_values(state)):
                state.editing = True
                self._goto(state, arg)
                return Outcome(state, [replace(self.prompt(state))])
            if action == "go":
                if not state.complete():
                    state.editing = False
                    self._goto(state, state.first_missing())
                    return Outcome(state, [replace(self.prompt(state))])
                self._goto(state, RESULT)
                return Outcome(state, [], [RunAssessment()])  # the card comes from `show_result`
        if step == RESULT:
            if action == "fin":
                return Outcome(state, [], [RequestHandoff()], toast="Generando tu enlace…")
            if action == "adv":
                if state.escalation_id:
                    return Outcome(state, [Reply(texts.ADVISOR_ALREADY)])
                return Outcome(state, [Reply(texts.ADVISOR_REQUESTED)], [Escalate(("applicant_request",))])
            if action == "edit":
                self._goto(state, SUMMARY)
                return Outcome(state, [self.prompt(state)])
            if action == "new":
                return self._restart(state)
        # a button of the current revision that does not fit the step: built by another flow version
        return Outcome(state, toast=texts.STALE_BUTTON, stale=True)

    # ------------------------------------------------------------------------ what the effects produced
    def show_result(
        self, state: DialogState, card: str, assessment_id: str, case_id: int | None, *, auto_case: bool
    ) -> Outcome:
        """The assessment was stored: the card (replacing the summary whose button was pressed)."""
        state.assessment_id = assessment_id
        if case_id is not None:
            state.escalation_id = str(case_id)
        text = card + ("\n\n" + texts.AUTO_ESCALATED if auto_case else "")
        return Outcome(state, [Reply(text, self.result_keyboard(state), replace=True)])

    def result_refused(self, state: DialogState) -> Outcome:
        """The engine refused what the dialog let through (e.g. the policy changed): back to the summary."""
        self._goto(state, SUMMARY)
        return Outcome(state, [Reply(texts.RESULT_REFUSED), self.prompt(state)])

    def case_opened(self, state: DialogState, case_id: int) -> Outcome:
        state.escalation_id = str(case_id)
        return Outcome(state)

    @staticmethod
    def handoff_reply(url: str | None) -> Reply:
        """The signed link to the web financing form (None: there is no stored result yet)."""
        if url is None:
            return Reply(texts.HANDOFF_NEEDS_RESULT)
        return Reply(texts.HANDOFF, ((Button(texts.BTN_OPEN_FORM, url=url),),))

    def _back(self, state: DialogState) -> Outcome:
        if state.editing:
            state.editing = False
            self._goto(state, SUMMARY)
        elif state.step in (CONSENT, RESULT):
            return Outcome(state, toast=texts.STALE_BUTTON, stale=True)
        else:
            self._goto(state, ORDER[ORDER.index(state.step) - 1])
        return Outcome(state, [replace(self.prompt(state))])

    def _text(self, state: DialogState, text: str) -> Outcome:
        step = state.step
        limits = self.policy.limits
        if state.overlay in (RESUME, INCOME_CHECK):
            return Outcome(state, [Reply(texts.USE_BUTTONS), self.prompt(state)])
        if step in (PHONE, INCOME_EXACT) and _fold(text) in (
            _fold(texts.BTN_SKIP_PHONE),
            _fold(texts.BTN_SKIP_INCOME),
            "no",
        ):  # typed instead of tapped
            return self._press(state, payload(state.rev, "skip"))
        try:
            if step == NAME:
                state.name = parsing.parse_name(text)
            elif step == BIRTH_YEAR:
                state.birth_year = parsing.parse_birth_year(text, self.today().year, limits.age_min, limits.age_max)
            elif step == PHONE:
                state.phone = parsing.parse_phone(text)
            elif step == INCOME_EXACT:
                state.income_exact = parsing.parse_income(text, limits.monthly_income_max)
            elif step == VEHICLE_PRICE:
                state.vehicle_price = parsing.parse_vehicle_price(
                    text, limits.vehicle_price_min, limits.vehicle_price_max
                )
            elif step == RESULT and state.escalation_id:
                return Outcome(state, [Reply(texts.RELAYED)], [RelayToAdvisor()])
            else:
                return self._typed_choice(state, text)
        except parsing.InputError as exc:
            return Outcome(state, [Reply(str(exc)), self.prompt(state)])
        return self._advance(state, step, [])

    def _typed_choice(self, state: DialogState, text: str) -> Outcome:
        """Text where a button is expected: accept an exact option label (or a term), else re-prompt."""
        step = state.step
        wanted = _fold(text)
        if step.startswith(QUESTION_PREFIX):
            q = step.removeprefix(QUESTION_PREFIX)
            for code, label in self.policy.answers[q].items():
                if _fold(label) == wanted:
                    state.answers[q] = code
                    return self._advance(state, step, [])
        if step == TERM:
            digits = wanted.removesuffix("meses").strip()
            if digits.isdigit() and int(digits) in self.policy.offered_terms:
                state.term_months = int(digits)
                return self._advance(state, step, [])
        return Outcome(state, [Reply(texts.USE_BUTTONS), self.prompt(state)])


def replace(reply: Reply) -> Reply:
    """The same reply, allowed to replace the message whose button was pressed."""
    return Reply(reply.text, reply.keyboard, replace=True)


__all__ = ["COMMANDS", "QUESTION_STEPS", "Command", "Event", "Flow", "Media", "Outcome", "Press", "Text"]
