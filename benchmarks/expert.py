"""Expert system: time per decision of the ways to run the 18 rules with experta, measured in one run.

    .venv/bin/python benchmarks/expert.py [--n N] [--naive-every K]

(a) naive: a new engine (Rete network) per decision, with experta's stock agenda strategy;
(b) reused, stock experta: one engine, reset + declare the seed's facts + run, experta's stock matcher
    and strategy;
(c) reused, production: `expert_system(policy).decide` (as (b) with the strategy's per-activation
    `lru_cache` removed, the Rete root dispatching facts by class and the DefFacts lookup cached;
    engine/expert.py says why);
(e) reused, TEST CEs: as (c), but six rules bind fields with MATCH and compare in a TEST instead of testing
    the field with P(...) (alpha-node tests);
(f) plain: `decide_reference`, the rules as plain Python (the floor; no experta).
The variants run interleaved over the same random facts (seeded, all three decisions represented) so that
load from other processes hits them alike. (c) and (e) are checked against (f) on every input.
Prints p50 / p99 per decision and the ratios; the budget for (c) is p50 ≤ 700 µs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# run as a script, this directory comes first on sys.path: the repository root goes before it
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from experta import AS, MATCH, NOT, TEST, KnowledgeEngine, P, Rule
from experta.matchers import ReteMatcher
from experta.strategies import DepthStrategy

from engine.expert import (
    APROBADO,
    RECHAZADO,
    SALIENCE,
    CreditExpertSystem,
    CreditoFact,
    HistorialFact,
    PersonaFact,
    ResultadoFact,
    _engine_class,
    decide_reference,
    expert_system,
)
from engine.policy import Policy, default_policy
from engine.types import ExpertFacts, ExpertResult

BUDGET_P50_US = 700.0


def _facts(n: int, seed: int) -> list[ExpertFacts]:
    """Random applicants: mostly inside the reject limits (about a quarter rejected), amounts around the
    microcredit and surcharge thresholds, terms as the dialog offers them."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        requested = float(rng.choice([rng.uniform(20_000, 50_000), rng.uniform(50_000, 800_000)], p=[0.2, 0.8]))
        out.append(
            ExpertFacts(
                name="x",
                birth_year=1990,
                age=int(rng.choice([rng.integers(18, 76), rng.integers(16, 85)], p=[0.95, 0.05])),
                risk=float(rng.uniform(0, 85)),
                income=float(rng.uniform(9_000, 70_000)),
                score=float(rng.uniform(280, 1000)),
                debt_capacity=float(requested * rng.uniform(0.95, 2.0)),
                requested=requested,
                term_months=int(rng.choice([6, 12, 24, 36, 48, 60, 72], p=[0.05, 0.15, 0.2, 0.2, 0.2, 0.15, 0.05])),
            )
        )
    return out


# ------------------------------------------------------------------------------------- variant engines
def _stock_engine_class(policy: Policy) -> type[KnowledgeEngine]:
    """The production rules on experta's stock ReteMatcher and DepthStrategy (with its lru_cache)."""

    class Stock(_engine_class(policy)):  # type: ignore[misc]  # a class built per policy: a dynamic base
        __matcher__ = ReteMatcher
        __strategy__ = DepthStrategy

    return Stock


def _test_style_engine_class(policy: Policy) -> type[KnowledgeEngine]:
    """Production rules, but R1–R3, R9, R13 and R14 bind the fields and compare in a TEST CE."""
    x, s = policy.expert, SALIENCE

    class TestStyle(_engine_class(policy)):  # type: ignore[misc]  # a class built per policy: a dynamic base
        @Rule(PersonaFact(edad=MATCH.e), TEST(lambda e: e < x.min_age), salience=s["R1"])
        def r1(self) -> None:
            self._decide("R1", RECHAZADO, 0.0)

        @Rule(PersonaFact(edad=MATCH.e), TEST(lambda e: e > x.max_age), salience=s["R2"])
        def r2(self) -> None:
            self._decide("R2", RECHAZADO, 0.0)

        @Rule(PersonaFact(riesgo_impago=MATCH.ri), TEST(lambda ri: ri > x.reject_risk_above), salience=s["R3"])
        def r3(self) -> None:
            self._decide("R3", RECHAZADO, 0.0)

        @Rule(
            PersonaFact(riesgo_impago=MATCH.ri),
            NOT(ResultadoFact(aprobado=P(lambda v: v != APROBADO))),  # as production: a review (P2, K1) holds too
            TEST(lambda ri: ri <= x.approve_risk_at_most),
            salience=s["R9"],
        )
        def r9(self) -> None:
            self._decide("R9", APROBADO, None)

        @Rule(
            AS.r << ResultadoFact(aprobado=APROBADO, base_calculada=True, descuento_aplicado=False),
            PersonaFact(riesgo_impago=MATCH.ri),
            HistorialFact(puntaje=MATCH.p),
            TEST(lambda ri, p: ri < x.discount_risk_below and p >= x.discount_score_at_least),
            salience=s["R13"],
        )
        def r13(self, r: ResultadoFact) -> None:
            self._adjust("R13", r, interes=r["interes"] - x.discount_points, descuento_aplicado=True)

        @Rule(
            AS.r << ResultadoFact(aprobado=APROBADO, base_calculada=True, recargo_aplicado=False),
            CreditoFact(solicitado=MATCH.so),
            PersonaFact(riesgo_impago=MATCH.ri),
            TEST(lambda so, ri: so > x.surcharge_amount_above and ri > x.surcharge_risk_above),
            salience=s["R14"],
        )
        def r14(self, r: ResultadoFact) -> None:
            self._adjust("R14", r, interes=r["interes"] + x.surcharge_points, recargo_aplicado=True)

    return TestStyle


