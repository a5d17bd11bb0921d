"""The risk the expert rules read: the seed's fuzzy risk made monotone (an upper envelope), once per policy.

The seed's rule base is not monotone (docs/fuzzy.md): as income rises, `ingreso medio` fades out of F2, F6
and F9 and the centroid can move up by ~6 points; at high income, moving from "inestable" to "moderada"
stability raises it by up to ~20 points; above a score of 500 it ripples by ~1 point. Read by the rules as it
is, a higher declared income or a longer tenure could raise the rate. The rules read instead

    E(ingreso, estabilidad, puntaje) = max R(i', s', p') over i' ≥ ingreso, s' ≥ estabilidad, p' ≥ puntaje

on a grid (the policy's `[fuzzy.envelope]` steps over income and score, the stabilities the policy's tenure
answers map to), bilinear between income and score grid points. E is the smallest function above the seed's
risk on the grid that no improvement can raise: a better applicant never reads a higher risk, and nobody reads
a lower risk than the seed gives somewhere no better off. Bilinear interpolation of a grid that falls along
both axes falls too, so E is monotone everywhere, not only on the grid. A stability between two tabled
values reads the lower one's row (the conservative side). The seed's own output (`FuzzyRiskModel.risk`,
proven equal to scikit-fuzzy) is still what every result reports as `fuzzy.risk`.

The engine (one applicant) calls `risk`, the policy simulation `risk_many`; both do the same float operations
in the same order, so they read identical floats (a test checks equality, not closeness). `risk` is plain
Python because NumPy's `searchsorted` lets go of the GIL even for one element, and in a server the thread that
lets go waits up to CPython's switch interval (5 ms) to get it back (docs/engine.md, "The GIL"). Building
costs one `risk_many` over the grid (~80,000 rows, well under a second).
"""

from __future__ import annotations

import hashlib
import threading
from bisect import bisect_right

import numpy as np

from engine.fuzzy.model import FuzzyRiskModel
from engine.policy.models import Policy

__all__ = ["MonotoneRisk", "monotone_risk"]


class MonotoneRisk:
    """E above, for one policy. `risk_many` / `risk` take seed units (income in millones), like the model."""

    def __init__(self, model: FuzzyRiskModel, policy: Policy) -> None:
        f, env = policy.fuzzy, policy.fuzzy.envelope
        ing, pun = f.variables["ingreso"], f.variables["puntaje"]
        self.stabilities = np.array(sorted(set(policy.mappings.stability_by_tenure.values())), dtype=float)
        self.incomes = np.linspace(ing.min, ing.max, round((ing.max - ing.min) / env.income_step) + 1)
        self.scores = np.linspace(pun.min, pun.max, round((pun.max - pun.min) / env.score_step) + 1)
        k, i, j = np.meshgrid(self.stabilities, self.incomes, self.scores, indexing="ij")
        raw = model.risk_many(i.ravel(), k.ravel(), j.ravel()).reshape(k.shape)
        self.seed_grid = raw
        # suffix maxima along every axis: the worst risk of anyone at least as well placed
        grid = raw
        for axis in range(3):
            grid = np.flip(np.maximum.accumulate(np.flip(grid, axis), axis=axis), axis)
        self.grid = grid
        # the same arrays as lists, for the scalar path
        self._stabilities: list[float] = self.stabilities.tolist()
        self._incomes: list[float] = self.incomes.tolist()
        self._scores: list[float] = self.scores.tolist()
        self._grid: list[list[list[float]]] = grid.tolist()

    @property
    def max_risk(self) -> float:
        """The largest risk the rules can read under this policy (the seed's: ≈ 72.2)."""
        return float(self.grid.max())

    @property
    def min_risk(self) -> float:
        return float(self.grid.min())

    def risk_many(self, ingreso: np.ndarray, estabilidad: np.ndarray, puntaje: np.ndarray) -> np.ndarray:
        ingreso, estabilidad, puntaje = np.broadcast_arrays(
            np.asarray(ingreso, dtype=float), np.asarray(estabilidad, dtype=float), np.asarray(puntaje, dtype=float)
        )
        k = np.clip(np.searchsorted(self.stabilities, estabilidad, side="right") - 1, 0, len(self.stabilities) - 1)
        x = np.clip(ingreso, self.incomes[0], self.incomes[-1])
        y = np.clip(puntaje, self.scores[0], self.scores[-1])
        i = np.clip(np.searchsorted(self.incomes, x, side="right") - 1, 0, len(self.incomes) - 2)
        j = np.clip(np.searchsorted(self.scores, y, side="right") - 1, 0, len(self.scores) - 2)
        tx = (x - self.incomes[i]) / (self.incomes[i + 1] - self.incomes[i])
        ty = (y - self.scores[j]) / (self.scores[j + 1] - self.scores[j])
        g = self.grid
        low = g[k, i, j] * (1.0 - tx) + g[k, i + 1, j] * tx
        high = g[k, i, j + 1] * (1.0 - tx) + g[k, i + 1, j + 1] * tx
        return np.asarray(low * (1.0 - ty) + high * ty)

    def risk(self, ingreso: float, estabilidad: float, puntaje: float) -> float:
        """`risk_many` for one point, step by step the same arithmetic (bisect_right = searchsorted "right")."""
        ks, xs, ys = self._stabilities, self._incomes, self._scores
        k = min(max(bisect_right(ks, float(estabilidad)) - 1, 0), len(ks) - 1)
        x = min(max(float(ingreso), xs[0]), xs[-1])
        y = min(max(float(puntaje), ys[0]), ys[-1])
        i = min(max(bisect_right(xs, x) - 1, 0), len(xs) - 2)
        j = min(max(bisect_right(ys, y) - 1, 0), len(ys) - 2)
        tx = (x - xs[i]) / (xs[i + 1] - xs[i])
        ty = (y - ys[j]) / (ys[j + 1] - ys[j])
        g, g1 = self._grid[k][i], self._grid[k][i + 1]
        low = g[j] * (1.0 - tx) + g1[j] * tx
        high = g[j + 1] * (1.0 - tx) + g1[j + 1] * tx
        return low * (1.0 - ty) + high * ty


_lock = threading.Lock()
_cache: dict[str, MonotoneRisk] = {}


def monotone_risk(policy: Policy, model: FuzzyRiskModel) -> MonotoneRisk:
    """The envelope of a policy, built once per fuzzy section and tenure stabilities."""
    fingerprint = (
        f"{policy.fuzzy.model_dump_json(by_alias=True)}|{sorted(policy.mappings.stability_by_tenure.values())}"
    )
    key = hashlib.sha256(fingerprint.encode()).hexdigest()
    with _lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    built = MonotoneRisk(model, policy)
    with _lock:
        return _cache.setdefault(key, built)
