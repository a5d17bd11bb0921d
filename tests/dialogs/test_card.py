"""The result card and its what-if, on the real engine over many random applicants."""

from __future__ import annotations

import random

from dialogs.card import (
    DECISION_LABELS,
    DECISION_RANK,
    _variants,
    evaluate,
    improves,
    max_total,
    reasons,
    render_card,
    shown_band,
    what_if_line,
)
from engine.policy import default_policy
from engine.types import AssessmentRequest
from tests.models import get_assessor
from tests.samples import sample_profile

POLICY = default_policy()


def _random_request(rng: random.Random) -> AssessmentRequest:
    return AssessmentRequest.model_validate(
        {
            "answers": {q: rng.choice(list(codes)) for q, codes in POLICY.answers.items()},
            "loan": {
                "vehicle_price": rng.randint(80, 1500) * 1000,
                "term_months": rng.choice(POLICY.limits.term_options),
            },
            "applicant": {"birth_year": rng.randint(1955, 2004), "monthly_income": rng.choice([None, 9000, 30000])},
        }
    )


def test_card_and_what_if_agree_with_the_engine() -> None:
    assessor = get_assessor(POLICY)
    rng = random.Random(11)
    changed = unchanged = 0
    for _ in range(60):
        request = _random_request(rng)
        ev = evaluate(assessor, request, POLICY)
        r = ev.result
        assert r == assessor.assess(request)
        card = render_card(ev, POLICY)
        assert POLICY.banks[r.bank_fit.recommended] in card and DECISION_LABELS[r.expert.decision] in card
        assert f"de {max_total(POLICY)} puntos" in card
        assert ("⚠️" in card) == r.bank_fit.low_score
        assert 2 <= len(reasons(r, POLICY)) <= 3
        line = what_if_line(ev, POLICY)
        if ev.what_if is None:
            assert line is None
            continue
        # every single change the what-if may propose, assessed here independently
        outcomes = [(change, assessor.assess(v)) for change, v in _variants(request, POLICY)]
        better = [(change, o) for change, o in outcomes if improves(r.expert, o.expert)]
        if ev.what_if.improves:
            changed += 1
            change, other = better[0]  # the smallest change that improves is the one proposed
            assert (ev.what_if.change, ev.what_if.result) == (change, other)
            worse = DECISION_RANK[other.expert.decision] < DECISION_RANK[r.expert.decision]
            assert not worse and line is not None and change in line
            assert ("pasaría de" in line) != ("bajaría de" in line)
        else:
            unchanged += 1
            assert better == [] and line is not None and line.startswith("💡 Ningún cambio por sí solo")
    assert changed and unchanged  # both kinds occur, so both branches were checked


# The issue's example (#12): every bank rejects this applicant, whom the seed rules alone approved at 15.3 %.
ISSUE_EXAMPLE = {
    "answers": {
        "trabajo_tiempo": "menos_6m",
        "banco_nomina": "otro",
        "historial_crediticio": "malo",
        "creditos_vigentes": "ninguno",
        "atrasos_12_meses": "varios_sin_regularizar",
        "enganche": "35_mas",
        "prioridad_financiamiento": "tasa_baja",
        "ingreso_mensual": "mas_30k",
    },
    "loan": {"vehicle_price": 150_000, "term_months": 24},
    "applicant": {"birth_year": 1990, "monthly_income": 60_000},
}


def test_the_issue_example_gets_a_coherent_card() -> None:
    assessor = get_assessor(POLICY)
    request = AssessmentRequest.model_validate(ISSUE_EXAMPLE)
    ev = evaluate(assessor, request, POLICY)
    r = ev.result
    assert r.bank_fit.no_eligible_bank and r.expert.decision == "revisar" and "K1" in r.expert.fired_rules
    assert r.escalate and "no_eligible_bank" in r.escalation_reasons
    card = render_card(ev, POLICY)
    assert DECISION_LABELS["aprobado"] not in card and "tasa estimada" not in card
    assert "Ningún banco es elegible" in card and DECISION_LABELS["revisar"] in card
    # the closest bank is named as such, without the band of a total that counts the answers it rejects
    assert "Banco más cercano: <b>" in card and "Banco recomendado" not in card and "Segunda opción" not in card
    assert "Afinidad con ese banco:" in card and r.bank_fit.band not in card
    assert shown_band(r.bank_fit) is None  # the one rule every surface follows (case card, case page, handoff)
    good = evaluate(assessor, AssessmentRequest.model_validate(sample_profile()), POLICY).result.bank_fit
    assert not good.no_eligible_bank and shown_band(good) == good.band
    # the PD's top reason says against what it weighs (the training population's mean), not "raises" alone
    assert "lo sube frente al solicitante promedio." in card or "lo baja frente al solicitante promedio." in card
    # the card names the eliminatory answers, and only those
    assert (
        "• Ningún banco acepta por ahora tu perfil por antigüedad en el empleo «Menos de 6 meses», historial "
        "crediticio «Malo» y atrasos (12 meses) «Varios pagos sin regularizar»." in card
    )
