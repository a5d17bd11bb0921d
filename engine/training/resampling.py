"""The seed's 60/40 split and its five rebalancing strategies.

Class ratios follow the seed report (and the R functions it used):
- `none`: the training part as it is;
- `over`: minority rows drawn with replacement until 50/50 (ROSE `ovun.sample(method="over")`);
- `under`: majority rows dropped at random until 50/50 (`method="under"`);
- `both`: ROSE `ovun.sample(method="both", p=0.5)`: the size N stays the training size, the minority count is
  one draw of Binomial(N, 0.5); the minority is drawn with replacement up to it and the majority without
  replacement down to N minus it;
- `smote`: DMwR `SMOTE(perc.over=100, perc.under=300)`: one synthetic row per minority row (minority doubled)
  and three majority rows kept per synthetic row. imbalanced-learn's SMOTE + RandomUnderSampler with explicit
  per-class targets give the same counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from imblearn.over_sampling import SMOTE, SMOTENC
from imblearn.under_sampling import RandomUnderSampler
from sklearn.model_selection import train_test_split

STRATEGIES: tuple[str, ...] = ("none", "over", "under", "both", "smote")
STRATEGY_LABELS = {
    "none": "Sin balanceo",
    "over": "Oversampling 50/50",
    "under": "Undersampling 50/50",
    "both": "Ambas direcciones (ROSE both)",
    "smote": "SMOTE (perc.over=100, perc.under=300)",
}
# DMwR::SMOTE parameters used by the seed
SMOTE_PERC_OVER = 100
SMOTE_PERC_UNDER = 300
SMOTE_K = 5


@dataclass(frozen=True)
class Split:
    X_train: pd.DataFrame
    y_train: pd.Series
    X_valid: pd.DataFrame
    y_valid: pd.Series


def stratified_split(X: pd.DataFrame, y: pd.Series, valid_share: float = 0.4, seed: int = 42) -> Split:
    Xt, Xv, yt, yv = train_test_split(X, y, test_size=valid_share, stratify=y, random_state=seed)
    return Split(
        Xt.reset_index(drop=True), yt.reset_index(drop=True), Xv.reset_index(drop=True), yv.reset_index(drop=True)
    )


def _take(X: pd.DataFrame, y: pd.Series, idx: np.ndarray) -> tuple[pd.DataFrame, pd.Series]:
    return X.iloc[idx].reset_index(drop=True), y.iloc[idx].reset_index(drop=True)


def resample(
    X: pd.DataFrame, y: pd.Series, strategy: str, seed: int = 42, categorical: list[str] | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    """The training part rebalanced by `strategy` (one of STRATEGIES); the input is not modified."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
    rng = np.random.default_rng(seed)
    y_arr = y.to_numpy()
    pos = np.flatnonzero(y_arr == 1)
    neg = np.flatnonzero(y_arr == 0)
    minority, majority = (pos, neg) if len(pos) <= len(neg) else (neg, pos)
    if strategy == "none":
        return X.reset_index(drop=True), y.reset_index(drop=True)
    if strategy == "over":
        extra = rng.choice(minority, size=len(majority) - len(minority), replace=True)
        idx = np.concatenate([majority, minority, extra])
    elif strategy == "under":
        idx = np.concatenate([rng.choice(majority, size=len(minority), replace=False), minority])
    elif strategy == "both":
        n = len(y_arr)
        n_min = int(rng.binomial(n, 0.5))
        n_maj = n - n_min
        idx = np.concatenate(
            [
                rng.choice(majority, size=n_maj, replace=n_maj > len(majority)),
                rng.choice(minority, size=n_min, replace=n_min > len(minority)),
            ]
        )
    else:
        return _smote(X, y, seed, categorical or [], len(minority), int(y_arr[minority[0]]))
    rng.shuffle(idx)
    return _take(X, y, idx)


def smote_targets(n_minority: int) -> tuple[int, int]:
    """(minority, majority) sizes after DMwR SMOTE(perc.over, perc.under) for `n_minority` minority rows."""
    synthetic = n_minority * SMOTE_PERC_OVER // 100
    return n_minority + synthetic, synthetic * SMOTE_PERC_UNDER // 100


def _smote(
    X: pd.DataFrame, y: pd.Series, seed: int, categorical: list[str], n_min: int, min_label: int
) -> tuple[pd.DataFrame, pd.Series]:
    maj_label = 1 - min_label
    n_min_after, n_maj_after = smote_targets(n_min)
    n_maj_before = int((y == maj_label).sum())
    k = min(SMOTE_K, n_min - 1)
    if categorical:
        cat_idx = [X.columns.get_loc(c) for c in categorical]
        sampler = SMOTENC(cat_idx, sampling_strategy={min_label: n_min_after}, k_neighbors=k, random_state=seed)
    else:
        sampler = SMOTE(sampling_strategy={min_label: n_min_after}, k_neighbors=k, random_state=seed)
    Xs, ys = sampler.fit_resample(X, y)
    if n_maj_after <= n_maj_before:
        under = RandomUnderSampler(sampling_strategy={maj_label: n_maj_after}, random_state=seed)
        Xs, ys = under.fit_resample(Xs, ys)
    else:
        # with a minority above 25 % (German Credit) three majority rows per synthetic row are more than there
        # are: DMwR draws the majority with replacement, so do that
        rng = np.random.default_rng(seed)
        ys_arr = np.asarray(ys)
        maj_idx = rng.choice(np.flatnonzero(ys_arr == maj_label), size=n_maj_after, replace=True)
        idx = np.concatenate([maj_idx, np.flatnonzero(ys_arr == min_label)])
        Xs, ys = Xs.iloc[idx], pd.Series(ys_arr[idx], name=y.name)
    return pd.DataFrame(Xs, columns=X.columns).reset_index(drop=True), pd.Series(ys, name=y.name).reset_index(drop=True)
