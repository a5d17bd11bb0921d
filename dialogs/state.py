"""The dialog's state: one JSON-only dict kept in the FSM storage, versioned.

Everything in it is a str, int, float, bool, list or None, because aiogram's RedisStorage round-trips data
through JSON (dates, Decimals or models would come back as something else). `v` is the version of this shape;
a deploy that renames a step or a field adds a migration from the previous version, and anything a migration
cannot place (an unknown step, a newer version rolled back, an answer code the current policy no longer has) is
repaired: the valid parts are kept and the dialog continues from the first missing item, never stranded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.policy import QUESTIONS, Policy
from engine.types import AssessmentRequest

if TYPE_CHECKING:
    from dialogs.ports import Sealer

DIALOG_VERSION = 1

CONSENT = "consent"
NAME = "name"
BIRTH_YEAR = "birth_year"
PHONE = "phone"
INCOME_EXACT = "income_exact"
VEHICLE_PRICE = "vehicle_price"
TERM = "term"
SUMMARY = "summary"
RESULT = "result"
QUESTION_PREFIX = "q:"


def question_step(question: str) -> str:
    return QUESTION_PREFIX + question


PROFILE_STEPS: tuple[str, ...] = (NAME, BIRTH_YEAR, PHONE)
QUESTION_STEPS: tuple[str, ...] = tuple(question_step(q) for q in QUESTIONS)
LOAN_STEPS: tuple[str, ...] = (INCOME_EXACT, VEHICLE_PRICE, TERM)
# The linear order; "back" walks it in reverse and resume/repair look for the first step not done.
ORDER: tuple[str, ...] = (CONSENT, *PROFILE_STEPS, *QUESTION_STEPS, *LOAN_STEPS, SUMMARY, RESULT)
INPUT_STEPS: tuple[str, ...] = ORDER[1 : ORDER.index(SUMMARY)]  # the steps that hold an answer

RESUME = "resume"  # overlay: /start in the middle of a dialog
INCOME_CHECK = "income_check"  # overlay: the exact income given does not fit the chosen band
OVERLAYS = (None, RESUME, INCOME_CHECK)


class DialogState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: int = DIALOG_VERSION
    step: str = CONSENT
    # bumped on every change of what the current prompt shows; buttons carry it, so old ones are detectable
    rev: int = 0
    overlay: str | None = None
    editing: bool = False  # came from the summary: the next answer returns there
    consent: bool = False
    done: list[str] = Field(default_factory=list)  # input steps answered (an optional one may be skipped)
    name: str | None = None
    birth_year: int | None = None
    phone: str | None = None
    answers: dict[str, str] = Field(default_factory=dict)
    income_exact: float | None = None
    vehicle_price: float | None = None
    term_months: int | None = None
    assessment_id: str | None = None
    escalation_id: str | None = None

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def mark_done(self, step: str) -> None:
        if step not in self.done:
            self.done.append(step)

    def first_missing(self) -> str:
        if not self.consent:
            return CONSENT
        for step in INPUT_STEPS:
            if step not in self.done:
                return step
        return SUMMARY

    def complete(self) -> bool:
        return self.consent and all(step in self.done for step in INPUT_STEPS)

    def to_request(self) -> AssessmentRequest:
        if not self.complete():
            raise ValueError(f"the dialog is not complete: {self.first_missing()} is missing")
        return AssessmentRequest.model_validate(
            {
                "answers": dict(self.answers),
                "loan": {"vehicle_price": self.vehicle_price, "term_months": self.term_months},
                "applicant": {"birth_year": self.birth_year, "monthly_income": self.income_exact},
            }
        )


# Migrations from version k to k+1 (dict in, dict out). Add one with each change of the state's shape, e.g.
#   MIGRATIONS[1] = lambda d: {**d, "v": 2, "step": {"q:enganche": "q:enganche_pct"}.get(d["step"], d["step"])}
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def _steps_valid(state: DialogState, policy: Policy) -> bool:
    known = set(ORDER)
    if state.step not in known or state.overlay not in OVERLAYS:
        return False
    if any(s not in INPUT_STEPS for s in state.done):
        return False
    return all(q in policy.answers and code in policy.answers[q] for q, code in state.answers.items())


def load_state(raw: dict[str, Any] | None, policy: Policy) -> tuple[DialogState | None, bool]:
    """(state, repaired). None when there is no dialog; repaired=True when it had to be rebuilt."""
    if not raw:
        return None, False
    data = dict(raw)
    version = data.get("v")
    while isinstance(version, int) and version < DIALOG_VERSION and version in MIGRATIONS:
        data = MIGRATIONS[version](data)
        version = data.get("v")
    if version == DIALOG_VERSION:
        try:
            state = DialogState.model_validate(data)
        except ValidationError:
            state = None
        if state is not None and _steps_valid(state, policy):
            return state, False
    return repair(data, policy), True


def repair(data: dict[str, Any], policy: Policy) -> DialogState | None:
    """Keep what is still valid in a state of another version or shape; continue at the first gap."""
    state = DialogState(consent=data.get("consent") is True)
    if not state.consent:
        return None  # nothing was consented to, so nothing is worth keeping
    for key in ("name", "birth_year", "phone", "income_exact", "vehicle_price", "term_months"):
        try:
            setattr(state, key, getattr(DialogState.model_validate({key: data.get(key)}), key))
        except ValidationError:
            continue
    answers = data.get("answers")
    answers = answers if isinstance(answers, dict) else {}
    state.answers = {
        q: code for q, code in answers.items() if q in policy.answers and code in policy.answers.get(q, {})
    }
    done = [s for s in data.get("done", []) if isinstance(s, str) and s in INPUT_STEPS]
    # an input step counts as done only if its value survived (optional ones may be legitimately empty)
    values = {
        "name": state.name,
        "birth_year": state.birth_year,
        "vehicle_price": state.vehicle_price,
        "term": state.term_months,
    }
    for step in done:
        if step.startswith(QUESTION_PREFIX):
            if step.removeprefix(QUESTION_PREFIX) in state.answers:
                state.mark_done(step)
        elif step in values:
            if values[step] is not None:
                state.mark_done(step)
        else:  # phone, income_exact: optional
            state.mark_done(step)
    for key in ("assessment_id", "escalation_id"):
        if isinstance(data.get(key), str):
            setattr(state, key, data[key])
    state.step = state.first_missing()
    state.rev = data.get("rev", 0) + 1 if isinstance(data.get("rev"), int) else 1
    return state


# ------------------------------------------------------------------------------- personal data in flight
# Name and phone are kept encrypted in the stored dialog (the database's Fernet keys, dialogs.ports.Sealer):
# the state store (Redis) never holds them readable. A sealed value is "enc:<token>"; a plain one (a dialog
# stored before sealing existed) is read as is and sealed when the dialog is next written.
PERSONAL_FIELDS: tuple[str, ...] = ("name", "phone")
SEALED = "enc:"


def open_personal(raw: dict[str, Any] | None, sealer: Sealer) -> dict[str, Any] | None:
    """The stored dialog with its personal fields readable. A field no configured key opens (the key was
    rotated away) is dropped and its step asked again, rather than stranding the dialog."""
    if not raw or not any(isinstance(raw.get(f), str) and raw[f].startswith(SEALED) for f in PERSONAL_FIELDS):
        return raw
    out = dict(raw)
    for f in PERSONAL_FIELDS:
        value = out.get(f)
        if isinstance(value, str) and value.startswith(SEALED):
            out[f] = sealer.unseal(value.removeprefix(SEALED))
            if out[f] is None and isinstance(out.get("done"), list):
                out["done"] = [s for s in out["done"] if s != f]
    return out


def seal_personal(
    dump: dict[str, Any] | None, sealer: Sealer, stored: dict[str, Any] | None, opened: dict[str, Any] | None
) -> dict[str, Any] | None:
    """`dump` as it is to be stored: personal fields sealed. An unchanged value keeps its stored token (`stored`
    is what was read, `opened` the same with its fields readable): a Fernet token differs on every call, and an
    unchanged dialog must not be written again."""
    if dump is None:
        return None
    out = dict(dump)
    for f in PERSONAL_FIELDS:
        value = out.get(f)
        if value is None:
            continue
        token = stored.get(f) if stored else None
        same = opened is not None and opened.get(f) == value
        out[f] = token if same and isinstance(token, str) and token.startswith(SEALED) else SEALED + sealer.seal(value)
    return out
