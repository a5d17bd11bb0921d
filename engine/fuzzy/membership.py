"""Universes and sampled membership functions of the policy's fuzzy variables, for the fast path.

These replicate scikit-fuzzy 0.5's `trapmf`, `trimf` and `gaussmf` formula for formula (without importing
scikit-fuzzy, whose import pulls networkx and costs start-up time); a test checks that both sample to the
same arrays. A hedge is applied to the *sampled* base term, as a term computed from another term is in
scikit-fuzzy: muy = square, más o menos = square root, extremadamente = cube.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.policy.models import FuzzyVariable, Gauss, Membership, Trap, Tri

__all__ = ["HEDGES", "base_membership", "hedge", "term_arrays", "universe"]

HEDGES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "muy": lambda mu: mu**2,
    "mas_o_menos": np.sqrt,
    "extremadamente": lambda mu: mu**3,
}


def universe(var: FuzzyVariable) -> np.ndarray:
    """min..max inclusive in steps of `step` (the model checks that step divides max − min)."""
    n = round((var.max - var.min) / var.step) + 1
    return np.linspace(var.min, var.max, n)


def _trimf(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    y = np.zeros(len(x))
    if a != b:
        idx = np.nonzero(np.logical_and(a < x, x < b))[0]
        y[idx] = (x[idx] - a) / float(b - a)
    if b != c:
        idx = np.nonzero(np.logical_and(b < x, x < c))[0]
        y[idx] = (c - x[idx]) / float(c - b)
    y[x == b] = 1
    return y


def _trapmf(x: np.ndarray, a: float, b: float, c: float, d: float) -> np.ndarray:
    y = np.ones(len(x))
    idx = np.nonzero(x <= b)[0]
    y[idx] = _trimf(x[idx], a, b, b)
    idx = np.nonzero(x >= c)[0]
    y[idx] = _trimf(x[idx], c, c, d)
    y[x < a] = 0.0
    y[x > d] = 0.0
    return y


def _gaussmf(x: np.ndarray, mean: float, sigma: float) -> np.ndarray:
    return np.asarray(np.exp(-((x - mean) ** 2.0) / (2 * sigma**2.0)))


def base_membership(x: np.ndarray, mf: Membership) -> np.ndarray:
    if isinstance(mf, Trap):
        return _trapmf(x, *mf.trap)
    if isinstance(mf, Tri):
        return _trimf(x, *mf.tri)
    if isinstance(mf, Gauss):
        return _gaussmf(x, mf.gauss.mean, mf.gauss.sigma)
    raise TypeError(f"unknown membership function {mf!r}")


def hedge(name: str, mu: np.ndarray) -> np.ndarray:
    return HEDGES[name](mu)


def term_arrays(var: FuzzyVariable, x: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every term of `var` (plain, then hedged) sampled on its universe."""
    x = universe(var) if x is None else x
    out = {name: base_membership(x, mf) for name, mf in var.terms.items()}
    for name, h in var.hedged.items():
        out[name] = hedge(h.hedge, out[h.of])
    return out
