"""The verdict over (profiles × loan grid), factored: each number is computed once on the inputs it depends on.

- derived numbers (engine.derive): requested amount per (price, down payment), debt capacity and existing
  payments per (income, existing credits, term): a few hundred `derive` calls;
- PD: `ApplicantPDModel.predict` once per distinct feature tuple (history rank, employment rank, existing
  credits, instalment class, amount, term, age): the served model itself, whatever its kind;
- score: `score_of` per distinct PD; the rules' risk (`MonotoneRisk`) and the seed's fuzzy risk on the
  (stability, income, score) table, the same NumPy code the engine runs;
- the expert rules: `engine.expert.decide_many` (the one plain copy of the rules) over every row.
Rows are (profile, price, term, age, income index); the workers get chunks of profiles.
"""

from __future__ import annotations

import copy
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from typing import Any

import numpy as np

from engine.derive import derive
from engine.expert import RULE_IDS, decide_many
from engine.policy import Policy
from engine.simulate.space import VERDICT_QUESTIONS, AnswerSpace, LoanGrid
from engine.types import AssessmentRequest

# a fixed date: the grid's ages become birth years against it (the verdict depends on the age only)
AS_OF = date(2026, 1, 1)


@dataclass
class Tables:
    """Everything the rows gather from, built once in the parent (workers inherit it by fork)."""

    policy: Policy
    space: AnswerSpace
    grid: LoanGrid
    bands: tuple[str, ...]
    incomes: np.ndarray  # (bands, k) MXN
    requested: np.ndarray  # (prices, down payments)
    capacity: np.ndarray  # (bands, k, existing-credit answers, terms)
    pd: np.ndarray  # (pd groups, prices, down payments, bands, k, terms, ages)
    score: np.ndarray  # same shape, int
    pd_group: np.ndarray  # (profiles,) index of the profile's (history rank, employment rank, credits) group
    stability_row: np.ndarray  # (profiles,) row of the profile's stability in the risk tables
    rule_risk: np.ndarray  # (stabilities, bands, k, scores 0..max) the risk the rules read
    seed_risk: np.ndarray  # same shape, the seed's fuzzy output (reported)


def _request(answers: dict[str, str], price: float, term: int, age: int, income: float) -> AssessmentRequest:
    return AssessmentRequest.model_validate(
        {
            "answers": answers,
            "loan": {"vehicle_price": price, "term_months": term},
            "applicant": {"birth_year": AS_OF.year - age, "monthly_income": income},
        }
    )


@dataclass
class _PDContext:
    model: Any
    score_of: Callable[[float], int]
    profiles: np.ndarray
    col: dict[str, int]
    codes: dict[str, tuple[str, ...]]
    base: dict[str, str]
    requested: np.ndarray
    existing: np.ndarray
    incomes: np.ndarray
    grid: LoanGrid


def _pd_groups(ctx: _PDContext, groups: list[tuple[int, int]]) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """PD and score of PD groups over (prices, down payments, bands, k, terms, ages): `predict` once per
    distinct (group, amount, instalment class), for every term and age."""
    grid, mp, col = ctx.grid, ctx.model.mapper, ctx.col
    out = []
    for g, rep in groups:
        p = ctx.profiles[rep]
        answers = SimpleNamespace(**{q: ctx.codes[q][p[col[q]]] if q in col else ctx.base[q] for q in ctx.codes})
        c = p[col["creditos_vigentes"]]
        pds = np.zeros((*ctx.requested.shape, *ctx.incomes.shape, len(grid.terms), len(grid.ages)))
        scores = np.zeros(pds.shape, dtype=np.int32)
        blocks: dict[tuple[float, int], tuple[np.ndarray, np.ndarray]] = {}
        for (i, e), req in np.ndenumerate(ctx.requested):
            for (b, k), income in np.ndenumerate(ctx.incomes):
                ex = float(ctx.existing[b, k, c])
                klass = mp.installment_class(mp.payment_ratio(float(req), float(income), ex))
                block = blocks.get((float(req), klass))  # the PD's inputs apart from term and age
                if block is None:
                    bp = np.zeros((len(grid.terms), len(grid.ages)))
                    bs = np.zeros(bp.shape, dtype=np.int32)
                    for t, term in enumerate(grid.terms):
                        request = SimpleNamespace(answers=answers, loan=SimpleNamespace(term_months=term))
                        for a, age in enumerate(grid.ages):
                            derived = SimpleNamespace(
                                requested_amount=float(req), income_mxn=float(income), existing_payments=ex, age=age
                            )
                            bp[t, a] = ctx.model.predict(request, derived).probability
                            bs[t, a] = ctx.score_of(bp[t, a])
                    block = blocks[(float(req), klass)] = (bp, bs)
                pds[i, e, b, k], scores[i, e, b, k] = block
        out.append((g, pds, scores))
    return out


