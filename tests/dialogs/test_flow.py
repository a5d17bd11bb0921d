"""The transport-free flow: state shape, versioning and repair, and the assess request it builds."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dialogs import state as dstate
from dialogs import texts
from dialogs.flow import Command, Flow, Outcome, Press, Text
from dialogs.state import DIALOG_VERSION, INPUT_STEPS, DialogState, load_state
from dialogs.ui import RunAssessment, Track
from engine.policy import QUESTIONS, default_policy

POLICY = default_policy()


def _state(out: Outcome) -> DialogState:
    """The state a turn left (the turns these tests take keep a dialog)."""
    assert out.state is not None, out
    return out.state


def _press(flow: Flow, raw: dict[str, Any] | None, action: str, arg: str = "") -> dict[str, Any]:
    rev = raw["rev"] if raw else 0
    return _state(flow.handle(raw, Press(f"{rev}:{action}:{arg}" if arg else f"{rev}:{action}"))).dump()


def _text(flow: Flow, raw: dict[str, Any] | None, text: str) -> dict[str, Any]:
    return _state(flow.handle(raw, Text(text))).dump()


def complete(flow: Flow) -> dict[str, Any]:
    raw = _state(flow.handle(None, Command("start"))).dump()
    raw = _press(flow, raw, "ok")
    raw = _text(flow, raw, "Ana")
    raw = _text(flow, raw, "1990")
    raw = _press(flow, raw, "skip")
    for q in QUESTIONS:
        raw = _press(flow, raw, "a", next(iter(POLICY.answers[q])))
    raw = _press(flow, raw, "skip")
    raw = _text(flow, raw, "350 mil")
    raw = _press(flow, raw, "a", str(POLICY.limits.term_options[0]))
    return raw


def test_state_is_plain_json_and_builds_the_assess_request() -> None:
    flow = Flow(POLICY)
    raw = complete(flow)
    assert json.loads(json.dumps(raw)) == raw  # what RedisStorage stores must survive JSON unchanged
    assert raw["step"] == "summary"
    out = flow.handle(raw, Press(f"{raw['rev']}:go"))
    assert any(isinstance(e, RunAssessment) for e in out.effects)
    request = _state(out).to_request()
    assert request.loan.vehicle_price == 350_000 and request.applicant.monthly_income is None
    assert request.answers.model_dump() == {q: next(iter(POLICY.answers[q])) for q in QUESTIONS}


def test_every_question_emits_question_answered_with_its_step() -> None:
    flow = Flow(POLICY)
    raw = complete(flow)
    raw = _press(flow, raw, "e", "q:enganche")
    out = flow.handle(raw, Press(f"{raw['rev']}:a:35_mas"))
    tracks = [e for e in out.effects if isinstance(e, Track)]
    assert tracks == [Track("QuestionAnswered", {"step": 6, "question": "enganche"})]
    assert _state(out).step == "summary"


def test_migration_chain_is_applied(monkeypatch: pytest.MonkeyPatch) -> None:
    """A state saved by the previous version, with a step since renamed, is migrated, not repaired."""
    flow = Flow(POLICY)
    raw = complete(flow)
    old = {**raw, "v": DIALOG_VERSION - 1, "step": "q:enganche_pct"}
    monkeypatch.setitem(
        dstate.MIGRATIONS,
        DIALOG_VERSION - 1,
        lambda d: {**d, "v": DIALOG_VERSION, "step": {"q:enganche_pct": "q:enganche"}.get(d["step"], d["step"])},
    )
    state, repaired = load_state(old, POLICY)
    assert not repaired and state is not None and state.step == "q:enganche"


def test_repair_keeps_valid_parts_and_drops_the_rest() -> None:
    flow = Flow(POLICY)
    raw = complete(flow)
    broken = {
        **raw,
        "v": 99,
        "step": "nowhere",
        "birth_year": "mil novecientos",
        "answers": {**raw["answers"], "enganche": "x"},
    }
    state, repaired = load_state(broken, POLICY)
    assert repaired and state is not None
    assert state.birth_year is None and "enganche" not in state.answers and state.name == "Ana"
    assert state.step == "birth_year"  # the first gap
    assert set(state.done) < set(INPUT_STEPS)
    # without consent nothing is kept
    assert load_state({"v": 99, "consent": False, "name": "Ana"}, POLICY) == (None, True)


def test_incomplete_state_cannot_build_a_request() -> None:
    with pytest.raises(ValueError, match="not complete"):
        DialogState(consent=True).to_request()


def test_optional_steps_accept_the_skip_typed() -> None:
    flow = Flow(POLICY)
    raw = _state(flow.handle(None, Command("start"))).dump()
    raw = _press(flow, raw, "ok")
    raw = _text(flow, raw, "Ana")
    raw = _text(flow, raw, "1990")
    assert raw["step"] == "phone"
    raw = _text(flow, raw, "prefiero no darlo")
    assert raw["step"] == "q:trabajo_tiempo" and raw["phone"] is None and "phone" in raw["done"]


# ------------------------------------------------------------------- #12: offer only what can be approved
def _until_income(flow: Flow, band: str) -> dict:
    raw = _state(flow.handle(None, Command("start"))).dump()
    raw = _press(flow, raw, "ok")
    raw = _text(flow, raw, "Ana")
    raw = _text(flow, raw, "1990")
    raw = _press(flow, raw, "skip")
    for q in QUESTIONS:
        raw = _press(flow, raw, "a", band if q == "ingreso_mensual" else next(iter(POLICY.answers[q])))
    assert raw["step"] == "income_exact"
    return raw


def test_term_buttons_stop_at_the_policys_maximum_term() -> None:
    flow = Flow(POLICY)
    raw = _text(flow, _until_income(flow, "20k_30k"), "25000")
    raw = _text(flow, raw, "350 mil")
    prompt = flow.prompt(DialogState.model_validate(raw))
    offered = [b.label for row in prompt.keyboard for b in row if b.label.endswith("meses")]
    assert offered == [f"{t} meses" for t in POLICY.limits.term_options if t <= POLICY.expert.reject_term_above]
    assert "72 meses" not in offered and 72 in POLICY.limits.term_options  # the menu has it, R7 rejects it
    # neither a forged 72 button nor a typed "72 meses" is taken
    assert flow.handle(raw, Press(f"{raw['rev']}:a:72")).stale
    out = flow.handle(raw, Text("72 meses"))
    assert _state(out).term_months is None and out.replies[0].text == texts.USE_BUTTONS


def test_an_income_outside_its_band_is_asked_about_and_the_band_re_derived() -> None:
    flow = Flow(POLICY)
    raw = _until_income(flow, "menos_10k_sin_comprobar")
    out = flow.handle(raw, Text("100000"))
    assert _state(out).overlay == "income_check" and _state(out).step == "income_exact"
    text = out.replies[0].text
    assert "$100,000" in text and "Menos de $10,000 sin comprobación" in text
    buttons = [b.label for row in out.replies[0].keyboard for b in row]
    assert buttons == [
        "Gano $100,000 (Más de $30,000 con comprobación)",
        "«Menos de $10,000 sin comprobación»: corregir el monto",
    ]
    raw = _state(out).dump()
    # typing does not get past the question
    assert _state(flow.handle(raw, Text("sí"))).overlay == "income_check"
    # the amount is right: the band follows it, and the dialog goes on
    right = _press(flow, raw, "ia")
    assert right["answers"]["ingreso_mensual"] == "mas_30k" and right["income_exact"] == 100_000
    assert right["overlay"] is None and right["step"] == "vehicle_price" and "income_exact" in right["done"]
    # the band is right: the amount is asked again
    again = _press(flow, raw, "ib")
    assert again["answers"]["ingreso_mensual"] == "menos_10k_sin_comprobar" and again["income_exact"] is None
    assert again["step"] == "income_exact" and again["overlay"] is None
    # an income inside the band goes straight on
    assert _text(flow, again, "8500")["step"] == "vehicle_price"


def test_a_band_edited_against_the_given_income_is_asked_about() -> None:
    flow = Flow(POLICY)
    raw = _text(flow, _until_income(flow, "20k_30k"), "25000")
    raw = _text(flow, raw, "350 mil")
    raw = _press(flow, raw, "a", "48")
    assert raw["step"] == "summary"
    raw = _press(flow, raw, "e", "q:ingreso_mensual")
    out = flow.handle(raw, Press(f"{raw['rev']}:a:mas_30k"))
    assert _state(out).overlay == "income_check"
    # "$25,000 is right" re-derives the band from the amount and returns to the summary
    back = _press(flow, _state(out).dump(), "ia")
    assert back["answers"]["ingreso_mensual"] == "20k_30k" and back["step"] == "summary"
    # a band holding the amount (bounds are shared by neighbours) asks nothing
    assert (
        Flow(POLICY)._income_conflict(DialogState(answers={"ingreso_mensual": "15k_20k"}, income_exact=20_000)) is False
    )


def test_band_ranges_hold_their_representative_income() -> None:
    m = POLICY.mappings
    for band, income in m.income_by_band.items():
        assert m.income_fits_band(income, band)
    assert m.band_for_income(8_000) == "menos_15k_comprobado"  # a proven band is preferred where both hold it
    assert m.band_for_income(100_000) == "mas_30k" and m.band_for_income(17_000) == "15k_20k"


def test_every_listed_command_is_answered_and_others_are_not() -> None:
    """dialogs.flow.COMMANDS is the one list (bot menu, web chat, dialog): each has a meaning in the dialog."""
    from dialogs.flow import COMMANDS

    flow = Flow(default_policy())
    raw = _state(flow.handle(None, Command("start"))).dump()
    for name, description in COMMANDS.items():
        assert description.strip()
        for state in (None, raw):
            out = flow.handle(state, Command(name))
            assert all(r.text != texts.UNKNOWN_COMMAND for r in out.replies), name
    unknown = flow.handle(raw, Command("inventado"))
    assert unknown.replies[0].text == texts.UNKNOWN_COMMAND
