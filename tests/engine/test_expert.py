"""Expert system (seed 003 rules R1–R18, SPEC §4–§5): one test per rule at its boundary, salience, the clamp
both ways, R18, firing order, and a property test holding experta to the plain reference.

Expected values are written in the SPEC's terms (MXN, fuzzy risk 0–100, the seed's base-rate formula 9 + 10·risk),
not read from the code; `test_default_policy_is_the_spec` pins the policy numbers they rely on.

These tests hold the rules' semantics, so they run on SEED_POLICY: the shipped file with R12 as first written
(9 + 10·risk, no score term) and the PD cut-offs (P1, P2) off. The shipped calibration (#12: R12 with the score,
P1/P2 on) is tested at the end of this file and, over the whole answer space, in tests/engine/test_simulate.py.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from experta import AS, Rule
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.expert import (
    RULE_IDS,
    SALIENCE,
    CreditExpertSystem,
    ResultadoFact,
    _engine_class,
    decide_reference,
    expert_system,
    rules_markdown,
)
from engine.policy import DEFAULT_POLICY_PATH, default_policy, parse_policy
from engine.types import ExpertFacts, ExpertResult

SHIPPED = default_policy()


def _seed_policy():
    raw = DEFAULT_POLICY_PATH.read_bytes()
    for old, new in (
        (b"base_rate_intercept = 5.0", b"base_rate_intercept = 9.0"),
        (b"base_rate_per_risk = 6.0", b"base_rate_per_risk = 10.0"),
        (b"base_rate_per_score = 16.0", b"base_rate_per_score = 0.0"),
        (b"pd_cutoffs = true", b"pd_cutoffs = false"),
    ):
        assert old in raw
        raw = raw.replace(old, new, 1)
    return parse_policy(raw, Path("seed-expert.toml"))


POLICY = _seed_policy()
SYSTEM = expert_system(POLICY)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "expert.md"

# Nothing rejects and nothing approves: risk 50 (> 40, ≤ 80), income 30,000 (≥ 10,000, ≤ 50,000),
# score 450 (≥ 300, < 500), amount 200,000 (> 50,000, ≤ capacity), term 48 (13–60).
NEUTRAL = {
    "name": "Ana",
    "birth_year": 1986,
    "age": 40,
    "risk": 50.0,
    "income": 30_000.0,
    "score": 450.0,
    "debt_capacity": 1_000_000.0,
    "requested": 200_000.0,
    "term_months": 48,
}
# Approved by R10 only (score 600); base rate 9 + 10 × 0.5 = 14 %, no adjustment.
APPROVED = {**NEUTRAL, "score": 600.0}


def facts(base: dict | None = None, /, **changes: float | list[str]) -> ExpertFacts:
    return ExpertFacts(**{**(base or NEUTRAL), **changes})


def decide(f: ExpertFacts, system: CreditExpertSystem = SYSTEM) -> ExpertResult:
    result = system.decide(f)
    # every example doubles as a check of the plain reference
    assert result == decide_reference(f, system.policy)
    return result


def policy_with(old: bytes, new: bytes):
    raw = _seed_policy_bytes()
    assert old in raw
    return parse_policy(raw.replace(old, new, 1), Path("test-policy.toml"))


def _seed_policy_bytes() -> bytes:
    raw = DEFAULT_POLICY_PATH.read_bytes()
    for old, new in (
        (b"base_rate_intercept = 5.0", b"base_rate_intercept = 9.0"),
        (b"base_rate_per_risk = 6.0", b"base_rate_per_risk = 10.0"),
        (b"base_rate_per_score = 16.0", b"base_rate_per_score = 0.0"),
        (b"pd_cutoffs = true", b"pd_cutoffs = false"),
    ):
        raw = raw.replace(old, new, 1)
    return raw


def test_default_policy_is_the_spec():
    x = POLICY.expert
    assert POLICY.mappings.money_scale == 10_000 and x.risk_divisor == 100
    assert (x.min_age, x.max_age, x.reject_risk_above, x.reject_income_below) == (18, 75, 0.8, 1.0)
    assert (x.reject_score_below, x.reject_term_above) == (300, 60)
    assert (x.approve_amount_at_most, x.approve_risk_at_most, x.approve_score_at_least) == (5.0, 0.4, 500)
    assert x.approve_income_above == 5.0
    assert (x.base_rate_intercept, x.base_rate_per_risk, x.rate_min, x.rate_max) == (9.0, 10.0, 5.0, 20.0)


def test_neutral_and_approved_bases():
    assert decide(facts()) == ExpertResult(decision="revisar", rate=0.0, fired_rules=["R18"])
    assert decide(facts(APPROVED)) == ExpertResult(decision="aprobado", rate=14.0, fired_rules=["R10", "R12"])


# --------------------------------------------------------------------------------------- R1–R7: reject
REJECT_BOUNDARIES = [
    # rule, field, value that passes, value that rejects
    ("R1", "age", 18, 17),
    ("R2", "age", 75, 76),
    ("R3", "risk", 80.0, 80.01),
    ("R4", "income", 10_000.0, 9_999.0),
    ("R5", "score", 300.0, 299.0),
    ("R6", "requested", 1_000_000.0, 1_000_000.01),  # capacity is 1,000,000
    ("R7", "term_months", 60, 61),
]


@pytest.mark.parametrize(("rule", "field", "passes", "rejects"), REJECT_BOUNDARIES)
def test_reject_rule_boundary(rule: str, field: str, passes: float, rejects: float):
    kept = decide(facts(**{field: passes}))
    assert kept.decision != "rechazado" and rule not in kept.fired_rules
    assert decide(facts(**{field: rejects})) == ExpertResult(decision="rechazado", rate=0.0, fired_rules=[rule])


@pytest.mark.parametrize(("rule", "field", "passes", "rejects"), REJECT_BOUNDARIES)
def test_reject_beats_approve(rule: str, field: str, passes: float, rejects: float):
    """Salience: an applicant every approve rule likes is still rejected, and no approve/interest rule fires."""
    liked = {**APPROVED, "risk": 10.0, "score": 900.0, "income": 60_000.0, "requested": 40_000.0}
    assert decide(facts(liked)).decision == "aprobado"
    changed = {"debt_capacity": 39_999.99} if rule == "R6" else {field: rejects}
    assert decide(facts(liked, **changed)) == ExpertResult(decision="rechazado", rate=0.0, fired_rules=[rule])


def test_every_reject_reason_is_recorded_in_rule_order():
    f = facts(APPROVED, age=17, score=200.0, term_months=72, income=5_000.0)
    assert decide(f) == ExpertResult(decision="rechazado", rate=0.0, fired_rules=["R1", "R4", "R5", "R7"])


# -------------------------------------------------------------------------------------- R8–R11: approve
APPROVE_BOUNDARIES = [
    # rule, field, value that approves, value that does not, rate when approved (SPEC: 9 + 10·risk, adjustments)
    ("R8", "requested", 50_000.0, 50_000.01, 14.0 - 1.5),  # R16 microcredit shares R8's threshold
    ("R9", "risk", 40.0, 40.01, 9 + 4.0),
    ("R10", "score", 500.0, 499.0, 14.0),
    ("R11", "income", 50_000.01, 50_000.0, 14.0),
]


@pytest.mark.parametrize(("rule", "field", "approves", "does_not", "rate"), APPROVE_BOUNDARIES)
def test_approve_rule_boundary(rule: str, field: str, approves: float, does_not: float, rate: float):
    result = decide(facts(**{field: approves}))
    assert result.decision == "aprobado" and result.rate == pytest.approx(rate, abs=0.005)
    assert result.fired_rules[0] == rule and "R12" in result.fired_rules
    assert decide(facts(**{field: does_not})) == ExpertResult(decision="revisar", rate=0.0, fired_rules=["R18"])


def test_every_approve_rule_that_holds_is_recorded():
    f = facts(NEUTRAL, requested=50_000.0, risk=40.0, score=500.0, income=50_000.01)
    assert decide(f).fired_rules == ["R8", "R9", "R10", "R11", "R12", "R16"]


# ----------------------------------------------------------------------------------- R12–R17: interest
@pytest.mark.parametrize(("risk", "rate"), [(0.0, 9.0), (23.4, 11.34), (50.0, 14.0), (80.0, 17.0)])
def test_r12_base_rate(risk: float, rate: float):
    result = decide(facts(APPROVED, risk=risk))
    assert result.decision == "aprobado" and result.rate == rate
    assert "R12" in result.fired_rules


def test_r13_discount_needs_low_risk_and_high_score():
    good = {**APPROVED, "risk": 29.99, "score": 800.0}
    assert decide(facts(good)) == ExpertResult(
        decision="aprobado", rate=round(9 + 2.999 - 2, 2), fired_rules=["R9", "R10", "R12", "R13"]
    )
    assert decide(facts(good, risk=30.0)).fired_rules == ["R9", "R10", "R12"]
    assert decide(facts(good, risk=30.0)).rate == 12.0
    assert decide(facts(good, score=799.0)).fired_rules == ["R9", "R10", "R12"]


def test_r14_surcharge_needs_large_amount_and_risk():
    big = {**APPROVED, "requested": 500_000.01, "risk": 50.01}
    assert decide(facts(big)) == ExpertResult(
        decision="aprobado", rate=round(9 + 5.001 + 2, 2), fired_rules=["R10", "R12", "R14"]
    )
    assert decide(facts(big, requested=500_000.0)).fired_rules == ["R10", "R12"]
    assert decide(facts(big, risk=50.0)) == ExpertResult(decision="aprobado", rate=14.0, fired_rules=["R10", "R12"])


@pytest.mark.parametrize(("term", "rate", "fired"), [(12, 13.0, ["R10", "R12", "R15"]), (13, 14.0, ["R10", "R12"])])
def test_r15_short_term(term: int, rate: float, fired: list[str]):
    assert decide(facts(APPROVED, term_months=term)) == ExpertResult(decision="aprobado", rate=rate, fired_rules=fired)


def test_r16_microcredit_discount_is_applied_once():
    micro = decide(facts(APPROVED, requested=50_000.0))
    assert micro == ExpertResult(decision="aprobado", rate=12.5, fired_rules=["R8", "R10", "R12", "R16"])
    assert decide(facts(APPROVED, requested=50_000.01)).rate == 14.0


def test_r17_clamps_up_to_the_minimum():
    # 9 + 0 − 2 (R13) − 1 (R15) − 1.5 (R16) = 4.5 → 5.0
    f = facts(APPROVED, risk=0.0, score=900.0, term_months=12, requested=30_000.0)
    assert decide(f) == ExpertResult(
        decision="aprobado", rate=5.0, fired_rules=["R8", "R9", "R10", "R12", "R13", "R15", "R16", "R17"]
    )
    # at risk 5 the adjusted rate is exactly the minimum (9.5 − 4.5 = 5.0): inside, no clamp
    assert decide(facts(f.model_dump(), risk=5.0)).fired_rules[-1] == "R16"
    assert decide(facts(f.model_dump(), risk=5.0)).rate == 5.0


def test_r17_clamps_down_to_the_maximum():
    # With the default policy the highest reachable rate is 9 + 8 + 2 = 19 %: raise the intercept to reach it.
    policy = policy_with(b"base_rate_intercept = 9.0", b"base_rate_intercept = 12.0")
    system = expert_system(policy)
    high = facts(APPROVED, risk=80.0, requested=600_000.0)  # 12 + 8 + 2 = 22 → 20
    assert decide(high, system) == ExpertResult(
        decision="aprobado", rate=20.0, fired_rules=["R10", "R12", "R14", "R17"]
    )
    edge = facts(APPROVED, risk=60.0, requested=600_000.0)  # 12 + 6 + 2 = 20: inside, no clamp
    assert decide(edge, system) == ExpertResult(decision="aprobado", rate=20.0, fired_rules=["R10", "R12", "R14"])


# ------------------------------------------------------------------------------- K1: no eligible bank
LIKED = {**APPROVED, "risk": 10.0, "score": 900.0, "income": 60_000.0, "requested": 40_000.0}


def test_k1_no_eligible_bank_is_never_approved():
    """Seed 002 case 1: every approve rule likes the applicant, no bank does -> review by an advisor."""
    assert decide(facts(LIKED, eligible_banks=["bbva"])).decision == "aprobado"
    knocked = facts(LIKED, eligible_banks=[], knockouts=["historial_crediticio=malo"])
    assert decide(knocked) == ExpertResult(decision="revisar", rate=0.0, fired_rules=["K1"])
    # a seed rejection still rejects, and K1 (a review) does not join it
    assert decide(facts(LIKED, eligible_banks=[], age=17)) == ExpertResult(
        decision="rechazado", rate=0.0, fired_rules=["R1"]
    )
    # without bank-fit facts (the expert on its own) K1 cannot fire
    assert "K1" not in decide(facts(LIKED)).fired_rules


def test_k1_can_reject_when_the_analyst_says_so():
    policy = policy_with(b'no_eligible_bank_decision = "revisar"', b'no_eligible_bank_decision = "rechazado"')
    system = expert_system(policy)
    assert decide(facts(LIKED, eligible_banks=[]), system) == ExpertResult(
        decision="rechazado", rate=0.0, fired_rules=["K1"]
    )
    # as a rejection it is one more reason, listed after the seed's
    assert decide(facts(LIKED, eligible_banks=[], age=17), system).fired_rules == ["R1", "K1"]
    assert decide(facts(LIKED, eligible_banks=["bbva"]), system).decision == "aprobado"


def test_k1_sits_between_rejection_and_approval():
    assert max(SALIENCE[f"R{i}"] for i in range(8, 12)) < SALIENCE["K1"] < min(SALIENCE[f"R{i}"] for i in range(1, 8))


# ------------------------------------------------------------------------------------------- R18, order
def test_r18_review_when_nothing_decides():
    result = decide(facts())
    assert result == ExpertResult(decision="revisar", rate=0.0, fired_rules=["R18"])
    # R18 never joins a decision
    assert "R18" not in decide(facts(APPROVED)).fired_rules
    assert "R18" not in decide(facts(age=17)).fired_rules


def test_fired_rules_follow_salience_groups():
    result = decide(facts(APPROVED, risk=0.0, score=900.0, income=60_000.0, term_months=6, requested=20_000.0))
    assert result.fired_rules == ["R8", "R9", "R10", "R11", "R12", "R13", "R15", "R16", "R17"]
    order = [SALIENCE[r] for r in RULE_IDS]
    assert order == sorted(order, reverse=True)  # salience falls along RULE_IDS: reject > knock-out > approve > ...
    assert min(SALIENCE[f"R{i}"] for i in range(1, 8)) > max(SALIENCE[f"R{i}"] for i in range(8, 12))
    assert min(SALIENCE[f"R{i}"] for i in range(8, 12)) > max(SALIENCE[f"R{i}"] for i in range(12, 18))
    assert min(SALIENCE[f"R{i}"] for i in range(12, 18)) > SALIENCE["R18"]


def test_rate_is_rounded_to_cents_of_a_point():
    assert decide(facts(APPROVED, risk=12.3456)).rate == 10.23


# ------------------------------------------------------------------------------------- engine lifecycle
def test_one_engine_per_policy():
    assert expert_system(POLICY) is SYSTEM
    assert expert_system(_seed_policy()).engine is SYSTEM.engine
    other = policy_with(b"discount_points = 2.0", b"discount_points = 3.0")
    assert expert_system(other) is not SYSTEM
    good = facts(APPROVED, risk=20.0, score=850.0)
    assert decide(good).rate == 9.0 and decide(good, expert_system(other)).rate == 8.0
    # a policy changed in memory keeps its (now stale) content hash: it must not reuse the cached engine
    edited = POLICY.model_copy(update={"expert": POLICY.expert.model_copy(update={"discount_points": 3.0})})
    assert edited.content_hash == POLICY.content_hash
    assert expert_system(edited) is not SYSTEM and decide(good, expert_system(edited)).rate == 8.0


def test_reused_engine_keeps_no_state_between_decisions():
    for f in (facts(age=17), facts(APPROVED), facts(), facts(APPROVED, requested=40_000.0), facts(age=17)):
        assert SYSTEM.decide(f) == decide_reference(f, POLICY)


def test_concurrent_decisions_are_serialised():
    cases = [facts(APPROVED, risk=float(r)) for r in range(0, 90, 3)] + [facts(age=a) for a in range(15, 80, 5)]
    expected = [decide_reference(f, POLICY) for f in cases]
    errors: list[str] = []

    def worker() -> None:
        for _ in range(5):
            for f, want in zip(cases, expected, strict=True):
                got = SYSTEM.decide(f)
                if got != want:
                    errors.append(f"{f} -> {got}, want {want}")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_rete_root_dispatches_every_fact_class_by_type():
    """The type-indexed root relies on every alpha branch starting with a type check; if experta ever built
    a branch that does not, it would land in `_untyped` (still correct, only slower): make that visible."""
    bus = SYSTEM.engine.matcher.root_node
    assert {t.__name__ for t in bus._by_type} == {
        "InitialFact",
        "PersonaFact",
        "IngresoFact",
        "HistorialFact",
        "CreditoFact",
        "PerfilamientoFact",
        "ResultadoFact",
    }
    assert bus._untyped == []
    assert sorted(map(id, bus.children)) == sorted(id(c) for cs in bus._by_type.values() for c in cs)


def test_a_rule_that_refires_is_stopped():
    """A rule that re-activates itself (no once-only flag) must fail loudly instead of looping for ever."""
    base = _engine_class(POLICY)

    class Looping(base):  # type: ignore[misc, valid-type]  # a class built per policy: a dynamic base
        @Rule(AS.r << ResultadoFact(aprobado="si", base_calculada=True), salience=1)
        def again(self, r: ResultadoFact) -> None:
            self._adjust("R99", r, interes=r["interes"] + 0.01)

    system = CreditExpertSystem(POLICY)
    system.engine = Looping()
    with pytest.raises(RuntimeError, match="did not settle"):
        system.decide(facts(APPROVED))
    assert system.decide(facts()) == ExpertResult(decision="revisar", rate=0.0, fired_rules=["R18"])


def test_docs_table_matches_the_default_policy():
    assert rules_markdown(SHIPPED) in DOCS.read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------ property: agreement
def _around(*points: float) -> st.SearchStrategy[float]:
    """Exact boundary values, their neighbours, and anything in between."""
    near = [v for p in points for v in (p, p - 0.01, p + 0.01)]
    return st.one_of(st.sampled_from(near), st.floats(min(near) - 1, max(near) + 1, allow_nan=False))


@st.composite
def expert_facts(draw: st.DrawFn) -> ExpertFacts:
    requested = draw(_around(30_000, 50_000, 500_000, 700_000))
    capacity = draw(st.one_of(st.just(requested), _around(requested, 0, 1_000_000)))
    return ExpertFacts(
        name="x",
        birth_year=1990,
        age=draw(st.sampled_from([16, 17, 18, 19, 40, 74, 75, 76, 90])),
        risk=draw(st.one_of(st.sampled_from([0.0, 100.0]), _around(29.99, 30, 40, 50, 80))),
        income=draw(_around(0, 10_000, 30_000, 50_000, 100_000)),
        score=draw(st.one_of(st.sampled_from([0.0, 1000.0]), _around(299, 300, 500, 800))),
        debt_capacity=max(capacity, 0.0),
        requested=max(requested, 0.0),
        term_months=draw(st.sampled_from([1, 6, 11, 12, 13, 36, 59, 60, 61, 84])),
        eligible_banks=draw(st.sampled_from([None, [], ["bbva"], ["banorte", "bbva"]])),
    )


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expert_facts())
def test_experta_agrees_with_the_plain_rules(f: ExpertFacts):
    assert SYSTEM.decide(f) == decide_reference(f, POLICY)


HIGH_RATES = policy_with(b"base_rate_intercept = 9.0", b"base_rate_intercept = 12.5")


@settings(max_examples=200, deadline=None)
@given(expert_facts())
def test_experta_agrees_with_the_plain_rules_under_another_policy(f: ExpertFacts):
    assert expert_system(HIGH_RATES).decide(f) == decide_reference(f, HIGH_RATES)


KNOCKOUT_REJECTS = policy_with(b'no_eligible_bank_decision = "revisar"', b'no_eligible_bank_decision = "rechazado"')


@settings(max_examples=200, deadline=None)
@given(expert_facts())
def test_experta_agrees_with_the_plain_rules_when_k1_rejects(f: ExpertFacts):
    assert expert_system(KNOCKOUT_REJECTS).decide(f) == decide_reference(f, KNOCKOUT_REJECTS)


# --------------------------------------------------------------------- the shipped calibration (#12)
SHIPPED_SYSTEM = expert_system(SHIPPED)


def test_shipped_r12_uses_risk_and_score():
    x = SHIPPED.expert
    assert (x.base_rate_intercept, x.base_rate_per_risk, x.base_rate_per_score) == (5.0, 6.0, 16.0)
    f = facts(APPROVED, risk=50.0, score=600.0)
    # 5 + 6 × 0.5 + 16 × (1 − 0.6) = 14.4
    assert decide(f, SHIPPED_SYSTEM) == ExpertResult(decision="aprobado", rate=14.4, fired_rules=["R10", "R12"])
    # a better score alone lowers the rate; a higher risk alone raises it
    assert decide(facts(APPROVED, score=700.0), SHIPPED_SYSTEM).rate == 12.8
    assert decide(facts(APPROVED, risk=60.0), SHIPPED_SYSTEM).rate == 15.0


def test_p1_p2_read_the_pd_cut_offs_as_scores():
    """PD >= 0.35 (P1) rejects, PD >= 0.20 (P2) sends to review, on the book-anchored scale at 8 %:
    600 + 100·log2(((1 − p)/p)/11.5) = 447.6 and 337.0."""
    from engine.expert import cutoff_scores

    approve, review = cutoff_scores(SHIPPED)
    assert approve == pytest.approx(447.64, abs=0.01) and review == pytest.approx(336.95, abs=0.01)
    rich = {**NEUTRAL, "income": 60_000.0}  # R11 approves whatever the score
    assert decide(facts(rich, score=448.0), SHIPPED_SYSTEM).decision == "aprobado"
    assert decide(facts(rich, score=447.0), SHIPPED_SYSTEM) == ExpertResult(
        decision="revisar", rate=0.0, fired_rules=["P2"]
    )
    assert decide(facts(rich, score=337.0), SHIPPED_SYSTEM).fired_rules == ["P2"]
    assert decide(facts(rich, score=336.0), SHIPPED_SYSTEM) == ExpertResult(
        decision="rechazado", rate=0.0, fired_rules=["P1"]
    )
    # with a knock-out both reasons for review are listed
    assert decide(facts(rich, score=400.0, eligible_banks=[]), SHIPPED_SYSTEM).fired_rules == ["K1", "P2"]


@settings(max_examples=300, deadline=None)
@given(expert_facts())
def test_experta_agrees_with_the_plain_rules_on_the_shipped_policy(f: ExpertFacts):
    assert SHIPPED_SYSTEM.decide(f) == decide_reference(f, SHIPPED)
