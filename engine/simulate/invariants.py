"""The invariants of issue #12, checked on the simulation's arrays (profiles × prices × terms × ages × incomes).

Each checker returns an `Invariant` with how many comparisons it made, how many broke, and the first
counter-example as an `assess` request with both outcomes. tests/engine/test_simulate.py shows that each one
can fail (a deliberately broken policy makes it fail).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from scipy.stats import rankdata

from engine.policy import QUESTIONS
from engine.simulate.evaluate import AS_OF, Tables
from engine.simulate.report import Invariant

DECISIONS = ("rechazado", "revisar", "aprobado")


@dataclass
class Outcomes:
    decision: np.ndarray  # int8 (profiles, P, T, A, K)
    rate_cents: np.ndarray  # int16
    pd: np.ndarray  # float64
    score: np.ndarray  # int
    risk: np.ndarray  # the risk the rules read


def _request(t: Tables, combo: int, ip: int, it: int, ia: int, ik: int) -> dict[str, Any]:
    answers = t.space.combination(combo)
    return {
        "answers": answers,
        "loan": {"vehicle_price": t.grid.prices[ip], "term_months": t.grid.terms[it]},
        "applicant": {
            "birth_year": AS_OF.year - t.grid.ages[ia],
            "monthly_income": float(t.incomes[t.bands.index(answers["ingreso_mensual"]), ik]),
        },
        "as_of": AS_OF.isoformat(),
    }


def _outcome(o: Outcomes, idx: tuple[int, ...]) -> dict[str, Any]:
    d = int(o.decision[idx])
    return {
        "decision": DECISIONS[d],
        "rate": o.rate_cents[idx] / 100 if d == 2 else 0.0,
        "pd": float(o.pd[idx]),
        "score": int(o.score[idx]),
    }


def _combo_of(t: Tables, profile: int) -> int:
    return int(np.flatnonzero(t.space.profile_of == profile)[0])


def no_approval_without_bank(t: Tables, o: Outcomes) -> Invariant:
    knocked = t.space.profiles[:, 0] == 1
    bad = (o.decision == 2) & knocked[:, None, None, None, None]
    inv = Invariant(
        name="no_approval_without_eligible_bank",
        held=not bad.any(),
        checked=int(knocked.sum()) * t.grid.size,
        broken=int(bad.sum()),
        detail="no combination whom every bank's table rejects is approved",
    )
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        inv.counterexample = {"request": _request(t, _combo_of(t, idx[0]), *idx[1:]), "outcome": _outcome(o, idx)}
    return inv


def _worse(o: Outcomes, b: tuple[Any, ...], w: tuple[Any, ...]) -> dict[str, np.ndarray]:
    """Where the better side (b) comes out worse than the worse side (w), per quantity."""
    db, dw = o.decision[b], o.decision[w]
    return {
        "decision": db < dw,
        "rate": (db == 2) & (dw == 2) & (o.rate_cents[b] > o.rate_cents[w]),
        "pd": o.pd[b] > o.pd[w] * (1 + 1e-12) + 1e-15,
        "score": o.score[b] < o.score[w],
    }


def monotonicity(t: Tables, o: Outcomes) -> Invariant:
    """A better row of one answer, a higher declared income, a larger down payment (an answer) or a cheaper car
    never worsens the decision, the rate, the PD or the score; an unordered answer changes none of them."""
    space, lab = t.space, t.policy.lab
    by_combo = space.profile_of.reshape(space.shape)
    counts = dict.fromkeys(("decision", "rate", "pd", "score"), 0)
    checked, first = 0, None
    n = len(space.profiles)

    def compare(kind: str, b: tuple[Any, ...], w: tuple[Any, ...], describe: Any) -> None:
        nonlocal checked, first
        bad = _worse(o, b, w)
        checked += int(np.prod(o.decision[b].shape))
        for k, mask in bad.items():
            counts[k] += int(mask.sum())
            if first is None and mask.any():
                first = describe(k, tuple(int(i) for i in np.argwhere(mask)[0]))

    for qi, q in enumerate(QUESTIONS):
        codes = space.codes[q]
        order = lab.better_rows.get(q)
        steps = (
            [(codes.index(a), codes.index(c)) for a, c in pairwise(order)]
            if order
            else [(0, j) for j in range(1, len(codes))]
        )
        for ib, iw in steps:
            pb = np.take(by_combo, ib, axis=qi).ravel()
            pw = np.take(by_combo, iw, axis=qi).ravel()
            pairs = np.unique(pb.astype(np.int64) * n + pw)
            pb, pw = pairs // n, pairs % n
            keep = pb != pw
            pb, pw = pb[keep], pw[keep]
            if not len(pb):
                continue
            if order:

                def describe_ordered(
                    k: str,
                    idx: tuple[Any, ...],
                    q: Any = q,
                    ib: Any = ib,
                    iw: Any = iw,
                    pb: Any = pb,
                    pw: Any = pw,
                    codes: Any = codes,
                ) -> dict[str, Any]:
                    better, worse = int(pb[idx[0]]), int(pw[idx[0]])
                    return {
                        "change": f"{q}: {codes[iw]} -> {codes[ib]}",
                        "worse": k,
                        "request": _request(t, _combo_of(t, worse), *idx[1:]),
                        "before": _outcome(o, (worse, *idx[1:])),
                        "after": _outcome(o, (better, *idx[1:])),
                    }

                compare(q, (pb,), (pw,), describe_ordered)
            else:  # unordered: any change of the answer must leave all four unchanged, both ways
                for b_, w_ in ((pb, pw), (pw, pb)):

                    def describe_unordered(
                        k: str, idx: tuple[Any, ...], q: Any = q, b_: Any = b_, w_: Any = w_
                    ) -> dict[str, Any]:
                        return {"change": f"{q} (unordered rows)", "worse": k,
                                "request": _request(t, _combo_of(t, int(w_[idx[0]])), *idx[1:]),
                                "before": _outcome(o, (int(w_[idx[0]]), *idx[1:])),
                                "after": _outcome(o, (int(b_[idx[0]]), *idx[1:]))}  # fmt: skip

                    compare(q, (b_,), (w_,), describe_unordered)

    P, _, _, K = t.grid.shape
    sl = slice(None)
    for i in range(P - 1):  # a cheaper car: price i is better than price i + 1

        def describe_price(k: str, idx: tuple[Any, ...], i: Any = i) -> dict[str, Any]:
            full = (idx[0], i + 1, *idx[1:])
            return {"change": f"vehicle_price {t.grid.prices[i + 1]:g} -> {t.grid.prices[i]:g}", "worse": k,
                    "request": _request(t, _combo_of(t, idx[0]), *full[1:]),
                    "before": _outcome(o, full), "after": _outcome(o, (idx[0], i, *idx[1:]))}  # fmt: skip

        compare("price", (sl, i), (sl, i + 1), describe_price)
    for k_ in range(K - 1):  # a higher declared income inside the band

        def describe_income(k: str, idx: tuple[Any, ...], k_: Any = k_) -> dict[str, Any]:
            before = (*idx, k_)
            return {"change": "monthly_income up (same band)", "worse": k,
                    "request": _request(t, _combo_of(t, idx[0]), *before[1:]),
                    "before": _outcome(o, before), "after": _outcome(o, (*idx, k_ + 1))}  # fmt: skip

        compare("income", (sl, sl, sl, sl, k_ + 1), (sl, sl, sl, sl, k_), describe_income)
    broken = sum(counts.values())
    return Invariant(name="monotonicity", held=broken == 0, checked=checked, broken=broken,
                     detail=", ".join(f"{k}: {v}" for k, v in counts.items()), counterexample=first)  # fmt: skip


def rate_follows_pd(t: Tables, o: Outcomes) -> list[Invariant]:
    lab, x = t.policy.lab, t.policy.expert
    P, T, _, _ = t.grid.shape
    worst_rho: tuple[float | None, dict[str, Any] | None] = (None, None)
    worst_span: tuple[float | None, dict[str, Any] | None] = (None, None)
    skipped: list[str] = []
    cells = 0
    bad_rho = bad_span = 0
    for i in range(P):
        for j in range(T):
            d = o.decision[:, i, j]
            ok = d == 2
            n = int(ok.sum())
            if n < lab.min_approved_per_loan:
                skipped.append(f"{t.grid.prices[i]:g}/{t.grid.terms[j]}m: {n} approved")
                continue
            cells += 1
            rates = o.rate_cents[:, i, j][ok].astype(float)
            pds = o.pd[:, i, j][ok]
            rho = float(np.corrcoef(rankdata(rates), rankdata(pds))[0, 1]) if rates.std() and pds.std() else 0.0
            span = (rates.max() - rates.min()) / 100
            inside = rates.min() >= x.rate_min * 100 - 1e-9 and rates.max() <= x.rate_max * 100 + 1e-9
            loan = {"vehicle_price": t.grid.prices[i], "term_months": t.grid.terms[j], "approved_rows": n}
            if rho < lab.spearman_min:
                bad_rho += 1
            if span < lab.rate_span_min or not inside:
                bad_span += 1
            if worst_rho[0] is None or rho < worst_rho[0]:
                worst_rho = (rho, {**loan, "spearman": round(rho, 4)})
            if worst_span[0] is None or span < worst_span[0]:
                worst_span = (span, {**loan, "span": span, "min": rates.min() / 100, "max": rates.max() / 100})
    note = f"{cells} loans checked; not enough approvals: {len(skipped)}" + (
        f" ({', '.join(skipped)})" if skipped else ""
    )
    rho_inv = Invariant(name="rate_rises_with_pd", held=cells > 0 and bad_rho == 0, checked=cells, broken=bad_rho,
                        detail=f"Spearman(rate, PD) >= {lab.spearman_min} among the approved of each loan; worst "
                        f"{worst_rho[0]:.3f}; {note}" if cells else "no loan with enough approvals",
                        counterexample=worst_rho[1] if bad_rho else None)  # fmt: skip
    span_inv = Invariant(name="rate_spans_the_range", held=cells > 0 and bad_span == 0, checked=cells, broken=bad_span,
                         detail=f"approved rates span >= {lab.rate_span_min} points inside [{x.rate_min:g}, "
                         f"{x.rate_max:g}] for each loan; narrowest {worst_span[0]:.2f}" if cells else note,
                         counterexample=worst_span[1] if bad_span else None)  # fmt: skip
    return [rho_inv, span_inv]


def _extreme_profile(t: Tables, end: int) -> int:
    """The combination with the best (end=0) or worst (end=-1) row of every ordered question."""
    space, lab = t.space, t.policy.lab
    idx = [space.codes[q].index(lab.better_rows[q][end]) if q in lab.better_rows else 0 for q in QUESTIONS]
    return int(np.ravel_multi_index(idx, space.shape))


def best_and_worst(t: Tables, o: Outcomes) -> list[Invariant]:
    lab, x = t.policy.lab, t.policy.expert
    prices = np.array(t.grid.prices)
    ip = int(np.flatnonzero(prices <= lab.best_profile_price).max()) if (prices <= lab.best_profile_price).any() else 0
    best = _extreme_profile(t, 0)
    pb = int(t.space.profile_of[best])
    ages = np.array(t.grid.ages)
    ia = int(np.abs(ages - lab.best_profile_age).argmin())
    ik = t.grid.shape[3] - 1  # the best income of the grid's best band
    best_income = t.incomes[t.bands.index(t.space.combination(best)["ingreso_mensual"]), ik]
    d, r = o.decision[pb, ip, :, ia, ik], o.rate_cents[pb, ip, :, ia, ik] / 100
    bad = (d != 2) | (r > x.rate_min + lab.best_rate_margin)
    got = f"{r.min():.2f}–{r.max():.2f} %" if (d == 2).all() else "not all approved"
    best_inv = Invariant(name="best_profile_approved_near_the_floor", held=not bad.any(), checked=int(d.size),
                         broken=int(bad.sum()), detail=f"best row everywhere, {best_income:g} MXN a month, age "
                         f"{ages[ia]}, a {prices[ip]:g} MXN car, every offered term: approved at most "
                         f"{lab.best_rate_margin:g} points above {x.rate_min:g} %; got {got}")  # fmt: skip
    if bad.any():
        it = int(np.flatnonzero(bad)[0])
        best_inv.counterexample = {
            "request": _request(t, best, ip, it, ia, ik),
            "outcome": _outcome(o, (pb, ip, it, ia, ik)),
        }
    worst = _extreme_profile(t, -1)
    pw = int(t.space.profile_of[worst])
    approved = o.decision[pw] == 2
    worst_inv = Invariant(name="worst_profile_never_approved", held=not approved.any(), checked=int(approved.size),
                          broken=int(approved.sum()), detail="worst row everywhere, anywhere on the grid")  # fmt: skip
    if approved.any():
        idx = tuple(int(i) for i in np.argwhere(approved)[0])
        worst_inv.counterexample = {"request": _request(t, worst, *idx), "outcome": _outcome(o, (pw, *idx))}
    return [best_inv, worst_inv]


def check_all(t: Tables, o: Outcomes) -> list[Invariant]:
    return [no_approval_without_bank(t, o), monotonicity(t, o), *rate_follows_pd(t, o), *best_and_worst(t, o)]
