"""Logistic regression the way R's `glm(family=binomial)` reports it: a design matrix with treatment-coded
factors, coefficients, standard errors, p-values, odds ratios and AIC, and a JSON-serialisable model.

statsmodels does the fitting (Newton); the fitted model keeps only plain numbers so artifacts need no pickle.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm

INTERCEPT = "(Intercept)"


@dataclass(frozen=True)
class DesignSpec:
    """How raw columns become model columns: numerics as they are, factors as 0/1 dummies of every level but
    the first (R's treatment contrasts)."""

    numeric: tuple[str, ...]
    levels: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def fit(cls, X: pd.DataFrame, categorical: list[str] | tuple[str, ...]) -> DesignSpec:
        cats = [c for c in X.columns if c in categorical]
        return cls(
            numeric=tuple(c for c in X.columns if c not in cats),
            levels={c: tuple(sorted(X[c].astype(str).unique())) for c in cats},
        )

    @property
    def terms(self) -> list[str]:
        return [*self.numeric, *self.levels]

    def columns_of(self, term: str) -> list[str]:
        if term in self.levels:
            return [f"{term}={lvl}" for lvl in self.levels[term][1:]]
        return [term]

    def matrix(self, X: pd.DataFrame, terms: list[str] | None = None) -> pd.DataFrame:
        """Design matrix (no intercept) of `terms` (default: all). Unknown factor levels fall on the reference."""
        out: dict[str, np.ndarray] = {}
        for term in terms if terms is not None else self.terms:
            if term in self.levels:
                values = X[term].astype(str).to_numpy()
                for lvl in self.levels[term][1:]:
                    out[f"{term}={lvl}"] = (values == lvl).astype(float)
            else:
                out[term] = X[term].to_numpy(dtype=float)
        return pd.DataFrame(out, index=X.index)

    def to_dict(self) -> dict[str, Any]:
        return {"numeric": list(self.numeric), "levels": {k: list(v) for k, v in self.levels.items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DesignSpec:
        return cls(numeric=tuple(d["numeric"]), levels={k: tuple(v) for k, v in d["levels"].items()})


@dataclass(frozen=True)
class LogitFit:
    """One fitted logistic regression: the numbers R's `summary(glm)` prints, plus AIC."""

    terms: tuple[str, ...]
    coef: dict[str, float]
    std_err: dict[str, float]
    p_value: dict[str, float]
    aic: float
    converged: bool
    n_obs: int

    @property
    def odds_ratio(self) -> dict[str, float]:
        return {k: float(np.exp(v)) for k, v in self.coef.items()}

    def table(self) -> pd.DataFrame:
        rows = [
            {
                "variable": k,
                "coeficiente": v,
                "error_est": self.std_err[k],
                "p_valor": self.p_value[k],
                "odds_ratio": float(np.exp(v)),
            }
            for k, v in self.coef.items()
        ]
        return pd.DataFrame(rows)


def _design(spec: DesignSpec, X: pd.DataFrame, terms: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Column names, the design matrix with a leading intercept column, and each column's scale.

    Columns are divided by their standard deviation before fitting (balances and amounts run to 1e5–1e9,
    which leaves the raw Hessian badly conditioned); coefficients are scaled back afterwards.
    """
    m = spec.matrix(X, terms)
    raw = m.to_numpy(dtype=float)
    scale = raw.std(axis=0) if raw.shape[1] else np.ones(0)
    scale = np.where(scale > 0, scale, 1.0)
    design = np.column_stack([np.ones(len(m)), raw / scale])
    return [INTERCEPT, *m.columns], design, np.concatenate([[1.0], scale])


def _irls(design: np.ndarray, y: np.ndarray, maxit: int = 25, epsilon: float = 1e-8) -> tuple[np.ndarray, float, bool]:
    """Newton/IRLS with R's `glm.control` stopping rule: |dev − dev_old| / (|dev| + 0.1) < epsilon, at most
    `maxit` iterations. Returns (β, log-likelihood, converged). Used for the many fits of the stepwise search."""
    beta = np.zeros(design.shape[1])
    dev_old = np.inf
    ridge = 1e-10 * np.eye(design.shape[1])
    for _ in range(maxit):
        eta = design @ beta
        p = 1.0 / (1.0 + np.exp(-eta))
        w = p * (1.0 - p)
        grad = design.T @ (y - p)
        hess = (design * w[:, None]).T @ design
        try:
            beta = beta + np.linalg.solve(hess + ridge, grad)
        except np.linalg.LinAlgError:
            beta = beta + np.linalg.lstsq(hess + ridge, grad, rcond=None)[0]
        eta = design @ beta
        llf = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
        dev = -2.0 * llf
        if abs(dev - dev_old) / (abs(dev) + 0.1) < epsilon:
            return beta, llf, True
        dev_old = dev
    return beta, llf, False


def aic_of(spec: DesignSpec, X: pd.DataFrame, y: pd.Series, terms: list[str]) -> float:
    """AIC = −2·logL + 2k of the logit on `terms`, by the fast numpy fit (the stepwise search needs hundreds)."""
    _, design, _ = _design(spec, X, terms)
    _, llf, _ = _irls(design, y.to_numpy(dtype=float))
    return float(-2.0 * llf + 2.0 * design.shape[1])


def fit_logit(spec: DesignSpec, X: pd.DataFrame, y: pd.Series, terms: list[str]) -> LogitFit:
    """The reported fit: statsmodels Logit (coefficients, standard errors, Wald p-values, AIC) on the scaled
    design, started from the IRLS solution, with coefficients and errors put back on the raw scale."""
    names, design, scale = _design(spec, X, terms)
    yv = y.to_numpy(dtype=float)
    start, _, irls_ok = _irls(design, yv)
    with warnings.catch_warnings():
        # quasi-separation (e.g. no defaults at all with 2+ other accounts) is a property of the data, not a bug;
        # the fit still gives the likelihood the AIC needs, and `converged` records what happened
        warnings.simplefilter("ignore")
        res = sm.Logit(yv, design).fit(start_params=start, method="newton", maxiter=50, disp=0)
        params = np.asarray(res.params, dtype=float) / scale
        bse = np.asarray(res.bse, dtype=float) / scale
        pvalues = np.asarray(res.pvalues, dtype=float)
    return LogitFit(
        terms=tuple(terms),
        coef=dict(zip(names, params.tolist(), strict=True)),
        std_err=dict(zip(names, bse.tolist(), strict=True)),
        p_value=dict(zip(names, pvalues.tolist(), strict=True)),
        aic=float(-2.0 * res.llf + 2.0 * len(params)),
        converged=bool(res.mle_retvals.get("converged", True)) or irls_ok,
        n_obs=len(yv),
    )


@dataclass(frozen=True)
class LogitModel:
    """A fitted model that predicts: the design spec plus the coefficients; plain numbers only."""

    spec: DesignSpec
    terms: tuple[str, ...]
    coef: dict[str, float]

    @classmethod
    def from_fit(cls, spec: DesignSpec, fit: LogitFit) -> LogitModel:
        return cls(spec=spec, terms=fit.terms, coef=dict(fit.coef))

    def linear(self, X: pd.DataFrame) -> np.ndarray:
        design = self.spec.matrix(X, list(self.terms))
        beta = np.array([self.coef[c] for c in design.columns], dtype=float)
        return np.asarray(self.coef[INTERCEPT] + design.to_numpy(dtype=float) @ beta)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(self.linear(X), -700, 700))))

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec.to_dict(), "terms": list(self.terms), "coef": self.coef}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LogitModel:
        return cls(spec=DesignSpec.from_dict(d["spec"]), terms=tuple(d["terms"]), coef=dict(d["coef"]))
