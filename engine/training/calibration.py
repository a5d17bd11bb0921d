"""Recalibration of resampled models on data with the original class mix.

Resampling to 50/50 (or SMOTE's 40/60) moves the intercept: the raw PDs are far above the real default rate.
A Platt step — a logistic regression of the outcome on the model's own log-odds, fitted on the original-mix
training part — puts them back on the real scale. It is monotone, so ranking metrics (AUC, KS) do not change;
the Brier score and the reliability curve show the gain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression

_EPS = 1e-12


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class PlattCalibrator:
    """calibrated PD = 1 / (1 + exp(-(a + b·logit(raw PD))))."""

    a: float
    b: float

    @classmethod
    def fit(cls, raw_pd: np.ndarray, y: np.ndarray) -> PlattCalibrator:
        # essentially unpenalised: the two numbers should be the maximum-likelihood ones
        lr = LogisticRegression(C=1e6, max_iter=1000)
        lr.fit(logit(raw_pd).reshape(-1, 1), np.asarray(y).astype(int))
        return cls(a=float(lr.intercept_[0]), b=float(lr.coef_[0, 0]))

    def __call__(self, raw_pd: np.ndarray) -> np.ndarray:
        z = self.a + self.b * logit(raw_pd)
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict[str, float]:
        return {"method": "platt", "a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, d: dict[str, float]) -> PlattCalibrator:
        return cls(a=float(d["a"]), b=float(d["b"]))


def reliability(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(mean predicted PD, observed default rate) per tenth of the PD scale (empty tenths left out)."""
    frac, mean = calibration_curve(
        np.asarray(y).astype(int), np.asarray(p, dtype=float), n_bins=n_bins, strategy="uniform"
    )
    return mean, frac
