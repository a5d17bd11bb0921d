"""Fuzzy risk: time per call of the scikit-fuzzy ways against the NumPy fast path, measured in one run.

    .venv/bin/python benchmarks/fuzzy.py [--naive N] [--reused N] [--fast N] [--batch N]

(a) naive: build the ControlSystem and a simulation anew, then compute (what a per-request build costs);
(b) reused: one built system and one ControlSystemSimulation, new inputs every call (so its cache never
    hits);
(c) fast: `FuzzyRiskModel.risk`; (d) batch: `FuzzyRiskModel.risk_many`, per row.
Inputs are random over the universes (seeded). Prints p50 / p99 per call and the ratios against (c).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

# run as a script, sys.path[0] is benchmarks/, where engine.py (the engine benchmark) would shadow the
# engine package: the repository root goes first
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.fuzzy import FuzzyRiskModel, ReferenceSystem
from engine.policy import default_policy


def _inputs(n: int, seed: int) -> list[tuple[float, float, float]]:
    rng = np.random.default_rng(seed)
    return list(zip(rng.uniform(0, 10, n), rng.uniform(0, 10, n), rng.uniform(0, 1000, n), strict=True))


def _per_call(fn: Callable[[float, float, float], float], points: list[tuple[float, float, float]]) -> np.ndarray:
    times = np.empty(len(points))
    clock = time.perf_counter_ns
    for i, (a, b, c) in enumerate(points):
        t0 = clock()
        fn(a, b, c)
        times[i] = clock() - t0
    return times / 1e3  # µs


def _line(name: str, us: np.ndarray) -> tuple[float, float]:
    p50, p99 = np.percentile(us, [50, 99])
    print(f"{name:<44} n={len(us):>7}  p50 {p50:>10.1f} µs  p99 {p99:>10.1f} µs")
    return p50, p99


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--naive", type=int, default=40, help="calls of (a); each leaks ~150 KiB in scikit-fuzzy")
    ap.add_argument("--reused", type=int, default=400)
    ap.add_argument("--fast", type=int, default=50_000)
    ap.add_argument("--batch", type=int, default=200_000)
    args = ap.parse_args()

    fuzzy = default_policy().fuzzy
    t0 = time.perf_counter()
    reference = ReferenceSystem(fuzzy)  # also pays scikit-fuzzy's import once, outside the timings
    print(f"scikit-fuzzy import + first build: {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    model = FuzzyRiskModel(fuzzy)
    print(f"fast path build (incl. coverage check): {(time.perf_counter() - t0) * 1e3:.1f} ms")
    model.risk(5.0, 5.0, 500.0)
    reference.risk(ingreso=5.0, estabilidad=5.0, puntaje=500.0)

    def naive(a: float, b: float, c: float) -> float:
        return ReferenceSystem(fuzzy).risk(ingreso=a, estabilidad=b, puntaje=c)

    def reused(a: float, b: float, c: float) -> float:
        return reference.risk(ingreso=a, estabilidad=b, puntaje=c)

    gc.collect()
    naive_us = _per_call(naive, _inputs(args.naive, 1))
    reused_us = _per_call(reused, _inputs(args.reused, 2))
    fast_points = _inputs(args.fast, 3)
    fast_us = _per_call(model.risk, fast_points)

    cols = [np.asarray(c) for c in zip(*_inputs(args.batch, 4), strict=True)]
    t0 = time.perf_counter()
    model.risk_many(*cols)
    batch_row_us = (time.perf_counter() - t0) / args.batch * 1e6

    print()
    naive_p50, naive_p99 = _line("(a) naive: build ControlSystem + compute", naive_us)
    reused_p50, reused_p99 = _line("(b) reused ControlSystemSimulation.compute", reused_us)
    fast_p50, fast_p99 = _line("(c) fast path FuzzyRiskModel.risk", fast_us)
    print(f"{'(d) fast path risk_many, per row':<44} n={args.batch:>7}  mean {batch_row_us:>9.1f} µs")
    print()
    print(f"ratio p50: naive/fast {naive_p50 / fast_p50:,.0f}×   reused/fast {reused_p50 / fast_p50:,.0f}×")
    print(f"ratio p99: naive/fast {naive_p99 / fast_p99:,.0f}×   reused/fast {reused_p99 / fast_p99:,.0f}×")
    print(f"fast single call / batch row: {fast_p50 / batch_row_us:.1f}×")

    # sanity: the timed fast path agrees with the reference on the points (b) used
    pts = _inputs(args.reused, 2)
    diff = max(abs(model.risk(*p) - reused(*p)) for p in pts)
    print(f"max |fast − scikit-fuzzy| over the {len(pts)} points of (b): {diff:.2e}")


if __name__ == "__main__":
    main()
