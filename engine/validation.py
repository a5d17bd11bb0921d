"""Input validation of an assessment request: structure (pydantic) and policy (answer codes, limits).

Every problem names its field with a dotted path (`answers.enganche`, `loan.vehicle_price`) so the CLI,
the API and the dialog can point at it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import ValidationError

from engine.policy import QUESTIONS, Policy
from engine.types import AssessmentRequest


class AssessmentInputError(ValueError):
    """Invalid assessment input; `errors` is a list of {"field", "message", "type", "ctx"}: `message` is the
    engine's plain English, `type` and `ctx` (pydantic's error type, or one of the policy checks' below, and
    their values) let an adapter say it in its own words (core.copy_es)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))

    def to_dict(self) -> dict[str, Any]:
        return {"error": "invalid_input", "message": str(self), "errors": self.errors}


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "<input>"


def parse_request(data: Any, policy: Policy, as_of: date) -> AssessmentRequest:
    """Validate a decoded JSON value (or an AssessmentRequest) against the contract and the policy."""
    if isinstance(data, AssessmentRequest):
        request = data
    else:
        if not isinstance(data, dict):
            raise AssessmentInputError(
                [{"field": "<input>", "message": "expected a JSON object", "type": "model_type", "ctx": {}}]
            )
        try:
            request = AssessmentRequest.model_validate(data)
        except ValidationError as exc:
            raise AssessmentInputError(
                [
                    {"field": _field(e["loc"]), "message": e["msg"], "type": e["type"], "ctx": _plain(e.get("ctx"))}
                    for e in exc.errors()
                ]
            ) from None
    errors = check_against_policy(request, policy, as_of)
    if errors:
        raise AssessmentInputError(errors)
    return request


def _plain(ctx: dict[str, Any] | None) -> dict[str, Any]:
    """pydantic's error context with its values as JSON values (an exception in `error` becomes its text)."""
    return {k: v if isinstance(v, int | float | str | bool | None) else str(v) for k, v in (ctx or {}).items()}


def check_against_policy(request: AssessmentRequest, policy: Policy, as_of: date) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    answers = request.answers.model_dump()
    for q in QUESTIONS:
        allowed = policy.answers[q]
        if answers[q] not in allowed:
            errors.append(
                {
                    "field": f"answers.{q}",
                    "message": f"unknown code {answers[q]!r}; expected one of {list(allowed)}",
                    "type": "unknown_code",
                    "ctx": {"value": answers[q], "allowed": list(allowed)},
                }
            )
    lim = policy.limits
    price = request.loan.vehicle_price
    if not lim.vehicle_price_min <= price <= lim.vehicle_price_max:
        errors.append(
            {
                "field": "loan.vehicle_price",
                "message": f"must be between {lim.vehicle_price_min:,.0f} and {lim.vehicle_price_max:,.0f} MXN",
                "type": "price_range",
                "ctx": {"min": lim.vehicle_price_min, "max": lim.vehicle_price_max},
            }
        )
    term = request.loan.term_months
    if not lim.term_months_min <= term <= lim.term_months_max:
        errors.append(
            {
                "field": "loan.term_months",
                "message": f"must be between {lim.term_months_min} and {lim.term_months_max}",
                "type": "term_range",
                "ctx": {"min": lim.term_months_min, "max": lim.term_months_max},
            }
        )
    age = as_of.year - request.applicant.birth_year
    if not lim.age_min <= age <= lim.age_max:
        errors.append(
            {
                "field": "applicant.birth_year",
                "message": f"gives an age of {age} in {as_of.year}; accepted ages are {lim.age_min}–{lim.age_max}",
                "type": "age_range",
                "ctx": {"age": age, "year": as_of.year, "min": lim.age_min, "max": lim.age_max},
            }
        )
    income = request.applicant.monthly_income
    if income is not None and income > lim.monthly_income_max:
        errors.append(
            {
                "field": "applicant.monthly_income",
                "message": f"must not exceed {lim.monthly_income_max:,.0f} MXN",
                "type": "income_max",
                "ctx": {"max": lim.monthly_income_max},
            }
        )
    return errors
