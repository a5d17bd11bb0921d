"""The scikit-fuzzy reference: the policy's Mamdani system as a `skfuzzy.control.ControlSystem`.

Built once per policy and reused (ARCHITECTURE.md: every construction leaks ~150 KiB into scikit-fuzzy's
class-level state), with one `ControlSystemSimulation` guarded by a lock (it is stateful). Terms are sampled
with skfuzzy.trapmf / trimf / gaussmf; a hedged term is an extra term computed from its sampled base term;
`is not` is `~term`, and/or are `&`/`|` (min/max); defuzzification is scikit-fuzzy's centroid.
scikit-fuzzy is imported lazily: the assessment path uses the fast path and never needs it.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

import numpy as np

from engine.fuzzy.membership import hedge, universe
from engine.fuzzy.rules import Is, evaluate, parse_rule
from engine.policy.models import FuzzyPolicy, FuzzyVariable, Gauss, Membership, Trap, Tri

__all__ = ["ReferenceSystem"]


def _skfuzzy_term(skfuzzy: Any, x: np.ndarray, mf: Membership) -> np.ndarray:
    if isinstance(mf, Trap):
        return np.asarray(skfuzzy.trapmf(x, list(mf.trap)))
    if isinstance(mf, Tri):
        return np.asarray(skfuzzy.trimf(x, list(mf.tri)))
    if isinstance(mf, Gauss):
        return np.asarray(skfuzzy.gaussmf(x, mf.gauss.mean, mf.gauss.sigma))
    raise TypeError(f"unknown membership function {mf!r}")


def _add_terms(skfuzzy: Any, var: Any, spec: FuzzyVariable, keep: set[str] | None = None) -> None:
    arrays = {name: _skfuzzy_term(skfuzzy, var.universe, mf) for name, mf in spec.terms.items()}
    for name, h in spec.hedged.items():
        arrays[name] = hedge(h.hedge, arrays[h.of])
    for name, mf in arrays.items():
        if keep is None or name in keep:
            var[name] = mf


class ReferenceSystem:
    """One ControlSystem + one reused simulation for a fuzzy policy section."""

    def __init__(self, fuzzy: FuzzyPolicy, *, concluded_terms_only: bool = False) -> None:
        import skfuzzy
        from skfuzzy import control as ctrl

        self.output_name = fuzzy.output.name or "riesgo"
        out_universe = universe(fuzzy.output)
        self.fallback = float((out_universe[0] + out_universe[-1]) / 2)

        antecedents = {}
        for name, spec in fuzzy.variables.items():
            ant = ctrl.Antecedent(universe(spec), name)
            _add_terms(skfuzzy, ant, spec)
            antecedents[name] = ant
        consequent = ctrl.Consequent(out_universe, self.output_name, defuzzify_method="centroid")
        # scikit-fuzzy skips output terms that no rule cuts, but its array mode trips over them
        # (`None[idx]`): a system without them computes the same values and accepts arrays
        concluded = {r.then for r in fuzzy.rules} if concluded_terms_only else None
        _add_terms(skfuzzy, consequent, fuzzy.output, concluded)

        used: set[str] = set()

        def leaf(node: Is) -> Any:
            used.add(node.var)
            return antecedents[node.var][node.term]

        rules = []
        for rule in fuzzy.rules:
            tree = parse_rule(rule.if_)
            antecedent = evaluate(tree, leaf, lambda a, b: a & b, lambda a, b: a | b, lambda a: ~a)
            rules.append(ctrl.Rule(antecedent, consequent[rule.then], label=rule.id))
        # scikit-fuzzy refuses inputs for antecedents that no rule mentions
        self.inputs = tuple(name for name in fuzzy.variables if name in used)
        self.system = ctrl.ControlSystem(rules)
        self.simulation = ctrl.ControlSystemSimulation(self.system, clip_to_bounds=True)
        self._lock = threading.Lock()
        self._fuzzy = fuzzy
        self._array_system: ReferenceSystem | None = self if concluded_terms_only else None

    def risk(self, **values: float) -> float:
        """Crisp output for crisp inputs (out-of-universe inputs are clipped by scikit-fuzzy itself).
        When no rule fires scikit-fuzzy yields no output; we return the output universe's midpoint,
        as the fast path does."""
        with self._lock:
            sim = self.simulation
            # scikit-fuzzy's cache path only writes outputs it has: a stale one would survive a no-fire run
            sim.output = {}
            for name in self.inputs:
                sim.input[name] = float(values[name])
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"skfuzzy\.")
                sim.compute()
            out = sim.output.get(self.output_name)
        return self.fallback if out is None else float(out)

    def risk_many(self, **values: np.ndarray) -> np.ndarray:
        """scikit-fuzzy's own array mode (one compute, then its per-element centroid) over equal-shape arrays,
        on a twin system without unconcluded output terms (built once). Raises scikit-fuzzy's
        EmptyMembershipError if some element fires no rule."""
        if self._array_system is None:
            self._array_system = ReferenceSystem(self._fuzzy, concluded_terms_only=True)
        ref = self._array_system
        with ref._lock:
            sim = ref.simulation
            sim.output = {}
            with warnings.catch_warnings():
                # "Input array is shape …, different from previous": all inputs are replaced together;
                # np.maximum(a, b, out) positional-out deprecation inside scikit-fuzzy 0.5
                warnings.filterwarnings("ignore", message="Input array is shape", category=UserWarning)
                warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"skfuzzy\.")
                for name in ref.inputs:
                    sim.input[name] = np.asarray(values[name], dtype=float)
                sim.compute()
            return np.asarray(sim.output[ref.output_name], dtype=float)
