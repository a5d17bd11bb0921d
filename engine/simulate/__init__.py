"""`simulate(policy)`: the policy over every combination of the 8 answers × a loan grid (issue #12, item 5).

One call = the decision mix, the rate, PD, score and risk distributions, how often each rule fires, the dead
and the unreachable rules, and the invariants (held or broken, with a counter-example), as a typed report
(`SimulationReport`, JSON-serialisable). `asesor policy simulate` prints it; the API stores it.

How it stays under two minutes on two cores without sampling: engine/simulate/space.py (the factoring),
engine/simulate/evaluate.py (each number once, on the inputs it depends on), engine.expert.decide_many (the
rules vectorised). tests/engine/test_simulate.py holds it to `Assessor.assess` (experta, the ontology) on
thousands of random points of the grid.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from engine.expert import RULE_IDS
from engine.policy import Policy
from engine.simulate.evaluate import AS_OF, PD_PARTS, Chunk, Tables, build_tables, run_chunk
from engine.simulate.invariants import Outcomes, check_all
from engine.simulate.reach import unreachable_rules
from engine.simulate.report import RuleCoverage, Share, SimulationReport, Space, distribution
from engine.simulate.space import AnswerSpace, LoanGrid

__all__ = ["Simulation", "SimulationReport", "outcomes", "run", "simulate"]

# the tables the workers read: set in the parent before the pool forks
_TABLES: Tables | None = None
# profiles per task: small enough for a smooth progress bar, large enough to amortise the hand-off
_CHUNK = 128


def _work(bounds: tuple[int, int]) -> Chunk:
    assert _TABLES is not None
    return run_chunk(_TABLES, *bounds)


def _bounds(n: int) -> list[tuple[int, int]]:
    return [(s, min(s + _CHUNK, n)) for s in range(0, n, _CHUNK)]


def _run(tables: Tables, workers: int, progress: Callable[[int], None] | None) -> list[Chunk]:
    global _TABLES
    bounds = _bounds(len(tables.space.profiles))
    done: list[Chunk] = []
    if workers <= 1:
        for b in bounds:
            done.append(run_chunk(tables, *b))
            if progress:
                progress(len(done))
        return done
    _TABLES = tables
    try:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            for chunk in pool.map(_work, bounds):
                done.append(chunk)
                if progress:
                    progress(len(done))
    finally:
        _TABLES = None
    return done


def outcomes(tables: Tables, chunks: list[Chunk]) -> Outcomes:
    """The four numbers the applicant sees, for every (profile, price, term, age, income) row."""
    chunks = sorted(chunks, key=lambda c: c.start)
    decision = np.concatenate([c.decision for c in chunks])
    rate = np.concatenate([c.rate_cents for c in chunks])
    from engine.simulate.evaluate import rows

    r = rows(tables, 0, len(tables.space.profiles))
    return Outcomes(
        decision=decision,
        rate_cents=rate,
        pd=np.ascontiguousarray(r["pd"]),
        score=np.ascontiguousarray(r["score"]),
        risk=np.ascontiguousarray(r["risk"]),
    )


def _score_terms(policy: Policy, score: np.ndarray, weight: np.ndarray) -> dict[str, float]:
    """Share of the points whose score belongs most to each fuzzy score term (seed 003's malo/regular/bueno)."""
    from engine.fuzzy import fuzzy_model

    m = fuzzy_model(policy)
    terms = list(policy.fuzzy.variables["puntaje"].terms)
    scores = np.arange(policy.score_scaling.max_score + 1, dtype=float)
    mu = np.array([[m.membership("puntaje", t, float(s)) for s in scores] for t in terms])
    top = mu.argmax(axis=0)
    w = np.bincount(score.ravel(), weights=weight.ravel(), minlength=len(scores))
    total = w.sum()
    return {t: round(float(w[top == i].sum() / total), 4) for i, t in enumerate(terms)}


class Simulation:
    """The arrays of one run: the tables, the outcome of every row, the per-chunk rule counts."""

    def __init__(self, assessor: Any, tables: Tables, chunks: list[Chunk], o: Outcomes, workers: int) -> None:
        self.assessor, self.tables, self.chunks, self.outcomes, self.workers = assessor, tables, chunks, o, workers


def run(assessor: Any, workers: int | None = None, progress: Callable[[int, int], None] | None = None) -> Simulation:
    """Evaluate the assessor's policy over its whole space (the arrays; `simulate` makes the report)."""
    workers = workers or os.cpu_count() or 1
    policy = assessor.policy
    space, grid = AnswerSpace(policy), LoanGrid.from_policy(policy)
    # one bar over both phases: the PD tables (PD_PARTS steps), then the row chunks
    total = PD_PARTS + len(_bounds(len(space.profiles)))
    if progress:
        progress(0, total)  # the bar appears now, not after the first step
    tables = build_tables(assessor, space, grid, workers, progress and (lambda k: progress(k, total)))
    chunks = _run(tables, workers, progress and (lambda k: progress(PD_PARTS + k, total)))
    return Simulation(assessor, tables, chunks, outcomes(tables, chunks), workers)


def simulate(
    policy: Policy | str | Path | None = None,
    *,
    model_dir: str | Path | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    assessor: Any = None,
) -> SimulationReport:
    """Run the policy over the whole answer space × its loan grid; see the module docstring."""
    from engine.assess import get_assessor

    started = time.perf_counter()
    sim = run(assessor or get_assessor(policy, model_dir), workers, progress)
    return report(sim, time.perf_counter() - started)


def report(sim: Simulation, seconds: float) -> SimulationReport:
    assessor, tables, chunks, o, workers = sim.assessor, sim.tables, sim.chunks, sim.outcomes, sim.workers
    policy, space, grid = assessor.policy, tables.space, tables.grid

    weight = np.broadcast_to(space.weight[:, None, None, None, None], o.decision.shape)
    total = int(weight.sum())
    decisions = {
        name: Share(
            count=int(weight[o.decision == k].sum()), share=round(float(weight[o.decision == k].sum() / total), 6)
        )
        for k, name in enumerate(("rechazado", "revisar", "aprobado"))
    }
    fired: np.ndarray = np.sum([c.fired for c in chunks], axis=0)
    fired_any = np.logical_or.reduce([c.fired_any for c in chunks])
    approved = o.decision == 2
    invariants = check_all(tables, o)
    band = np.broadcast_to(space.profiles[:, 6][:, None, None, None, None], o.score.shape)
    srow = np.broadcast_to(tables.stability_row[:, None, None, None, None], o.score.shape)
    seed_risk = tables.seed_risk[srow, band, np.arange(grid.shape[3])[None, None, None, None, :], o.score]
    return SimulationReport(
        policy_version=policy.version,
        policy_hash=policy.content_hash,
        model_version=assessor.pd_model.model_version,
        book_bad_rate=assessor.book_rate,
        space=Space(
            answer_combinations=space.size,
            profiles=len(space.profiles),
            vehicle_prices=list(grid.prices),
            terms=list(grid.terms),
            ages=list(grid.ages),
            incomes={b: list(v) for b, v in grid.incomes.items()},
            grid_points=grid.size,
            points=space.size * grid.size,
            as_of=AS_OF.isoformat(),
        ),
        decisions=decisions,
        rate=distribution(o.rate_cents[approved] / 100, weight[approved], 0.01),
        pd=distribution(o.pd, weight, 1e-5),
        score=distribution(o.score, weight, 1.0),
        rule_risk=distribution(o.risk, weight, 1e-3),
        seed_risk=distribution(seed_risk, weight, 1e-3),
        score_terms=_score_terms(policy, o.score, weight),
        rules=[
            RuleCoverage(rule=rule, fired=int(fired[i]), share=round(float(fired[i] / total), 6))
            for i, rule in enumerate(RULE_IDS)
        ],
        dead_rules=[rule for i, rule in enumerate(RULE_IDS) if not fired_any[i]],
        unreachable_rules=unreachable_rules(policy),
        invariants=invariants,
        ok=all(inv.held for inv in invariants),
        seconds=round(seconds, 2),
        workers=workers,
    )


def terminal_progress() -> Callable[[int, int], None] | None:
    """A tqdm bar on stderr, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bar: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, desc="simulate", unit="step", file=sys.stderr)
        bar["bar"].update(done - bar["bar"].n)
        if done == total:
            bar["bar"].close()

    return update
