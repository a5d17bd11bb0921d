"""Platt recalibration, one class with one meaning for every model of the project (issue #18).

    calibrated PD = σ(slope · z + intercept),   z = the model's own log-odds

The applicant model (engine/pd), the seed-001 study and champion/challenger all read and write it through
`Platt`; the artifact stores `{"method", "slope", "intercept"}` by name, so no reader can swap the two.

Why recalibrate: resampling to 50/50 (or SMOTE's 40/60) moves the intercept, so the raw PDs sit far above the
real default rate. A logistic regression of the outcome on the model's own log-odds, fitted on rows with the
ORIGINAL class mix, puts them back on the real scale. The slope is bounded at >= 0, so calibration never
reorders applicants: ranking metrics (AUC, KS) do not change; the Brier score and the reliability table show
the gain.

Artifacts written before this class kept two letters with opposite meanings: the applicant model's `a` was the
slope and `b` the intercept, the seed-001 study's `a` the intercept and `b` the slope. `from_artifact` reads
both by their artifact format and refuses an a/b pair it cannot attribute, naming the artifact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.special import expit

from engine.training.registry import APPLICANT_FORMAT, SEED001_FORMAT

_EPS = 1e-12


class CalibrationError(ValueError):
    """An artifact's calibration that cannot be read with one meaning."""


def logit(p: Any) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.asarray(np.log(q / (1 - q)))


def _scalar_logit(p: float) -> float:
    return math.log(p / (1.0 - p))


@dataclass(frozen=True)
class Platt:
    """PD = σ(slope · z + intercept) on the model's log-odds z. `method = "none"` is the identity."""

    slope: float = 1.0
    intercept: float = 0.0
    method: Literal["platt", "none"] = "platt"

    # ---------------------------------------------------------------------------------------- applying
    def on_logit(self, z: Any) -> np.ndarray:
        return np.asarray(expit(self.slope * np.asarray(z, dtype=float) + self.intercept))

    def __call__(self, raw_pd: Any) -> np.ndarray:
        """Calibrated PD of a model's raw PD."""
        return self.on_logit(logit(raw_pd))

    def shifted(self, from_rate: float, to_rate: float) -> Platt:
        """Prior shift: the same ranking and odds ratios, every log-odds moved from a data set's default rate to
        an assumed portfolio rate (+ logit(to) − logit(from))."""
        return Platt(self.slope, self.intercept + _scalar_logit(to_rate) - _scalar_logit(from_rate), self.method)

    # ----------------------------------------------------------------------------------------- fitting
    @classmethod
    def fit(cls, z: Any, y: Any) -> Platt:
        """Maximum-likelihood 1-D logistic regression of `y` on the log-odds `z`, slope bounded at >= 0."""
        from scipy.optimize import minimize

        z = np.asarray(z, dtype=float)
        y = np.asarray(y, dtype=float)
        mu, sd = float(z.mean()), float(z.std()) or 1.0
        u = (z - mu) / sd  # standardised so L-BFGS-B sees a well-conditioned problem

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            s = theta[0] * u + theta[1]
            r = 1.0 / (1.0 + np.exp(-s)) - y
            return float(np.sum(np.logaddexp(0.0, s) - y * s)), np.array([u @ r, r.sum()])

        res = minimize(
            objective,
            np.array([1.0, 0.0]),
            jac=True,
            method="L-BFGS-B",
            bounds=[(0.0, None), (None, None)],
            options={"maxiter": 1000, "gtol": 1e-10, "ftol": 1e-14},
        )
        w, b = float(res.x[0]), float(res.x[1])
        return cls(slope=w / sd, intercept=b - w * mu / sd)

    @classmethod
    def fit_pd(cls, raw_pd: Any, y: Any) -> Platt:
        return cls.fit(logit(raw_pd), y)

    # ------------------------------------------------------------------------------------------ storing
    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "slope": self.slope, "intercept": self.intercept}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Platt:
        method = d.get("method", "platt")
        if method not in ("platt", "none") or "slope" not in d or "intercept" not in d:
            raise CalibrationError(f"calibration {d!r}: expected method platt|none with slope and intercept")
        return cls(slope=float(d["slope"]), intercept=float(d["intercept"]), method=method)

    @classmethod
    def from_artifact(cls, artifact: dict[str, Any]) -> Platt:
        """The calibration of any artifact of the registry, including those written before `Platt` existed."""
        cal = artifact.get("calibration")
        name = artifact.get("model_version", "?")
        if not isinstance(cal, dict):
            raise CalibrationError(f"artifact {name}: no calibration; retrain it")
        if "slope" in cal:
            return cls.from_dict(cal)
        if "a" not in cal or "b" not in cal:
            raise CalibrationError(f"artifact {name}: calibration {cal!r} has neither slope/intercept nor a/b")
        method: Literal["platt", "none"] = "none" if cal.get("method") == "none" else "platt"
        fmt = artifact.get("format")
        if fmt == APPLICANT_FORMAT:  # σ(a·z + b)
            return cls(slope=float(cal["a"]), intercept=float(cal["b"]), method=method)
        if fmt == SEED001_FORMAT:  # σ(a + b·z)
            return cls(slope=float(cal["b"]), intercept=float(cal["a"]), method=method)
        raise CalibrationError(
            f"artifact {name}: calibration stored as a/b in format {fmt!r}, whose meaning is unknown; retrain it"
        )


IDENTITY = Platt(1.0, 0.0, "none")  # no recalibration


def reliability_table(y: Any, p: Any, n_bins: int = 10) -> list[dict[str, float]]:
    """Rows of equal count (quantiles of the predicted PD): rows, mean predicted PD and observed default rate."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    order = np.argsort(p, kind="stable")
    out = []
    for part in np.array_split(order, n_bins):
        if len(part):
            out.append({"rows": len(part), "mean_pd": float(p[part].mean()), "observed": float(y[part].mean())})
    return out


def reliability(y: Any, p: Any, n_bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(mean predicted PD, observed default rate) per tenth of the PD scale (empty tenths left out)."""
    from sklearn.calibration import calibration_curve

    frac, mean = calibration_curve(
        np.asarray(y).astype(int), np.asarray(p, dtype=float), n_bins=n_bins, strategy="uniform"
    )
    return mean, frac


def calibration_slope_intercept(y: Any, p: Any) -> tuple[float, float]:
    """Calibration slope and intercept (Cox 1958): the unbounded logistic fit of y on logit(p); 1 and 0 when p is
    calibrated, a slope below 1 when the PDs are too spread out (overfitting)."""
    from scipy.optimize import minimize

    z = logit(p)
    y = np.asarray(y, dtype=float)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        s = theta[0] * z + theta[1]
        r = 1.0 / (1.0 + np.exp(-s)) - y
        return float(np.sum(np.logaddexp(0.0, s) - y * s)), np.array([z @ r, r.sum()])

    res = minimize(objective, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    return float(res.x[0]), float(res.x[1])
