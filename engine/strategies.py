"""Segment strategies: the action the policy's `[strategies]` rules suggest for a segment's figures.

A segment is a combination of answer codes (payroll bank × income band × down payment, by default) with its
figures over a period: applicants (assessments), approval and review rates, mean PD and expected loss per
applicant. The rules are tried in the policy's order; the first whose conditions all hold gives the action.
Pure functions: the figures come from storage.analytics, the rules from the policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.policy import Policy
from engine.policy.models import StrategyRule, StrategyWhen

NO_ACTION = {"action": None, "label": "Sin acción sugerida", "rule": None}
SMALL = {"action": None, "label": "Muestra pequeña: sin sugerencia", "rule": None}

_THRESHOLDS = (
    ("applicants_at_least", "applicants", ">="),
    ("approval_rate_at_least", "approval_rate", ">="),
    ("approval_rate_below", "approval_rate", "<"),
    ("review_rate_at_least", "review_rate", ">="),
    ("mean_pd_at_least", "mean_pd", ">="),
    ("mean_pd_below", "mean_pd", "<"),
    ("expected_loss_per_applicant_at_least", "expected_loss_per_applicant", ">="),
    ("expected_loss_per_applicant_below", "expected_loss_per_applicant", "<"),
)
_CODES = ("payroll_bank", "income_band", "down_payment", "tenure", "recommended_bank")


def holds(when: StrategyWhen, segment: Mapping[str, Any]) -> bool:
    for key, figure, op in _THRESHOLDS:
        limit = getattr(when, key)
        if limit is None:
            continue
        value = segment.get(figure)
        if value is None or not (value >= limit if op == ">=" else value < limit):
            return False
    for dim in _CODES:
        codes = getattr(when, dim)
        if codes is not None and segment.get(dim) not in codes:
            return False
    return True


def suggest(segment: Mapping[str, Any], policy: Policy) -> dict[str, Any]:
    """{action, label, rule (1-based position in the policy), bank} for one segment's figures."""
    st = policy.strategies
    if segment.get("applicants", 0) < st.min_applicants:
        return dict(SMALL)
    for i, rule in enumerate(st.rules, 1):
        if holds(rule.when, segment):
            return _action(rule, i, segment, policy)
    return dict(NO_ACTION)


def _action(rule: StrategyRule, position: int, segment: Mapping[str, Any], policy: Policy) -> dict[str, Any]:
    bank = (rule.bank or segment.get("top_bank")) if rule.action == "promote" else None
    name = policy.banks.get(bank, bank) if bank else "—"
    return {"action": rule.action, "label": rule.label.replace("{bank}", name), "rule": position, "bank": bank}


def rank(segments: list[dict[str, Any]], policy: Policy) -> list[dict[str, Any]]:
    """Segments with their suggestion, best first by the policy's `rank_by` (ties: more applicants first)."""
    st = policy.strategies
    out = [{**s, "suggestion": suggest(s, policy)} for s in segments]
    key = st.rank_by
    sign = -1 if st.descending else 1
    # segments too small for a suggestion go after the others, however they rank
    out.sort(
        key=lambda s: (
            s.get("applicants", 0) < st.min_applicants,
            s.get(key) is None,
            sign * (s.get(key) or 0),
            -s.get("applicants", 0),
        )
    )
    for i, s in enumerate(out, 1):
        s["rank"] = i
    return out
