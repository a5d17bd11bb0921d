"""Bank fit: seed 002's table and algorithm (with SPEC §3's corrections).

For each of the six banks: add the points of every answer's cell, mark the bank ineligible when any cell is a
rejection ("R"). Eligible banks are ranked by total, ties in table order (stable sort). When no bank is
eligible (case 1) the bank with the fewest rejected criteria is recommended and the profile is flagged
`low_score`; a best eligible total below the policy threshold (case 2) also sets `low_score`.

Totals count every numeric cell, rejected bank or not: the seed's algorithm adds each number whatever the
rejections, and case 1's tie-break uses those totals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engine.policy import QUESTIONS, REJECT, Policy
from engine.types import BankFitResult, CriterionScore


@dataclass(frozen=True, slots=True)
class _Cell:
    points: int  # 0 where the cell is a rejection
    rejected: bool
    reason: CriterionScore  # the explanation of this cell, shared by every result (frozen)


@dataclass(frozen=True, slots=True)
class BankTable:
    """The policy's table as tuples, indexed [question][answer] -> one cell per bank, built once per policy."""

    banks: tuple[str, ...]
    cells: dict[str, dict[str, tuple[_Cell, ...]]]
    low_score_threshold: int
    policy: Policy

    @classmethod
    def from_policy(cls, policy: Policy) -> BankTable:
        def cell(q: str, code: str, c: int | str) -> _Cell:
            rejected = c == REJECT
            points = 0 if rejected else int(c)
            reason = CriterionScore(question=q, answer=code, points=None if rejected else points, rejected=rejected)
            return _Cell(points, rejected, reason)

        cells = {
            q: {code: tuple(cell(q, code, c) for c in row) for code, row in rows.items()}
            for q, rows in policy.bank_fit.table.items()
        }
        return cls(policy.bank_codes, cells, policy.bank_fit.low_score_threshold, policy)


_TABLES: dict[str, BankTable] = {}


def bank_table(policy: Policy) -> BankTable:
    """The table of a policy, built once per policy content."""
    table = _TABLES.get(policy.content_hash)
    if table is None:
        table = _TABLES[policy.content_hash] = BankTable.from_policy(policy)
    return table


def fit_banks(answers: Mapping[str, str], policy: Policy) -> BankFitResult:
    """Score the six banks for one applicant's eight answers (codes already validated)."""
    table = bank_table(policy)
    n = len(table.banks)
    totals = [0] * n
    rejected_by: list[list[str]] = [[] for _ in range(n)]
    reasons: list[list[CriterionScore]] = [[] for _ in range(n)]
    knockouts: list[str] = []
    for q in QUESTIONS:
        answer = answers[q]
        for i, cell in enumerate(table.cells[q][answer]):
            totals[i] += cell.points
            if cell.rejected:
                rejected_by[i].append(q)
            reasons[i].append(cell.reason)
        if any(cell.rejected for cell in table.cells[q][answer]):
            knockouts.append(f"{q}={answer}")

    # sorted() is stable: equal totals keep table order
    eligible = sorted((i for i in range(n) if not rejected_by[i]), key=lambda i: -totals[i])
    rejected = sorted((i for i in range(n) if rejected_by[i]), key=lambda i: (len(rejected_by[i]), -totals[i]))
    if eligible:
        recommended = eligible[0]
        second = eligible[1] if len(eligible) > 1 else None
        low_score = totals[recommended] < table.low_score_threshold
    else:
        # case 1: fewest rejected criteria, then higher total, then table order
        recommended, second, low_score = rejected[0], None, True

    banks = table.banks
    return BankFitResult(
        recommended=banks[recommended],
        second=banks[second] if second is not None else None,
        scores={banks[i]: totals[i] for i in range(n)},
        rejections={banks[i]: rejected_by[i] for i in range(n)},
        low_score=low_score,
        band=policy.bank_fit.band_for(totals[recommended]),
        eligible=[banks[i] for i in eligible],
        ranking=[banks[i] for i in (*eligible, *rejected)],
        no_eligible_bank=not eligible,
        knockouts=knockouts,
        reasons={banks[i]: reasons[i] for i in range(n)},
    )
