"""PD <-> 0–1000 credit score by scorecard scaling (SPEC §4).

score = base_points + (pdo / ln 2) · ln(odds_good / base_odds), odds_good = (1 − PD) / PD, clamped to
min_score..max_score and rounded. `pdo` points double the odds of being good.

With `anchor = "book"` the base odds are relative to the book's: base_odds × (1 − r) / r, where r is the default
rate the PD is calibrated to (`book_bad_rate`: the policy's portfolio_bad_rate, else the training data's).
A prior shift moves every applicant's log-odds and the book's by the same amount, so the score, and every rule
that reads it, does not depend on the assumed rate (docs/engine.md, "Calibration").
"""

from __future__ import annotations

import math
from typing import Any

from engine.policy.models import ScoreScaling

# PD is kept away from 0 and 1 so that the log-odds stay finite; the clamp decides the extremes anyway.
_EPS = 1e-12


def book_bad_rate(pd_model: Any) -> float:
    """The default rate a PD model's output is calibrated to: the policy's stated portfolio rate (the prior
    shift), else the rate of the data it was trained on."""
    stated = pd_model.mapper.mapping.portfolio_bad_rate
    return float(stated) if stated is not None else float(pd_model.artifact["metrics"]["bad_rate"])


def fixed_base_odds(policy: Any) -> float:
    """The policy's scale as fixed base odds of being good, for scorecards outside the applicant engine (the
    analysts' seed-001 study): a book-anchored scale is read at the policy's reference book rate
    ([pd].cutoff_reference_rate), the rate the PD cut-offs are written for."""
    return _base_odds(policy.score_scaling, policy.pd.cutoff_reference_rate)


def _base_odds(scaling: ScoreScaling, book_rate: float | None) -> float:
    if scaling.anchor == "fixed":
        return scaling.base_odds
    if book_rate is None:
        raise ValueError("score_scaling.anchor = 'book' needs the book's default rate")
    return scaling.base_odds * (1.0 - book_rate) / book_rate


def raw_score_from_pd(pd: float, scaling: ScoreScaling, book_rate: float | None = None) -> float:
    """The unclamped, unrounded score of a PD."""
    p = min(max(pd, _EPS), 1.0 - _EPS)
    factor = scaling.pdo / math.log(2.0)
    return scaling.base_points + factor * math.log(((1.0 - p) / p) / _base_odds(scaling, book_rate))


def score_from_pd(pd: float, scaling: ScoreScaling, book_rate: float | None = None) -> int:
    """Credit score (integer, clamped) of a probability of default."""
    if not 0.0 <= pd <= 1.0 or math.isnan(pd):
        raise ValueError(f"a probability of default must be within [0, 1], got {pd}")
    score = round(raw_score_from_pd(pd, scaling, book_rate))
    return int(min(max(score, scaling.min_score), scaling.max_score))


def pd_from_score(score: float, scaling: ScoreScaling, book_rate: float | None = None) -> float:
    """The PD a score stands for (inverse of the unclamped scaling; for reports and cut-off tables)."""
    factor = scaling.pdo / math.log(2.0)
    odds_good = _base_odds(scaling, book_rate) * math.exp((score - scaling.base_points) / factor)
    return 1.0 / (1.0 + odds_good)
