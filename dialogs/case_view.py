"""The assessment behind a case, explained for advisors: the fired-rule trace, the bank knock-outs, the reasons.

One reading of a result for every advisors' surface: the Telegram case card shows it in short (the top rules
and the knock-outs, `short_lines`), the advisors' page whole (`CaseExplanation`). Rule texts come from the
policy (dialogs/card.py's `rule_descriptions`), answer labels and bank names too.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from dialogs import texts
from dialogs.card import (
    DECISION_LABELS,
    DECISIVE_RULES,
    knockout_answers,
    max_total,
    reasons,
    rule_descriptions,
    shown_band,
)
from engine.policy import Policy
from engine.types import AssessmentResult

# rules the applicant-facing descriptions leave out (they only price an approval)
_PRICING = {"R12": "tasa base según el riesgo y el puntaje", "R17": "tasa llevada al rango permitido"}
SHORT_RULES = 3  # rules on the Telegram card


@dataclass(frozen=True, slots=True)
class FiredRule:
    code: str
    text: str
    decisive: bool  # one of the rules that decide this verdict (the others price it or add facts)


@dataclass(frozen=True, slots=True)
class Knockout:
    answer: str  # «historial crediticio «Malo»»
    banks: tuple[str, ...]  # the banks it rejects


@dataclass(frozen=True)
class CaseExplanation:
    decision: str
    decision_label: str
    rate: float | None
    pd: float
    score: int
    recommended: str
    second: str | None
    band: str | None  # None with no eligible bank (dialogs/card.py shown_band)
    total: int
    max_total: int
    low_score: bool
    no_eligible_bank: bool
    rules: tuple[FiredRule, ...]
    knockouts: tuple[Knockout, ...]
    rejections: dict[str, list[str]] = field(default_factory=dict)  # bank name -> rejected answers in words
    reasons: tuple[str, ...] = ()  # the result card's "Lo que más pesó"

    def top_rules(self, n: int = SHORT_RULES) -> list[FiredRule]:
        """The decisive rules first, then the rest, in firing order."""
        ordered = [r for r in self.rules if r.decisive] + [r for r in self.rules if not r.decisive]
        return ordered[:n]


def as_result(result: AssessmentResult | dict[str, Any] | None) -> AssessmentResult | None:
    """A stored result (JSON) read back; None when it no longer fits the current types."""
    if result is None or isinstance(result, AssessmentResult):
        return result
    try:
        return AssessmentResult.model_validate(result)
    except ValueError:
        return None


def explain(result: AssessmentResult, policy: Policy) -> CaseExplanation:
    descriptions = {**_PRICING, **rule_descriptions(policy)}
    decision = result.expert.decision
    decisive = DECISIVE_RULES.get(decision, ())
    rules = tuple(FiredRule(c, descriptions.get(c, c), c in decisive) for c in result.expert.fired_rules)
    fit = result.bank_fit
    answers = knockout_answers(result, policy)
    knockouts = []
    for knockout, words in zip(fit.knockouts, answers, strict=False):
        question = knockout.partition("=")[0]
        banks = tuple(policy.banks.get(b, b) for b, qs in fit.rejections.items() if question in qs)
        knockouts.append(Knockout(words, banks))
    rejections = {}
    for bank, questions in fit.rejections.items():
        if questions:
            rejections[policy.banks.get(bank, bank)] = [texts.FIELD_NAMES.get(q, q).lower() for q in questions]
    return CaseExplanation(
        decision=decision,
        decision_label=DECISION_LABELS.get(decision, decision),
        rate=result.expert.rate if decision == "aprobado" else None,
        pd=result.pd.probability,
        score=result.credit_score,
        recommended=policy.banks.get(fit.recommended, fit.recommended),
        second=policy.banks.get(fit.second, fit.second) if fit.second else None,
        band=shown_band(fit),
        total=fit.scores.get(fit.recommended, 0),
        max_total=max_total(policy),
        low_score=fit.low_score,
        no_eligible_bank=fit.no_eligible_bank,
        rules=rules,
        knockouts=tuple(knockouts),
        rejections=rejections,
        reasons=tuple(reasons(result, policy)),
    )


def short_lines(result: AssessmentResult | None, policy: Policy) -> list[str]:
    """The card's explanation in two lines at most: the top fired rules, the knock-outs (Telegram HTML)."""
    if result is None:
        return []
    e = explain(result, policy)
    out = []
    if e.rules:
        rules = "; ".join(f"{r.code} {html.escape(r.text)}" for r in e.top_rules())
        out.append(texts.CASE_RULES.format(rules=rules))
    if e.knockouts:
        # knockout_answers escapes the labels already
        answers = "; ".join(
            f"{k.answer} ({html.escape(', '.join(k.banks))})" if k.banks else k.answer for k in e.knockouts
        )
        out.append(texts.CASE_KNOCKOUTS.format(answers=answers))
    return out
