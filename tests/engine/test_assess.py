"""The `assess` contract (SPEC §7) end to end through the engine, and its input validation."""

from __future__ import annotations

import copy
from datetime import date

import pytest

from engine.assess import AssessmentInputError, get_assessor
from engine.derive import derive, present_value
from engine.policy import DEFAULT_POLICY_PATH, default_policy, parse_policy
from engine.types import AssessmentRequest
from tests.samples import sample_profile

SAMPLE = sample_profile()
AS_OF = date(2026, 11, 24)


@pytest.fixture(scope="module")
def assessor(tmp_path_factory):
    return get_assessor(model_dir=tmp_path_factory.getbasetemp() / "models")


def with_changes(**paths):
    data = copy.deepcopy(SAMPLE)
    for path, value in paths.items():
        section, key = path.split("__")
        data[section][key] = value
    return data


def test_sample_profile_has_every_contract_key(assessor):
    r = assessor.assess(SAMPLE, AS_OF).model_dump(mode="json")
    assert r["bank_fit"]["recommended"] == "bbva" and r["bank_fit"]["second"] == "banorte"
    assert r["bank_fit"]["scores"]["bbva"] == 32 and set(r["bank_fit"]["scores"]) == set(default_policy().bank_codes)
    assert set(r["bank_fit"]["rejections"]) == set(default_policy().bank_codes)
    assert r["bank_fit"]["band"] == "Excelente" and r["bank_fit"]["low_score"] is False
    assert 0 < r["pd"]["probability"] < 1 and r["pd"]["model_version"]
    assert 0 <= r["credit_score"] <= 1000
    assert 0 <= r["fuzzy"]["risk"] <= 100
    assert set(r["fuzzy"]["activations"]) == {rule.id for rule in default_policy().fuzzy.rules}
    assert max(r["fuzzy"]["activations"].values()) > 0
    assert r["expert"]["decision"] in {"aprobado", "rechazado", "revisar"}
    assert all(rule.startswith("R") for rule in r["expert"]["fired_rules"])
    assert r["policy_version"] == default_policy().version
    assert r["policy_hash"] == default_policy().content_hash
    assert r["model_version"] == r["pd"]["model_version"]


def test_facts_come_from_the_inferred_graph(assessor):
    r = assessor.assess(SAMPLE, AS_OF)
    facts = r.ontology.facts
    assert facts.requested == pytest.approx(r.derived.requested_amount)
    assert facts.age == 38 and facts.term_months == 48
    assert facts.score == r.credit_score
    assert r.ontology.inferred_triples > r.ontology.asserted_triples


def test_good_profile_is_approved_with_a_clamped_rate(assessor):
    r = assessor.assess(SAMPLE, AS_OF)
    if r.expert.decision == "aprobado":
        p = default_policy().expert
        assert p.rate_min <= r.expert.rate <= p.rate_max
        assert "R12" in r.expert.fired_rules


def test_rejections_escalate_and_low_income_is_rejected(assessor):
    r = assessor.assess(with_changes(answers__ingreso_mensual="menos_10k_sin_comprobar"), AS_OF)
    assert r.expert.decision == "rechazado" and "R4" in r.expert.fired_rules  # 8,000 MXN < 10,000
    r = assessor.assess(with_changes(answers__trabajo_tiempo="menos_6m", answers__atrasos_12_meses="mas_1_mes"), AS_OF)
    assert r.bank_fit.low_score and r.escalate and "low_score" in r.escalation_reasons


def test_long_term_is_rejected_by_rule_7(assessor):
    r = assessor.assess(with_changes(loan__term_months=72), AS_OF)
    assert r.expert.decision == "rechazado" and "R7" in r.expert.fired_rules


def test_declared_income_wins_over_the_band(assessor):
    r = assessor.assess(with_changes(applicant__monthly_income=61000), AS_OF)
    assert r.derived.income_mxn == 61000 and r.derived.income_source == "declared"
    assert r.ontology.facts.income == 61000