_FORK_STATE: tuple[Callable[..., Any], list[Any]] | None = None


def _fork_call(i: int) -> Any:
    assert _FORK_STATE is not None
    fn, args = _FORK_STATE
    return fn(*args[i])


def fork_map(
    fn: Callable[..., Any], args: list[tuple[Any, ...]], workers: int, progress: Callable[[int], None] | None = None
) -> list[Any]:
    """fn(*a) for a in args on `workers` forked processes (they inherit the arguments: nothing is pickled in);
    `progress(k)` after the k-th result."""
    global _FORK_STATE
    out: list[Any] = []
    if workers <= 1 or len(args) <= 1:
        for a in args:
            out.append(fn(*a))
            if progress:
                progress(len(out))
        return out
    _FORK_STATE = (fn, args)
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
            for result in pool.map(_fork_call, range(len(args))):
                out.append(result)
                if progress:
                    progress(len(out))
        return out
    finally:
        _FORK_STATE = None


# PD groups are handed to the workers in this many parts (the progress bar's first steps)
PD_PARTS = 16


def build_tables(
    assessor: Any, space: AnswerSpace, grid: LoanGrid, workers: int = 1, progress: Callable[[int], None] | None = None
) -> Tables:
    policy: Policy = assessor.policy
    codes = space.codes
    col = {q: i + 1 for i, q in enumerate(VERDICT_QUESTIONS)}  # profile columns
    prof = space.profiles
    bands = codes["ingreso_mensual"]
    incomes = np.array([grid.incomes[b] for b in bands])
    n_eng, n_cred = len(codes["enganche"]), len(codes["creditos_vigentes"])
    base = {q: c[0] for q, c in codes.items()}

    # derived numbers, by engine.derive itself
    requested = np.zeros((len(grid.prices), n_eng))
    for i, price in enumerate(grid.prices):
        for e, eng in enumerate(codes["enganche"]):
            requested[i, e] = derive(
                _request({**base, "enganche": eng}, price, grid.terms[0], 40, 1.0), policy, AS_OF
            ).requested_amount
    capacity = np.zeros((*incomes.shape, n_cred, len(grid.terms)))
    existing = np.zeros((*incomes.shape, n_cred))
    for (b, k), income in np.ndenumerate(incomes):
        for c, cred in enumerate(codes["creditos_vigentes"]):
            for t, term in enumerate(grid.terms):
                d = derive(
                    _request({**base, "creditos_vigentes": cred}, grid.prices[0], term, 40, float(income)),
                    policy,
                    AS_OF,
                )
                capacity[b, k, c, t] = d.debt_capacity
                existing[b, k, c] = d.existing_payments

    # PD groups: profiles whose history rank, employment rank and credits answer agree have the same PD model
    # inputs apart from the loan; one representative's codes go to `predict`
    model = copy.copy(assessor.pd_model)
    model.top_k = 0  # the reasons are not needed here
    mp = model.mapper
    keys = []
    for p in prof:
        hist = mp.history_rank(
            codes["historial_crediticio"][p[col["historial_crediticio"]]],
            codes["atrasos_12_meses"][p[col["atrasos_12_meses"]]],
            codes["creditos_vigentes"][p[col["creditos_vigentes"]]],
        )
        keys.append(
            (hist, mp.employment[codes["trabajo_tiempo"][p[col["trabajo_tiempo"]]]], p[col["creditos_vigentes"]])
        )
    group_keys, pd_group = np.unique(np.array(keys), axis=0, return_inverse=True)
    pd_group = pd_group.reshape(-1)
    reps = [int(np.flatnonzero(pd_group == g)[0]) for g in range(len(group_keys))]

    ctx = _PDContext(model, assessor.score_of, prof, col, codes, base, requested, existing, incomes, grid)
    parts = fork_map(
        _pd_groups,
        [(ctx, [(g, rep) for g, rep in enumerate(reps) if g % workers == w]) for w in range(workers)],
        workers,
    )
    shape = (len(group_keys), len(grid.prices), n_eng, *incomes.shape, len(grid.terms), len(grid.ages))
    pd_table = np.zeros(shape)
    score_table = np.zeros(shape, dtype=np.int32)
    for part in parts:
        for g, pds, scores in part:
            pd_table[g], score_table[g] = pds, scores

    # the risk tables over every (stability, income, score) a row can meet
    stabilities = np.array(sorted(set(policy.mappings.stability_by_tenure.values())))
    stability_of = {c: int(np.searchsorted(stabilities, v)) for c, v in policy.mappings.stability_by_tenure.items()}
    stability_row = np.array([stability_of[codes["trabajo_tiempo"][p[col["trabajo_tiempo"]]]] for p in prof])
    scores = np.arange(policy.score_scaling.max_score + 1, dtype=float)
    s, inc, sc = np.meshgrid(stabilities, incomes.ravel() / policy.mappings.money_scale, scores, indexing="ij")
    rule_risk = assessor.rule_risk_many(inc.ravel(), s.ravel(), sc.ravel()).reshape(
        len(stabilities), *incomes.shape, -1
    )
    seed_risk = assessor.fuzzy.risk_many(inc.ravel(), s.ravel(), sc.ravel()).reshape(rule_risk.shape)
    return Tables(policy, space, grid, bands, incomes, requested, capacity, pd_table, score_table, pd_group,
                  stability_row, rule_risk, seed_risk)  # fmt: skip


