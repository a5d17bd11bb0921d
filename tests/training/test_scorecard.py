from __future__ import annotations

import json
import math

import numpy as np

from engine.pd.scaling import fixed_base_odds
from engine.policy import default_policy
from engine.training.scorecard import Scaling, Scorecard, bin_numeric, fit_scorecard


def _scaling() -> Scaling:
    s = default_policy().score_scaling
    return Scaling(s.base_points, fixed_base_odds(default_policy()), s.pdo, s.min_score, s.max_score)


def test_pdo_scaling_from_the_policy() -> None:
    sc = _scaling()
    # #12: the shipped scale is anchored at the book's odds, read here at the policy's reference book rate (8 %):
    # 600 points at odds 11.5:1 (PD 0.08); doubling the odds adds PDO (100) points
    assert math.isclose(sc.score_from_pd(np.array([0.08]))[0], 600.0, abs_tol=1e-9)
    assert math.isclose(sc.score_from_pd(np.array([1 / 24]))[0], 700.0, abs_tol=1e-9)
    # the same checkpoint as the applicant engine (tests/engine/test_pd.py): PD 5 % -> 672
    assert round(sc.score_from_pd(np.array([0.05]))[0]) == 672


def test_numeric_bins_have_monotone_woe() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, 5000)
    y = (rng.random(5000) < 1 / (1 + np.exp(-(x * 1.5 - 1.5)))).astype(int)
    b = bin_numeric("x", x, y)
    woe = np.array(b.woe)
    assert np.all(np.diff(woe) >= 0)  # risk rises with x: WoE (ln %bad/%good) never falls
    assert b.iv > 0.3 and sum(b.counts) == 5000 and sum(b.bads) == y.sum()


def test_scorecard_points_add_up_and_reason_codes_name_the_costliest_features(dataset) -> None:
    card = fit_scorecard(dataset.X, dataset.y, dataset.categorical, _scaling())
    assert "ruido" not in card.features  # IV below the bar
    assert {"deuda", "cuentas"} <= set(card.features)
    pts = card.points(dataset.X)
    raw = card.base_points + pts.sum(axis=1).to_numpy()
    np.testing.assert_allclose(np.clip(raw, 0, 1000), card.score(dataset.X))  # clamped to the policy's range
    # points and PD agree with the scaling
    np.testing.assert_allclose(
        card.scaling.score_from_pd(card.predict_proba(dataset.X)), card.score(dataset.X), atol=1e-6
    )
    # a worst-case applicant: reasons are the features whose bins cost points, biggest loss first
    worst = dataset.X.head(1).assign(deuda=dataset.X["deuda"].max(), cuentas=0)
    reasons = card.reason_codes(worst)[0]
    assert reasons[0]["variable"] in {"deuda", "cuentas"}
    losses = [r["puntos_perdidos"] for r in reasons]
    assert losses == sorted(losses, reverse=True) and losses[0] > 0
    # a best-case applicant loses nothing on those features
    best = dataset.X.head(1).assign(deuda=dataset.X["deuda"].min(), cuentas=dataset.X["cuentas"].max())
    assert not {r["variable"] for r in card.reason_codes(best)[0]} & {"deuda", "cuentas"}
    again = Scorecard.from_dict(json.loads(json.dumps(card.to_dict())))
    np.testing.assert_allclose(again.score(dataset.X), card.score(dataset.X))
