from __future__ import annotations

import numpy as np
import pytest

from engine.training.calibration import (
    IDENTITY,
    CalibrationError,
    Platt,
    calibration_slope_intercept,
    reliability,
    reliability_table,
)
from engine.training.logit import DesignSpec, LogitModel, fit_logit
from engine.training.metrics import evaluate
from engine.training.registry import APPLICANT_FORMAT, SEED001_FORMAT
from engine.training.resampling import resample, stratified_split


def test_calibration_lowers_the_brier_score_of_a_resampled_model(dataset) -> None:
    sp = stratified_split(dataset.X, dataset.y, seed=0)
    spec = DesignSpec.fit(dataset.X, dataset.categorical)
    Xr, yr = resample(sp.X_train, sp.y_train, "under", seed=0)
    model = LogitModel.from_fit(spec, fit_logit(spec, Xr, yr, spec.terms))
    raw = model.predict_proba(sp.X_valid)
    cal = Platt.fit_pd(model.predict_proba(sp.X_train), sp.y_train.to_numpy())(raw)
    yv = sp.y_valid.to_numpy()
    before, after = evaluate(yv, raw), evaluate(yv, cal)
    # 50/50 training inflates PD well above the real default rate; recalibration brings it back
    assert raw.mean() > 2 * yv.mean()
    assert abs(cal.mean() - yv.mean()) < 0.03
    assert after.brier < before.brier * 0.9
    # monotone: ranking unchanged
    assert abs(after.roc_auc - before.roc_auc) < 1e-12


def test_platt_recovers_a_known_slope_and_intercept_by_name() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2, 20000)
    y = (rng.random(len(z)) < 1 / (1 + np.exp(-(0.5 * z - 1.0)))).astype(int)
    cal = Platt.fit(z, y)
    assert cal.slope == pytest.approx(0.5, abs=0.05)
    assert cal.intercept == pytest.approx(-1.0, abs=0.06)
    assert cal.to_dict() == {"method": "platt", "slope": cal.slope, "intercept": cal.intercept}
    expected = 1 / (1 + np.exp(-(cal.slope * z + cal.intercept)))
    np.testing.assert_allclose(Platt.from_dict(cal.to_dict()).on_logit(z), expected)


def test_platt_never_reverses_the_order() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(0, 1, 3000)
    y = (rng.random(3000) < 1 / (1 + np.exp(z))).astype(int)  # higher z, fewer defaults
    assert Platt.fit(z, y).slope == 0.0  # bounded: flattens instead of reordering


def test_old_artifacts_load_with_the_meaning_of_their_format() -> None:
    """Applicant artifacts stored σ(a·z + b), seed-001 ones σ(a + b·z): both read as the same Platt."""
    old = {"method": "platt", "a": 0.8, "b": -0.3}
    applicant = {"format": APPLICANT_FORMAT, "model_version": "a1", "calibration": old}
    seed001 = {"format": SEED001_FORMAT, "model_version": "s1", "calibration": {"method": "platt", "a": -0.3, "b": 0.8}}
    assert Platt.from_artifact(applicant) == Platt(slope=0.8, intercept=-0.3)
    assert Platt.from_artifact(seed001) == Platt(slope=0.8, intercept=-0.3)
    none = {"format": APPLICANT_FORMAT, "model_version": "x", "calibration": {"method": "none", "a": 1.0, "b": 0.0}}
    assert Platt.from_artifact(none) == IDENTITY


def test_an_unattributable_calibration_is_refused_naming_the_artifact() -> None:
    with pytest.raises(CalibrationError, match=r"mystery-1.*retrain"):
        Platt.from_artifact({"format": "other", "model_version": "mystery-1", "calibration": {"a": 1, "b": 0}})
    with pytest.raises(CalibrationError, match="mystery-2"):
        Platt.from_artifact({"format": APPLICANT_FORMAT, "model_version": "mystery-2"})


def test_prior_shift_moves_the_mean_not_the_order() -> None:
    z = np.linspace(-3, 3, 101)
    base = IDENTITY.on_logit(z)
    shifted = IDENTITY.shifted(0.30, 0.08).on_logit(z)
    assert np.all(np.diff(shifted) > 0) and np.all(shifted < base)
    odds = lambda p: p / (1 - p)  # noqa: E731
    np.testing.assert_allclose(odds(shifted) / odds(base), (0.08 / 0.92) / (0.30 / 0.70))


def test_reliability_and_calibration_slope_of_a_calibrated_forecast() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0.01, 0.99, 5000)
    y = (rng.random(5000) < p).astype(int)
    mean_pred, observed = reliability(y, p)
    assert len(mean_pred) == len(observed) == 10
    assert np.all(np.abs(mean_pred - observed) < 0.06)
    rows = reliability_table(y, p)
    assert sum(r["rows"] for r in rows) == 5000 and all(abs(r["mean_pd"] - r["observed"]) < 0.06 for r in rows)
    slope, intercept = calibration_slope_intercept(y, p)
    assert slope == pytest.approx(1.0, abs=0.1) and intercept == pytest.approx(0.0, abs=0.1)
    # PDs pushed away from 0.5 (an overfitted model) show as a slope below 1
    too_spread = 1 / (1 + np.exp(-2 * np.log(p / (1 - p))))
    assert calibration_slope_intercept(y, too_spread)[0] == pytest.approx(0.5, abs=0.06)