def test_pd_worsens_the_score(assessor):
    good = assessor.assess(SAMPLE, AS_OF)
    bad = assessor.assess(with_changes(answers__atrasos_12_meses="varios_sin_regularizar"), AS_OF)
    assert bad.pd.probability >= good.pd.probability
    assert bad.credit_score <= good.credit_score


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (with_changes(answers__enganche="50_por_ciento"), "answers.enganche"),
        (with_changes(loan__vehicle_price=5), "loan.vehicle_price"),
        (with_changes(loan__vehicle_price="abc"), "loan.vehicle_price"),
        (with_changes(loan__term_months=0), "loan.term_months"),
        (with_changes(loan__term_months=120), "loan.term_months"),
        (with_changes(applicant__birth_year=2014), "applicant.birth_year"),
        (with_changes(applicant__birth_year=1916), "applicant.birth_year"),
        (with_changes(applicant__monthly_income=-5), "applicant.monthly_income"),
        ({k: v for k, v in SAMPLE.items() if k != "loan"}, "loan"),
        ({**SAMPLE, "extra": 1}, "extra"),
    ],
)
def test_invalid_input_names_the_field(assessor, data, field):
    with pytest.raises(AssessmentInputError) as exc:
        assessor.assess(data, AS_OF)
    assert field in [e["field"] for e in exc.value.errors]


def test_missing_answer_is_named(assessor):
    data = copy.deepcopy(SAMPLE)
    del data["answers"]["ingreso_mensual"]
    with pytest.raises(AssessmentInputError) as exc:
        assessor.assess(data, AS_OF)
    assert exc.value.errors[0]["field"] == "answers.ingreso_mensual"


def test_an_analyst_policy_changes_the_result_without_code(tmp_path):
    raw = DEFAULT_POLICY_PATH.read_bytes()
    raw = raw.replace(b'version = "2026.12.1"', b'version = "analyst-test"').replace(
        b"low_score_threshold = 5", b"low_score_threshold = 40"
    )
    policy = parse_policy(raw, tmp_path / "p.toml")
    r = get_assessor(policy, model_dir=tmp_path / "models").assess(SAMPLE, AS_OF)
    assert r.policy_version == "analyst-test" and r.policy_hash == policy.content_hash
    assert r.bank_fit.low_score and "low_score" in r.escalation_reasons


def test_debt_capacity_is_the_present_value_of_the_free_payment():
    policy = default_policy()
    request = AssessmentRequest.model_validate(SAMPLE)
    d = derive(request, policy, AS_OF)
    # 25,000 × 0.40 − 25,000 × 0.10 = 7,500 a month over 48 months at 14 % a year
    assert d.existing_payments == 2500
    assert d.debt_capacity == pytest.approx(present_value(7500, 0.14, 48), abs=0.01)
    assert 274_000 < d.debt_capacity < 275_000
    assert d.requested_amount == 350_000 * 0.75
    assert present_value(100, 0.0, 10) == 1000
    assert present_value(-5, 0.14, 10) == 0


def test_verdicts_equal_the_full_assessments_expert_results(assessor):
    """`Assessor.verdicts` (the rules' plain copy, no ontology or experta) gives what `assess` gives, float for
    float, on random profiles and on every what-if change of each (the card screens its changes with it)."""
    from dialogs.card import _variants
    from tests.samples import random_profiles

    requests = [AssessmentRequest.model_validate(p) for p in random_profiles(250, seed=23)]
    group = [v for r in requests for v in (r, *(variant for _, variant in _variants(r, assessor.policy)))]
    assert len(group) > 1500
    quick = assessor.verdicts(group, AS_OF)
    full = [assessor.assess(r, AS_OF).expert for r in group]
    assert quick == full
    assert {e.decision for e in full} == {"aprobado", "revisar", "rechazado"}  # every branch was compared
    assert assessor.verdicts([]) == []
    with pytest.raises(AssessmentInputError):
        assessor.verdicts([{**sample_profile(), "loan": {"vehicle_price": -1, "term_months": 24}}])