@dataclass
class Chunk:
    """The outcome of a run of profiles over the whole grid: arrays (profiles, prices, terms, ages, k)."""

    start: int
    decision: np.ndarray  # int8
    rate_cents: np.ndarray  # int16: rates are rounded to cents of a point, so this is exact
    fired: np.ndarray  # (rules,) weighted firing counts
    fired_any: np.ndarray  # (rules,) bool


def rows(tables: Tables, start: int, stop: int) -> dict[str, np.ndarray]:
    """The expert's inputs for profiles start..stop over the grid, as arrays of shape (n, P, T, A, K)."""
    t = tables
    prof = t.space.profiles[start:stop]
    col = {q: i + 1 for i, q in enumerate(VERDICT_QUESTIONS)}
    n, (P, T, A, K) = len(prof), t.grid.shape
    eng = prof[:, col["enganche"]][:, None, None, None, None]
    band = prof[:, col["ingreso_mensual"]][:, None, None, None, None]
    cred = prof[:, col["creditos_vigentes"]][:, None, None, None, None]
    g = t.pd_group[start:stop][:, None, None, None, None]
    srow = t.stability_row[start:stop][:, None, None, None, None]
    ip = np.arange(P)[None, :, None, None, None]
    it = np.arange(T)[None, None, :, None, None]
    ia = np.arange(A)[None, None, None, :, None]
    ik = np.arange(K)[None, None, None, None, :]
    shape = (n, P, T, A, K)
    score = t.score[g, ip, eng, band, ik, it, ia]
    return {
        "age": np.broadcast_to(np.array(t.grid.ages)[ia], shape),
        "income": np.broadcast_to(t.incomes[band, ik], shape),
        "requested": np.broadcast_to(t.requested[ip, eng], shape),
        "debt_capacity": np.broadcast_to(t.capacity[band, ik, cred, it], shape),
        "term_months": np.broadcast_to(np.array(t.grid.terms)[it], shape),
        "eligible_banks": np.broadcast_to(np.where(prof[:, 0] == 1, 0, 1)[:, None, None, None, None], shape),
        "pd": t.pd[g, ip, eng, band, ik, it, ia],
        "score": score,
        "risk": t.rule_risk[srow, band, ik, score],
    }


def run_chunk(tables: Tables, start: int, stop: int) -> Chunk:
    r = rows(tables, start, stop)
    shape = r["score"].shape
    flat = {k: np.ascontiguousarray(v).reshape(-1) for k, v in r.items()}
    out = decide_many(policy=tables.policy, **flat)
    weight = np.repeat(tables.space.weight[start:stop], int(np.prod(shape[1:])))
    return Chunk(
        start=start,
        decision=out.decision.reshape(shape),
        rate_cents=np.round(out.rate * 100).astype(np.int16).reshape(shape),
        fired=(out.fired * weight[:, None]).sum(axis=0),
        fired_any=np.asarray(out.fired.any(axis=0)),
    )


__all__ = ["AS_OF", "RULE_IDS", "Chunk", "Tables", "build_tables", "rows", "run_chunk"]
