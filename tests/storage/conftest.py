"""Fixtures of the storage tests: assessment results shaped exactly like engine.types.AssessmentResult
(validated) without running the engine, so storage tests do not depend on trained models."""

from __future__ import annotations

import random
from typing import Any

import pytest

from engine.types import AssessmentResult

QUESTIONS = {
    "trabajo_tiempo": ["menos_6m", "6m_1a", "1a_2a", "mas_2a"],
    "banco_nomina": ["scotiabank", "bbva", "banorte", "banregio", "afirme", "hey_banco", "otro"],
    "historial_crediticio": ["excelente", "bueno", "regular", "malo", "sin_historial"],
    "creditos_vigentes": ["ninguno", "1_2", "3_mas", "pagos_pendientes"],
    "atrasos_12_meses": ["ninguno", "regularizado", "mas_1_mes", "varios_sin_regularizar"],
    "enganche": ["menos_15", "minimo_15", "20_30", "35_mas"],
    "prioridad_financiamiento": ["tasa_baja", "pagos_fijos", "rapidez", "digital"],
    "ingreso_mensual": ["menos_10k_sin_comprobar", "menos_15k_comprobado", "15k_20k", "20k_30k", "mas_30k"],
}
BANKS = ["scotiabank", "bbva", "banorte", "banregio", "afirme", "hey_banco"]


def make_result(
    rng: random.Random | None = None,
    *,
    answers: dict[str, str] | None = None,
    decision: str | None = None,
    pd: float | None = None,
    recommended: str | None = None,
    requested: float = 262_500.0,
    name: str = "Ana Pérez",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(request dict, result dict); the result validates as AssessmentResult."""
    rng = rng or random.Random(0)
    answers = answers or {q: rng.choice(codes) for q, codes in QUESTIONS.items()}
    pd = rng.uniform(0.01, 0.6) if pd is None else pd
    decision = decision or rng.choice(["aprobado", "rechazado", "revisar"])
    recommended = recommended or rng.choice(BANKS)
    score = max(0, min(1000, int(600 + 72.13 * (__import__("math").log((1 - pd) / pd / 10)))))
    request = {
        "answers": answers,
        "loan": {"vehicle_price": requested / 0.75, "term_months": 48},
        "applicant": {"birth_year": 1988, "monthly_income": None, "name": name},
    }
    reasons = {
        b: [{"question": q, "answer": a, "points": 1, "rejected": False} for q, a in answers.items()] for b in BANKS
    }
    result = {
        "bank_fit": {
            "recommended": recommended,
            "second": None,
            "scores": dict.fromkeys(BANKS, 20),
            "rejections": {b: [] for b in BANKS},
            "low_score": False,
            "band": "Bueno",
            "eligible": [recommended],
            "ranking": [recommended] + [b for b in BANKS if b != recommended],
            "no_eligible_bank": False,
            "reasons": reasons,
        },
        "pd": {"probability": pd, "model_version": "applicant-test", "top_features": []},
        "credit_score": score,
        "fuzzy": {"risk": round(pd * 100, 2), "inputs": {"ingreso": 2.5, "estabilidad": 9.0, "puntaje": score}},
        "ontology": {
            "asserted_triples": 10,
            "inferred_triples": 20,
            "facts": {
                "name": name,
                "birth_year": 1988,
                "age": 38,
                "risk": pd * 100,
                "income": 25000.0,
                "score": float(score),
                "debt_capacity": 300000.0,
                "requested": requested,
                "term_months": 48,
            },
        },
        "expert": {"decision": decision, "rate": 12.5, "fired_rules": ["R9", "R12"]},
        "derived": {
            "age": 38,
            "income_mxn": 25000.0,
            "income_source": "band",
            "stability": 9.0,
            "down_payment_fraction": 0.25,
            "requested_amount": requested,
            "existing_payments": 2500.0,
            "debt_capacity": 300000.0,
        },
        "expected_loss": pd * 0.45 * requested,
        "loss_inputs": {
            "product": "auto",
            "lgd": 0.45,
            "ead_factor": 1.0,
            "exposure": requested,
            "source": "Supuesto de prueba",
        },
        "escalate": decision == "revisar",
        "escalation_reasons": ["revisar"] if decision == "revisar" else [],
        "policy_version": "2026.11.1",
        "policy_hash": "0" * 64,
        "model_version": "applicant-test",
        "engine_version": "0.1.0",
    }
    AssessmentResult.model_validate(result)  # the fixture must keep matching the contract
    return request, result


@pytest.fixture
def result_factory():
    """`make_result` as a fixture (tests run with --import-mode=importlib, so helpers are not importable)."""
    return make_result
