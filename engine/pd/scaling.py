"""PD <-> 0–1000 credit score by scorecard scaling (SPEC §4).

score = base_points + (pdo / ln 2) · ln(odds_good / base_odds), odds_good = (1 − PD) / PD, clamped to
min_score..max_score and rounded. `pdo` points double the odds of being good.
"""

from __future__ import annotations

import math

from engine.policy.models import ScoreScaling

# PD is kept away from 0 and 1 so that the log-odds stay finite; the clamp decides the extremes anyway.
_EPS = 1e-12


def raw_score_from_pd(pd: float, scaling: ScoreScaling) -> float:
    """The unclamped, unrounded score of a PD."""
    p = min(max(pd, _EPS), 1.0 - _EPS)
    factor = scaling.pdo / math.log(2.0)
    return scaling.base_points + factor * math.log(((1.0 - p) / p) / scaling.base_odds)


def score_from_pd(pd: float, scaling: ScoreScaling) -> int:
    """Credit score (integer, clamped) of a probability of default."""
    if not 0.0 <= pd <= 1.0 or math.isnan(pd):
        raise ValueError(f"a probability of default must be within [0, 1], got {pd}")
    score = round(raw_score_from_pd(pd, scaling))
    return int(min(max(score, scaling.min_score), scaling.max_score))


def pd_from_score(score: float, scaling: ScoreScaling) -> float:
    """The PD a score stands for (inverse of the unclamped scaling; for reports and cut-off tables)."""
    factor = scaling.pdo / math.log(2.0)
    odds_good = scaling.base_odds * math.exp((score - scaling.base_points) / factor)
    return 1.0 / (1.0 + odds_good)
