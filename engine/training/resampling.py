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
  per-class targets give the same counts. imbalanced-learn finds the neighbours by raw Euclidean distance, so
  a feature in the 1e5 range (an account balance) decides them alone;
- `smote_dmwr`: the seed's R function itself, rewritten: DMwR `smote.exs` scales every numeric feature to its
  range ((x − min) / (max − min)) before looking for the k = 5 neighbours, counts a factor mismatch as 1 in
  the squared distance, makes exactly perc.over/100 synthetic rows per minority row (one uniform gap per
  row, a factor taken at random from either end), and draws the majority WITH replacement.

One vocabulary for the study and the applicant model's `[pd.training].resampler`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from imblearn.over_sampling import SMOTE, SMOTENC
from imblearn.under_sampling import RandomUnderSampler
from sklearn.model_selection import train_test_split

STRATEGIES: tuple[str, ...] = ("none", "over", "under", "both", "smote", "smote_dmwr")
STRATEGY_LABELS = {
    "none": "Sin balanceo",
    "over": "Oversampling 50/50",
    "under": "Undersampling 50/50",
    "both": "Ambas direcciones (ROSE both)",
    "smote": "SMOTE (perc.over=100, perc.under=300; imbalanced-learn, distancia sin escalar)",
    "smote_dmwr": "SMOTE como DMwR (perc.over=100, perc.under=300; variables escaladas a su rango)",
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
    elif strategy == "smote_dmwr":
        return _smote_dmwr(X, y, seed, categorical or [], minority, majority)
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


def _smote_dmwr(
    X: pd.DataFrame, y: pd.Series, seed: int, categorical: list[str], minority: np.ndarray, majority: np.ndarray
) -> tuple[pd.DataFrame, pd.Series]:
    """DMwR::SMOTE(perc.over=100, perc.under=300, k=5) as its R code does it (see the module docstring)."""
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(seed)
    numeric = [c for c in X.columns if c not in categorical]
    T = X.iloc[minority]
    num = T[numeric].to_numpy(dtype=float)
    lo, span = num.min(axis=0), num.max(axis=0) - num.min(axis=0)
    span[span == 0] = 1.0
    scaled = (num - lo) / span
    # a factor mismatch adds 1 to the squared distance: one-hot columns of 1/√2 each
    parts = [scaled] + [pd.get_dummies(T[c].astype(str)).to_numpy(dtype=float) / np.sqrt(2.0) for c in categorical]
    space = np.hstack(parts)
    k = min(SMOTE_K, len(minority) - 1)
    per_row = SMOTE_PERC_OVER // 100
    _, nn = NearestNeighbors(n_neighbors=k + 1).fit(space).kneighbors(space)
    src = np.repeat(np.arange(len(minority)), per_row)
    neighbour = nn[src, 1 + rng.integers(0, k, size=len(src))]  # column 0 is the row itself
    gap = rng.random(len(src))[:, None]
    synthetic = pd.DataFrame(index=range(len(src)), columns=X.columns)
    synthetic[numeric] = num[src] + gap * (num[neighbour] - num[src])
    for c in categorical:
        values = T[c].to_numpy()
        synthetic[c] = np.where(rng.random(len(src)) < 0.5, values[src], values[neighbour])
    synthetic = synthetic.astype(X.dtypes.to_dict())
    n_maj = len(src) * SMOTE_PERC_UNDER // 100
    maj = rng.choice(majority, size=n_maj, replace=True)
    min_label = y.iloc[minority[0]]
    Xs = pd.concat([X.iloc[maj], T, synthetic], ignore_index=True)
    ys = pd.Series(np.concatenate([y.to_numpy()[maj], np.full(len(T) + len(src), min_label)]), name=y.name)
    return Xs, ys.astype(y.dtype)
