"""The transport-free flow: state shape, versioning and repair, and the assess request it builds."""

from __future__ import annotations

import json

import pytest

from dialogs import state as dstate
from dialogs.flow import Command, Flow, Press, Text
from dialogs.state import DIALOG_VERSION, INPUT_STEPS, DialogState, load_state
from dialogs.ui import RunAssessment, Track
from engine.policy import QUESTIONS, default_policy

POLICY = default_policy()


def _press(flow: Flow, raw: dict | None, action: str, arg: str = "") -> dict | None:
    rev = raw["rev"] if raw else 0
    out = flow.handle(raw, Press(f"{rev}:{action}:{arg}" if arg else f"{rev}:{action}"))
    return out.state.dump() if out.state else None


def _text(flow: Flow, raw: dict | None, text: str) -> dict | None:
    out = flow.handle(raw, Text(text))
    return out.state.dump() if out.state else None


def complete(flow: Flow) -> dict:
    raw = flow.handle(None, Command("start")).state.dump()
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
    request = out.state.to_request()
    assert request.loan.vehicle_price == 350_000 and request.applicant.monthly_income is None
    assert request.answers.model_dump() == {q: next(iter(POLICY.answers[q])) for q in QUESTIONS}


def test_every_question_emits_question_answered_with_its_step() -> None:
    flow = Flow(POLICY)
    raw = complete(flow)
    raw = _press(flow, raw, "e", "q:enganche")
    out = flow.handle(raw, Press(f"{raw['rev']}:a:35_mas"))
    tracks = [e for e in out.effects if isinstance(e, Track)]
    assert tracks == [Track("QuestionAnswered", {"step": 6, "question": "enganche"})]
    assert out.state.step == "summary"


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
    raw = flow.handle(None, Command("start")).state.dump()
    raw = _press(flow, raw, "ok")
    raw = _text(flow, raw, "Ana")
    raw = _text(flow, raw, "1990")
    assert raw["step"] == "phone"
    raw = _text(flow, raw, "prefiero no darlo")
    assert raw["step"] == "q:trabajo_tiempo" and raw["phone"] is None and "phone" in raw["done"]
