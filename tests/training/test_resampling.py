from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.training.resampling import STRATEGIES, resample, smote_targets, stratified_split
from tests.training.conftest import make_frame


def _xy(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    return frame[["deuda", "cuentas", "ruido", "monto"]], frame["malo"]


def test_split_is_60_40_and_stratified(frame: pd.DataFrame) -> None:
    X, y = _xy(frame)
    sp = stratified_split(X, y, valid_share=0.4, seed=1)
    assert len(sp.y_train) + len(sp.y_valid) == len(y)
    assert abs(len(sp.y_valid) - 0.4 * len(y)) <= 1
    # stratified: both parts keep the default rate to within one row's worth
    assert abs(sp.y_train.mean() - y.mean()) < 1 / len(sp.y_train) + 1e-12
    assert abs(sp.y_valid.mean() - y.mean()) < 1 / len(sp.y_valid) + 1e-12
    # fixed seed: same split again
    assert stratified_split(X, y, valid_share=0.4, seed=1).y_valid.index.equals(sp.y_valid.index)


def test_class_ratios_match_the_report(frame: pd.DataFrame) -> None:
    X, y = _xy(frame)
    n, n_pos = len(y), int(y.sum())
    n_neg = n - n_pos
    assert n_pos < n_neg
    counts = {}
    for s in STRATEGIES:
        Xr, yr = resample(X, y, s, seed=3)
        assert len(Xr) == len(yr)
        counts[s] = (int((yr == 0).sum()), int(yr.sum()))
    assert counts["none"] == (n_neg, n_pos)
    assert counts["over"] == (n_neg, n_neg)  # minority drawn up to 50/50
    assert counts["under"] == (n_pos, n_pos)  # majority dropped down to 50/50
    neg, pos = counts["both"]
    assert neg + pos == n  # ROSE "both": size N, minority ~ Binomial(N, 0.5)
    assert abs(pos - n / 2) < 4 * np.sqrt(n / 4)
    assert counts["smote"] == (3 * n_pos, 2 * n_pos)  # minority doubled, 3 majority per synthetic row
    assert smote_targets(5036) == (10072, 15108)  # the seed's own figures


def test_smote_rows_are_new_points_between_minority_rows(frame: pd.DataFrame) -> None:
    X, y = _xy(frame)
    Xr, yr = resample(X, y, "smote", seed=0)
    minority = X[y == 1]
    synth = Xr[yr == 1]
    assert len(synth) == 2 * len(minority)
    # half the minority rows are synthetic: not copies of an original row
    originals = set(map(tuple, minority.round(9).to_numpy()))
    new = [r for r in map(tuple, synth.round(9).to_numpy()) if r not in originals]
    assert len(new) == len(minority)
    # and they stay inside the minority's range, as interpolations do
    assert (synth["deuda"].between(minority["deuda"].min(), minority["deuda"].max())).all()


def test_smote_with_a_large_minority_draws_the_majority_with_replacement() -> None:
    frame = make_frame(n=600, base_rate_shift=-1.0)  # ~37 % positives: 3 × minority > majority
    X, y = _xy(frame)
    n_pos = int(y.sum())
    assert n_pos < len(y) - n_pos < 3 * n_pos
    _, yr = resample(X, y, "smote", seed=0)
    assert (int((yr == 0).sum()), int(yr.sum())) == (3 * n_pos, 2 * n_pos)


def test_factor_columns_survive_smote(dataset) -> None:
    Xr, _yr = resample(dataset.X, dataset.y, "smote", seed=0, categorical=dataset.categorical)
    assert set(Xr["zona"].unique()) <= {"norte", "centro", "sur"}


def test_resampling_leaves_its_input_alone(frame: pd.DataFrame) -> None:
    X, y = _xy(frame)
    before = X.copy(), y.copy()
    for s in STRATEGIES:
        resample(X, y, s, seed=0)
    pd.testing.assert_frame_equal(X, before[0])
    pd.testing.assert_series_equal(y, before[1])


def test_unknown_strategy() -> None:
    X, y = _xy(make_frame(200))
    with pytest.raises(ValueError, match="unknown strategy"):
        resample(X, y, "magic")


def test_dmwr_smote_finds_neighbours_on_range_scaled_features() -> None:
    """A feature in the 1e5 range must not decide the neighbours alone (imbalanced-learn's raw distance does)."""
    rng = np.random.default_rng(0)
    n = 400
    small = rng.uniform(0, 1, n)
    big = rng.uniform(0, 1e5, n)
    y = pd.Series((np.arange(n) < 100).astype(int), name="malo")
    X = pd.DataFrame({"small": small, "big": big})
    Xr, yr = resample(X, y, "smote_dmwr", seed=0)
    assert (int((yr == 0).sum()), int(yr.sum())) == (300, 200)  # perc.over 100, perc.under 300
    synth = Xr[yr == 1].iloc[100:]
    minority = X[y == 1]
    # each synthetic row lies between a minority row and one of its 5 neighbours in the scaled space:
    # on the scaled axes both gaps are of the same size, not dominated by `big`
    scaled = (minority - minority.min()) / (minority.max() - minority.min())
    s_new = (synth - minority.min()) / (minority.max() - minority.min())
    d_small = np.abs(s_new["small"].to_numpy() - scaled["small"].to_numpy())
    d_big = np.abs(s_new["big"].to_numpy() - scaled["big"].to_numpy())
    assert 0.3 < np.median(d_small) / np.median(d_big) < 3
    # the majority is drawn with replacement, as DMwR does
    assert Xr[yr == 0].duplicated().any() or len(Xr[yr == 0]) > int((y == 0).sum())
