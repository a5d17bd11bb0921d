"""The fast path: the policy's Mamdani system in NumPy, reproducing scikit-fuzzy's ControlSystem to 1e-6.

What scikit-fuzzy 0.5 does, and what is done here (docs/fuzzy.md has the derivation):

1. Fuzzify: each antecedent term is sampled on its universe; the membership of a crisp input is the *linear
   interpolation of the samples* (`interp_membership` = `np.interp`), not the analytic function. Inputs
   outside the universe are clipped to it (`clip_to_bounds=True`).
2. Rules: and = min, or = max, not = 1 − μ; a rule's firing strength cuts its output term; several rules on
   one term accumulate by max.
3. Aggregate: max over output terms of min(cut, term) on the *upsampled* output universe: the sampled
   universe plus, for every fired term, the points where the term crosses its cut level
   (`_interp_universe_fast`), with the terms linearly interpolated there.
4. Centroid of that piecewise-linear function, integrated exactly by trapezoids.

The trapezoid sums are linear in the aggregate's values, so the integral over the sampled universe is two
dot products with weight vectors precomputed per policy. A crossing point inside segment [x_k, x_k+1] only
changes the integral over that segment, so the correction is the integral of the piecewise-linear chain
through the affected segments' end points *with* the crossing points minus the same chain *without* them
(the stretches between affected segments are identical in both and cancel). The crossings themselves come
from a bisection on each monotone run of a sampled term: within a run the level set {μ ≥ cut} has at most
one boundary, exactly where scikit-fuzzy's `np.diff(mf >= cut)` finds it.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from engine.fuzzy.membership import term_arrays, universe
from engine.fuzzy.rules import Is, Node, compile_scalar, evaluate, parse_rule, referenced_terms
from engine.policy.models import FuzzyPolicy, FuzzyVariable, Gauss, Trap, Tri

__all__ = ["INPUTS", "FuzzyPolicyError", "FuzzyRiskModel"]

# the crisp inputs the engine feeds, in the order of FuzzyRiskModel.risk's arguments
INPUTS: tuple[str, ...] = ("ingreso", "estabilidad", "puntaje")
# batch rows per block: the aggregate is (rows × output samples) floats per term
_BLOCK = 128
# evenly spaced points per input (plus every break point) of the coverage check done at build time
_COVERAGE_POINTS = 21
# NumPy lets go of the GIL in a ufunc loop or reduction over more than 500 elements; the one-applicant path keeps
# its operations at or under that, since a thread that lets go waits up to the switch interval (5 ms) to get the
# GIL back from a busy event loop (docs/engine.md, "The GIL")
_KEEP_GIL = 500


class FuzzyPolicyError(ValueError):
    """A fuzzy section the engine cannot use (e.g. inputs where no rule fires); the message says where."""


@dataclass(frozen=True, slots=True)
class _Input:
    name: str
    x: np.ndarray
    xs: list[float]
    lo: float
    hi: float
    inv_step: float
    # (slot in the membership list, samples) for every term a rule mentions
    terms: tuple[tuple[int, list[float]], ...]


@dataclass(frozen=True, slots=True)
class _Run:
    """A maximal monotone stretch start..end (inclusive) of a sampled output term, with bisection keys."""

    start: int
    end: int
    rising: bool
    keys: list[float]  # samples if rising, negated samples if falling: ascending either way


def _monotone_runs(m: np.ndarray) -> tuple[_Run, ...]:
    runs: list[_Run] = []
    start, direction = 0, 0
    for i in range(len(m) - 1):
        step = 1 if m[i + 1] > m[i] else -1 if m[i + 1] < m[i] else 0
        if step and direction and step != direction:
            runs.append(_make_run(m, start, i, direction > 0))
            start = i
        if step:
            direction = step
    runs.append(_make_run(m, start, len(m) - 1, direction >= 0))
    return tuple(runs)


def _make_run(m: np.ndarray, start: int, end: int, rising: bool) -> _Run:
    seg = m[start : end + 1]
    return _Run(start, end, rising, (seg if rising else -seg).tolist())


def _break_points(var: FuzzyVariable) -> list[float]:
    pts: list[float] = []
    for mf in var.terms.values():
        if isinstance(mf, Trap):
            pts += mf.trap
        elif isinstance(mf, Tri):
            pts += mf.tri
        elif isinstance(mf, Gauss):
            pts.append(mf.gauss.mean)
    return [p for p in pts if var.min <= p <= var.max]


class FuzzyRiskModel:
    """Default risk (0–100 by default, the output universe) from income (seed units: MXN / money_scale),
    stability (0–10) and credit score (0–1000), built once per policy section."""

    def __init__(self, fuzzy: FuzzyPolicy, *, check_coverage: bool = True) -> None:
        self.fuzzy = fuzzy
        self.rule_ids: tuple[str, ...] = tuple(r.id for r in fuzzy.rules)
        variables = {name: v.term_names for name, v in fuzzy.variables.items()}
        self.trees: tuple[Node, ...] = tuple(parse_rule(r.if_, variables) for r in fuzzy.rules)

        clauses = [c for tree in self.trees for c in referenced_terms(tree)]
        if extra := sorted({c.var for c in clauses} - set(INPUTS)):
            raise FuzzyPolicyError(f"fuzzy.rules use {extra}; the engine only feeds {list(INPUTS)}")
        slots: dict[tuple[str, str], int] = {}
        for c in clauses:
            slots.setdefault((c.var, c.term), len(slots))
        self._slots = slots
        self._n_slots = len(slots)

        inputs = []
        for name in INPUTS:
            spec = fuzzy.variables[name]
            x = universe(spec)
            arrays = term_arrays(spec, x)
            terms = tuple((i, arrays[t].tolist()) for (v, t), i in slots.items() if v == name)
            inputs.append(_Input(name, x, x.tolist(), float(x[0]), float(x[-1]), (len(x) - 1) / (x[-1] - x[0]), terms))
        self._inputs: tuple[_Input, ...] = tuple(inputs)
        self.output_name = fuzzy.output.name or "riesgo"
        # every term of every variable, for `membership` (explanations, tests)
        self._sampled = {
            name: (universe(spec), term_arrays(spec))
            for name, spec in (*fuzzy.variables.items(), (self.output_name, fuzzy.output))
        }
        self._rules: tuple[Callable[[Sequence[float]], float], ...] = tuple(
            compile_scalar(tree, slots) for tree in self.trees
        )

        # output: only terms some rule concludes take part (scikit-fuzzy skips the others: no cut)
        out = fuzzy.output
        x = universe(out)
        self._x = x
        self._xs = x.tolist()
        self.fallback = float((x[0] + x[-1]) / 2)
        out_arrays = term_arrays(out, x)
        self.output_terms: tuple[str, ...] = tuple(t for t in out.term_names if t in {r.then for r in fuzzy.rules})
        self._term_of_rule = tuple(self.output_terms.index(r.then) for r in fuzzy.rules)
        self._rules_of_term = tuple(
            tuple(i for i, t in enumerate(self._term_of_rule) if t == j) for j in range(len(self.output_terms))
        )
        self._m = np.stack([out_arrays[t] for t in self.output_terms])  # (terms, samples)
        # per term, (slice, samples) over where it is above zero, in pieces of at most _KEEP_GIL samples
        self._term_pieces: list[list[tuple[slice, np.ndarray]]] = []
        for row in self._m:
            nz = np.flatnonzero(row > 0)
            lo, hi = (int(nz[0]), int(nz[-1]) + 1) if len(nz) else (0, 0)
            bounds = np.linspace(lo, hi, -(-(hi - lo) // _KEEP_GIL) + 1).round().astype(int).tolist()
            self._term_pieces.append([(slice(a, b), row[a:b]) for a, b in itertools.pairwise(bounds)])
        self._ml = [row.tolist() for row in self._m]
        self._has_mass = [bool(row.max() > 0) for row in self._m]
        self._runs = tuple(_monotone_runs(row) for row in self._m)
        d = np.diff(x)
        wa = np.zeros_like(x)
        wm = np.zeros_like(x)
        wa[:-1] += d / 2
        wa[1:] += d / 2
        wm[:-1] += d * (2 * x[:-1] + x[1:]) / 6
        wm[1:] += d * (x[:-1] + 2 * x[1:]) / 6
        self._wa, self._wm = wa, wm
        self._w = np.stack([wa, wm])  # (∫y, ∫x·y) weights in one matrix-vector product
        self._slope = np.diff(self._m, axis=1) / d  # per term and segment, for the batch path

        if check_coverage:
            self._check_coverage()

    # ----------------------------------------------------------------------------------------- scalar
    def membership(self, var: str, term: str, x: float) -> float:
        """μ of any term (plain or hedged) of an input variable or of the output, as scikit-fuzzy computes
        it: the term's samples interpolated linearly at x (clipped to the universe)."""
        universe_x, arrays = self._sampled[var]
        return float(np.interp(np.clip(x, universe_x[0], universe_x[-1]), universe_x, arrays[term]))

    def _memberships(self, values: Sequence[float]) -> list[float]:
        mu = [0.0] * self._n_slots
        for inp, v in zip(self._inputs, values, strict=True):
            v = float(v)
            if math.isnan(v):
                raise ValueError(f"{inp.name} is NaN")
            v = inp.lo if v < inp.lo else inp.hi if v > inp.hi else v
            xs = inp.xs
            i = min(int((v - inp.lo) * inp.inv_step), len(xs) - 2)
            # the float index may be one off next to a sample point: step to the segment holding v
            if v < xs[i]:
                i -= 1
            elif v > xs[i + 1]:
                i += 1
            x0 = xs[i]
            dx = v - x0
            h = xs[i + 1] - x0
            for slot, m in inp.terms:
                a = m[i]
                mu[slot] = (m[i + 1] - a) / h * dx + a  # np.interp's formula
        return mu

    def _firing(self, values: Sequence[float]) -> list[float]:
        mu = self._memberships(values)
        return [rule(mu) for rule in self._rules]

    def activations(self, ingreso: float, estabilidad: float, puntaje: float) -> dict[str, float]:
        """Firing strength (0–1) of every rule, by rule id, for the explanation of a result."""
        return dict(zip(self.rule_ids, self._firing((ingreso, estabilidad, puntaje)), strict=True))

    def risk(self, ingreso: float, estabilidad: float, puntaje: float) -> float:
        """Crisp risk by centroid. Inputs outside their universes are clipped to them. If no rule fires
        (the build-time coverage check makes this rare) the output universe's midpoint is returned."""
        firing = self._firing((ingreso, estabilidad, puntaje))
        cuts = [max([firing[i] for i in rules]) for rules in self._rules_of_term]
        agg = self._aggregate(cuts)
        area, moment = (self._w @ agg).tolist()  # a matrix-vector product keeps the GIL
        if area <= 0.0:
            return self.fallback

        crossings = self._crossings(cuts)
        if crossings:
            da, dm = self._correction(crossings, cuts, agg)
            area += da
            moment += dm
        return float(moment / area)

    def _aggregate(self, cuts: list[float]) -> np.ndarray:
        """max over terms of min(term, cut) on the sampled universe: `np.minimum(m, cuts).max(axis=0)` exactly
        (min and max round nothing), in operations NumPy runs without letting go of the GIL."""
        agg = np.zeros(len(self._xs))
        for c, pieces in zip(cuts, self._term_pieces, strict=True):
            if c > 0.0:  # min(term, 0) is 0 everywhere: nothing to add
                for where, samples in pieces:
                    part = agg[where]
                    np.maximum(part, np.minimum(samples, c), out=part)
        return agg

    def _crossings(self, cuts: list[float]) -> list[tuple[int, float]]:
        """(segment k, x) where an output term crosses its cut level, as scikit-fuzzy's interp_universe."""
        xs = self._xs
        found: list[tuple[int, float]] = []
        for t, c in enumerate(cuts):
            if c <= 0.0:  # a zero cut adds no area; its "crossings" are sample points anyway
                continue
            m = self._ml[t]
            for run in self._runs[t]:
                if run.rising:  # first index >= c; boundary in the segment before it
                    j = bisect_left(run.keys, c) + run.start
                    if not run.start < j <= run.end:
                        continue
                    k = j - 1
                else:  # last index >= c; boundary in the segment after it
                    k = bisect_right(run.keys, -c) - 1 + run.start
                    if not run.start <= k < run.end:
                        continue
                x = xs[k] + (c - m[k]) * (xs[k + 1] - xs[k]) / (m[k + 1] - m[k])
                found.append((k, min(max(x, xs[k]), xs[k + 1])))
        return found

    def _correction(
        self, crossings: list[tuple[int, float]], cuts: list[float], agg: np.ndarray
    ) -> tuple[float, float]:
        """Change of ∫y and ∫x·y when the crossing points refine their segments (grouped by segment)."""
        xs, ml = self._xs, self._ml
        terms = list(zip(cuts, ml, strict=True))
        crossings.sort()
        da = dm = 0.0
        i, n = 0, len(crossings)
        while i < n:
            k = crossings[i][0]
            x1, x2 = xs[k], xs[k + 1]
            y1, y2 = float(agg[k]), float(agg[k + 1])
            h = x2 - x1
            da -= h * (y1 + y2) * 0.5
            dm -= h * (y1 * (2.0 * x1 + x2) + y2 * (x1 + 2.0 * x2)) / 6.0
            px, py = x1, y1
            while i < n and crossings[i][0] == k:
                x = crossings[i][1]
                y = 0.0
                for c, m in terms:  # the aggregate at x: terms interpolated in segment k, cut, max
                    a = m[k]
                    v = (m[k + 1] - a) / h * (x - x1) + a
                    v = c if c < v else v
                    y = v if v > y else y
                d = x - px
                da += d * (py + y) * 0.5
                dm += d * (py * (2.0 * px + x) + y * (px + 2.0 * x)) / 6.0
                px, py = x, y
                i += 1
            d = x2 - px
            da += d * (py + y2) * 0.5
            dm += d * (py * (2.0 * px + x2) + y2 * (px + 2.0 * x2)) / 6.0
        return da, dm

    # ------------------------------------------------------------------------------------------ batch
    def _firing_many(self, values: Sequence[np.ndarray]) -> np.ndarray:
        """(rules, n) firing strengths; the same operations as scikit-fuzzy on arrays."""
        mu: dict[tuple[str, str], np.ndarray] = {}
        for inp, v in zip(self._inputs, values, strict=True):
            v = np.clip(v, inp.lo, inp.hi)
            arrays = self._sampled[inp.name][1]
            for var, term in self._slots:
                if var == inp.name:
                    mu[(var, term)] = np.interp(v, inp.x, arrays[term])

        def leaf(node: Is) -> np.ndarray:
            return mu[(node.var, node.term)]

        return np.stack([evaluate(tree, leaf, np.fmin, np.fmax, lambda a: 1.0 - a) for tree in self.trees])

    def _cuts_many(self, firing: np.ndarray) -> np.ndarray:
        return np.stack([firing[list(rules)].max(axis=0) for rules in self._rules_of_term])  # (terms, n)

    def activations_many(self, ingreso: ArrayLike, estabilidad: ArrayLike, puntaje: ArrayLike) -> np.ndarray:
        """(n, rules) firing strengths, columns in `rule_ids` order."""
        return self._firing_many(self._as_columns(ingreso, estabilidad, puntaje)).T

    def risk_many(self, ingreso: ArrayLike, estabilidad: ArrayLike, puntaje: ArrayLike) -> np.ndarray:
        """`risk` over arrays (broadcast together); same values, computed in blocks of rows."""
        cols = self._as_columns(ingreso, estabilidad, puntaje)
        shape = np.broadcast_shapes(*(np.shape(a) for a in (ingreso, estabilidad, puntaje)))
        cuts = self._cuts_many(self._firing_many(cols)).T  # (n, terms)
        out = np.empty(len(cuts))
        for start in range(0, len(cuts), _BLOCK):
            out[start : start + _BLOCK] = self._risk_block(cuts[start : start + _BLOCK])
        return out.reshape(shape)

    @staticmethod
    def _as_columns(*arrays: ArrayLike) -> list[np.ndarray]:
        cols = [np.ravel(a).astype(float) for a in np.broadcast_arrays(*(np.asarray(a, float) for a in arrays))]
        for name, col in zip(INPUTS, cols, strict=True):
            if np.isnan(col).any():
                raise ValueError(f"{name} contains NaN")
        return cols

    def _risk_block(self, cuts: np.ndarray) -> np.ndarray:
        n, n_terms = cuts.shape
        m = self._m
        # term by term into two (n, samples) buffers: small blocks stay in cache, unlike one (n, terms, samples)
        agg = np.minimum(m[0][None, :], cuts[:, 0:1])
        tmp = np.empty_like(agg)
        for t in range(1, n_terms):
            np.minimum(m[t][None, :], cuts[:, t : t + 1], out=tmp)
            np.maximum(agg, tmp, out=agg)
        area = agg @ self._wa
        moment = agg @ self._wm

        # crossing points, one candidate per (term, run); absent ones are parked on x[0] (segment 0), where
        # they add the same zero-width points to both chains
        x = self._x
        ks: list[np.ndarray] = []
        ps: list[np.ndarray] = []
        for t in range(n_terms):
            c = cuts[:, t]
            row = m[t]
            for run in self._runs[t]:
                keys = np.asarray(run.keys)
                if run.rising:
                    k = np.searchsorted(keys, c, side="left") + run.start - 1
                    ok = (k >= run.start) & (k < run.end)
                else:
                    k = np.searchsorted(keys, -c, side="right") - 1 + run.start
                    ok = (k >= run.start) & (k < run.end)
                ok &= c > 0.0
                k = np.where(ok, k, 0)
                denom = np.where(ok, row[k + 1] - row[k], 1.0)
                p = x[k] + (c - row[k]) * (x[k + 1] - x[k]) / denom
                p = np.where(ok, np.clip(p, x[k], x[k + 1]), x[0])
                ks.append(k)
                ps.append(p)
        k = np.stack(ks, axis=1)  # (n, K)
        p = np.stack(ps, axis=1)
        rows = np.arange(n)[:, None]

        # aggregate at the crossing points: each term interpolated linearly in its segment, cut, max
        frac = p - x[k]
        terms = self._m[:, k] + self._slope[:, k] * frac[None]  # (terms, n, K)
        y_p = np.minimum(terms, cuts.T[:, :, None]).max(axis=0)

        ends = np.concatenate([k, k + 1], axis=1)  # (n, 2K), grid indices
        ends.sort(axis=1)
        base_x = x[ends]
        base_y = agg[rows, ends]
        all_x = np.concatenate([base_x, p], axis=1)
        all_y = np.concatenate([base_y, y_p], axis=1)
        order = np.argsort(all_x, axis=1, kind="stable")
        all_x = np.take_along_axis(all_x, order, axis=1)
        all_y = np.take_along_axis(all_y, order, axis=1)
        a1, m1 = _trapezoid_rows(all_x, all_y)
        a0, m0 = _trapezoid_rows(base_x, base_y)
        area = area + (a1 - a0)
        moment = moment + (m1 - m0)
        with np.errstate(invalid="ignore", divide="ignore"):
            risk = moment / area
        return np.where(area > 0.0, risk, self.fallback)

    # ---------------------------------------------------------------------------------------- checks
    def _check_coverage(self) -> None:
        """Fail at build when some input combination fires no rule (then there is no centroid)."""
        axes = []
        for name in INPUTS:
            spec = self.fuzzy.variables[name]
            even = np.linspace(spec.min, spec.max, _COVERAGE_POINTS)
            axes.append(np.unique(np.concatenate([even, _break_points(spec)])))
        grid = np.meshgrid(*axes, indexing="ij")
        cols = [g.ravel() for g in grid]
        cuts = self._cuts_many(self._firing_many(cols))
        mass = np.array(self._has_mass)[:, None]
        empty = ~((cuts > 0) & mass).any(axis=0)
        if empty.any():
            i = int(np.flatnonzero(empty)[0])
            where = ", ".join(f"{name}={cols[j][i]:g}" for j, name in enumerate(INPUTS))
            raise FuzzyPolicyError(
                f"fuzzy.rules: no rule fires at {where} ({int(empty.sum())} of {empty.size} checked points); "
                "add a rule that covers it"
            )


def _trapezoid_rows(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x1, x2, y1, y2 = x[:, :-1], x[:, 1:], y[:, :-1], y[:, 1:]
    d = x2 - x1
    area = (d * (y1 + y2) * 0.5).sum(axis=1)
    moment = (d * (y1 * (2.0 * x1 + x2) + y2 * (x1 + 2.0 * x2)) / 6.0).sum(axis=1)
    return area, moment
