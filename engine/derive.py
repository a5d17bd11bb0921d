"""SPEC §4: the numbers the fuzzy system, the ontology and the expert rules need, derived from one request."""

from __future__ import annotations

from datetime import date

from engine.policy import Policy
from engine.types import AssessmentRequest, Derived


def present_value(payment: float, annual_rate: float, months: int) -> float:
    """Present value of `months` equal monthly payments at a nominal annual rate (monthly compounding)."""
    if payment <= 0 or months <= 0:
        return 0.0
    r = annual_rate / 12.0
    if r == 0:
        return payment * months
    return payment * (1.0 - (1.0 + r) ** -months) / r


def derive(request: AssessmentRequest, policy: Policy, as_of: date) -> Derived:
    answers, loan, applicant = request.answers, request.loan, request.applicant
    m = policy.mappings
    declared = applicant.monthly_income
    income = float(declared) if declared is not None else m.income_by_band[answers.ingreso_mensual]
    fraction = m.down_payment_fraction[answers.enganche]
    existing = income * m.existing_payment_share[answers.creditos_vigentes]
    # what is left for a new monthly payment under the DTI cap, as a loan amount over the requested term
    free_payment = income * policy.capacity.max_dti - existing
    capacity = present_value(free_payment, policy.capacity.reference_rate_annual, loan.term_months)
    return Derived(
        age=as_of.year - applicant.birth_year,
        income_mxn=income,
        income_source="declared" if declared is not None else "band",
        stability=m.stability_by_tenure[answers.trabajo_tiempo],
        down_payment_fraction=fraction,
        requested_amount=round(loan.vehicle_price * (1.0 - fraction), 2),
        existing_payments=round(existing, 2),
        debt_capacity=round(capacity, 2),
    )
