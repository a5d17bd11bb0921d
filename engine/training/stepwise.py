"""Stepwise selection by AIC in both directions, as R's `step(glm(y ~ ., binomial))` does by default.

R starts from the full model with the scope's upper bound = that model; at each step it tries dropping every
term in the model and adding back every term outside it, takes the move with the lowest AIC, and stops when
no move lowers it. Factors move as whole terms (all their dummies at once), as in R.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from engine.training.logit import DesignSpec, LogitFit, aic_of, fit_logit


@dataclass(frozen=True)
class StepRecord:
    move: str  # "<inicio>", "- term" or "+ term"
    aic: float


@dataclass(frozen=True)
class StepwiseResult:
    fit: LogitFit
    path: tuple[StepRecord, ...]
    dropped: tuple[str, ...]


def stepwise_aic(
    spec: DesignSpec, X: pd.DataFrame, y: pd.Series, start: list[str] | None = None, max_steps: int = 100
) -> StepwiseResult:
    scope = spec.terms
    current = list(start if start is not None else scope)
    best_aic = aic_of(spec, X, y, current)
    path = [StepRecord("<inicio>", best_aic)]
    for _ in range(max_steps):
        candidates: list[tuple[float, str, list[str]]] = []
        for term in current:
            trial = [t for t in current if t != term]
            candidates.append((aic_of(spec, X, y, trial), f"- {term}", trial))
        for term in scope:
            if term not in current:
                trial = [t for t in scope if t in current or t == term]  # keep the scope's order
                candidates.append((aic_of(spec, X, y, trial), f"+ {term}", trial))
        if not candidates:
            break
        aic, move, trial = min(candidates, key=lambda c: c[0])
        # R's step() stops unless the AIC improves by more than a hair (1e-7)
        if aic >= best_aic - 1e-7:
            break
        best_aic, current = aic, trial
        path.append(StepRecord(move, aic))
    fit = fit_logit(spec, X, y, current)
    return StepwiseResult(fit=fit, path=tuple(path), dropped=tuple(t for t in scope if t not in current))
