"""The typed, JSON-serialisable report of `simulate` (the CLI prints it; the API stores it)."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel

from engine.simulate.reach import Unreachable


class Distribution(BaseModel):
    count: int  # weighted: answer combinations × grid points
    min: float
    p5: float
    p25: float
    p50: float
    p75: float
    p95: float
    max: float
    mean: float
    sd: float


def distribution(values: np.ndarray, weights: np.ndarray, resolution: float) -> Distribution | None:
    """Weighted distribution of many values. Quantiles are exact to `resolution` (values binned on that grid,
    one bincount instead of a sort of tens of millions of rows); count, min, max, mean and sd are exact."""
    values = np.asarray(values, dtype=float)
    weights = np.broadcast_to(np.asarray(weights, dtype=float), values.shape).ravel()
    values = values.ravel()
    if values.size == 0 or weights.sum() == 0:
        return None
    lo = float(values.min())
    bins = np.floor((values - lo) / resolution + 1e-9).astype(np.int64)
    hist = np.bincount(bins, weights=weights)
    cum = np.cumsum(hist) / hist.sum()

    def q(p: float) -> float:
        return round(lo + int(np.searchsorted(cum, p)) * resolution, 10)

    total = float(weights.sum())
    mean = float(np.dot(values, weights) / total)
    sd = float(np.sqrt(max(np.dot(values * values, weights) / total - mean * mean, 0.0)))
    return Distribution(count=int(total), min=lo, p5=q(0.05), p25=q(0.25), p50=q(0.5), p75=q(0.75), p95=q(0.95),
                        max=float(values.max()), mean=round(mean, 6), sd=round(sd, 6))  # fmt: skip


class Share(BaseModel):
    count: int
    share: float


class RuleCoverage(BaseModel):
    rule: str
    fired: int  # weighted
    share: float


class Invariant(BaseModel):
    name: str
    held: bool
    checked: int  # comparisons (or rows) examined
    broken: int = 0
    detail: str = ""
    counterexample: dict[str, Any] | None = None


class Space(BaseModel):
    answer_combinations: int
    profiles: int
    vehicle_prices: list[float]
    terms: list[int]
    ages: list[int]
    incomes: dict[str, list[float]]
    grid_points: int
    points: int  # answer combinations × grid points
    as_of: str


class SimulationReport(BaseModel):
    kind: str = "simulate"
    policy_version: str
    policy_hash: str
    model_version: str
    book_bad_rate: float
    space: Space
    decisions: dict[str, Share]
    rate: Distribution | None  # approved only, % a year
    pd: Distribution
    score: Distribution
    rule_risk: Distribution
    seed_risk: Distribution
    score_terms: dict[str, float]  # share of points whose score is mostly malo / regular / bueno
    rules: list[RuleCoverage]
    dead_rules: list[str]  # never fire over the whole space
    unreachable_rules: list[Unreachable]  # cannot fire under the policy's own numbers
    invariants: list[Invariant]
    ok: bool
    seconds: float
    workers: int