# ------------------------------------------------------------------------------------------- measuring
def _alone(system: CreditExpertSystem, inputs: list[ExpertFacts]) -> tuple[list[float], list[float]]:
    for f in inputs[:50]:
        system.decide(f)
    clock, cpu_clock = time.perf_counter_ns, time.process_time_ns
    wall, cpu_us = [], []
    gc.collect()
    for f in inputs:
        c, t = cpu_clock(), clock()
        system.decide(f)
        wall.append((clock() - t) / 1e3)
        cpu_us.append((cpu_clock() - c) / 1e3)
    return wall, cpu_us


def _line(name: str, us: list[float], cpu_us: list[float]) -> tuple[float, float]:
    p50, p99 = np.percentile(us, [50, 99])
    cpu50 = float(np.percentile(cpu_us, 50))
    print(f"{name:<42} n={len(us):>6}  wall p50 {p50:>8.1f} µs  p99 {p99:>8.1f} µs  cpu p50 {cpu50:>8.1f} µs")
    return float(p50), cpu50


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000, help="decisions per reused variant")
    ap.add_argument("--naive-every", type=int, default=10, help="time the naive variant on every K-th input")
    ap.add_argument("--alone-only", action="store_true", help=argparse.SUPPRESS)  # the `python -O` child run
    args = ap.parse_args()

    policy = default_policy()
    t0 = time.perf_counter()
    production = expert_system(policy)
    build_ms = (time.perf_counter() - t0) * 1e3
    if args.alone_only:
        wall, cpu_us = _alone(production, _facts(args.n, seed=7))
        print(json.dumps({"wall": float(np.percentile(wall, 50)), "cpu": float(np.percentile(cpu_us, 50))}))
        return
    print(f"engine build (Rete network, first): {build_ms:.1f} ms")
    stock_class = _stock_engine_class(policy)
    stock = CreditExpertSystem(policy)
    stock.engine = stock_class()
    test_style = CreditExpertSystem(policy)
    test_style.engine = _test_style_engine_class(policy)()

    naive_system = CreditExpertSystem(policy)

    def naive(f: ExpertFacts) -> ExpertResult:
        naive_system.engine = stock_class()  # a new engine, and so a new Rete network, per decision
        return naive_system.decide(f)

    variants: dict[str, Callable[[ExpertFacts], ExpertResult]] = {
        "(a) naive: new engine per decision": naive,
        "(b) reused, stock experta matcher+strategy": stock.decide,
        "(c) reused, production (expert_system)": production.decide,
        "(e) reused, TEST CEs instead of field tests": test_style.decide,
        "(f) plain Python reference": lambda f: decide_reference(f, policy),
    }
    inputs = _facts(args.n, seed=7)
    expected = [decide_reference(f, policy) for f in inputs]
    counts = {d: sum(e.decision == d for e in expected) for d in ("aprobado", "rechazado", "revisar")}
    print(f"inputs: {len(inputs)} random facts, decisions {counts}")
    for f in inputs[:50]:  # warm-up
        for fn in variants.values():
            fn(f)

    clock, cpu_clock = time.perf_counter_ns, time.process_time_ns
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("wall = perf_counter; cpu = this process's CPU time (less sensitive to other jobs on the machine)")

    # The production path alone first: no other engine competes for the CPU caches between its calls.
    c_alone = _line("(c) production, alone (not interleaved)", *_alone(production, inputs))
    # The same in a `python -O` child: experta's Token.__new__ checks its arguments with `assert`s.
    child = subprocess.run(
        [sys.executable, "-O", __file__, "--alone-only", "--n", str(args.n)], capture_output=True, text=True, check=True
    )
    optimized = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        f"{'(c) production, alone, python -O':<42} n={args.n:>6}  wall p50 {optimized['wall']:>8.1f} µs"
        f"{'':>18}cpu p50 {optimized['cpu']:>8.1f} µs"
    )

    times: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    gc.collect()
    for i, (f, want) in enumerate(zip(inputs, expected, strict=True)):
        for name, fn in variants.items():
            if name.startswith("(a)") and i % args.naive_every:
                continue
            c0, t = cpu_clock(), clock()
            got = fn(f)
            times[name].append((clock() - t) / 1e3)
            cpu[name].append((cpu_clock() - c0) / 1e3)
            if not name.startswith(("(a)", "(b)")) and got != want:
                raise SystemExit(f"{name} disagrees with the reference on {f}: {got} != {want}")

    print("interleaved, same inputs:")
    p50 = {name: _line(name, us, cpu[name]) for name, us in times.items()}
    a, b, c, e, f_ = (p50[name][0] for name in variants)
    print(f"reused production vs naive (a/c): {a / c:.1f}x faster")
    print(f"reused production vs reused stock experta (b/c): {b / c:.2f}x faster")
    print(f"TEST CEs (6 rules) vs field constraints (e/c): {e / c:.2f}x")
    print(f"python -O vs plain run, production alone: {c_alone[0] / optimized['wall']:.2f}x")
    print(f"production vs plain Python (c/f): {c / f_:.0f}x slower")
    for label, value in (("alone, wall", c_alone[0]), ("alone, cpu", c_alone[1]), ("interleaved, wall", c)):
        verdict = "within" if value <= BUDGET_P50_US else "OVER"
        print(f"production p50 ({label}) {value:.0f} µs: {verdict} the {BUDGET_P50_US:.0f} µs budget")


if __name__ == "__main__":
    main()
