from __future__ import annotations

import numpy as np

from engine.training.calibration import PlattCalibrator, reliability
from engine.training.logit import DesignSpec, LogitModel, fit_logit
from engine.training.metrics import evaluate
from engine.training.resampling import resample, stratified_split


def test_calibration_lowers_the_brier_score_of_a_resampled_model(dataset) -> None:
    sp = stratified_split(dataset.X, dataset.y, seed=0)
    spec = DesignSpec.fit(dataset.X, dataset.categorical)
    Xr, yr = resample(sp.X_train, sp.y_train, "under", seed=0)
    model = LogitModel.from_fit(spec, fit_logit(spec, Xr, yr, spec.terms))
    raw = model.predict_proba(sp.X_valid)
    cal = PlattCalibrator.fit(model.predict_proba(sp.X_train), sp.y_train.to_numpy())(raw)
    yv = sp.y_valid.to_numpy()
    before, after = evaluate(yv, raw), evaluate(yv, cal)
    # 50/50 training inflates PD well above the real default rate; recalibration brings it back
    assert raw.mean() > 2 * yv.mean()
    assert abs(cal.mean() - yv.mean()) < 0.03
    assert after.brier < before.brier * 0.9
    # monotone: ranking unchanged
    assert abs(after.roc_auc - before.roc_auc) < 1e-12


def test_platt_round_trip_and_reliability_shape() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0.01, 0.99, 5000)
    y = (rng.random(5000) < p).astype(int)
    cal = PlattCalibrator.fit(p, y)
    assert abs(cal.b - 1) < 0.15 and abs(cal.a) < 0.15  # already calibrated: close to identity
    again = PlattCalibrator.from_dict(cal.to_dict())
    np.testing.assert_allclose(again(p), cal(p))
    mean_pred, observed = reliability(y, p)
    assert len(mean_pred) == len(observed) == 10
    assert np.all(np.abs(mean_pred - observed) < 0.06)
