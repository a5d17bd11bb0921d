"""Funnel and portfolio analytics: one module, parameterised by period and filters, for the API and dashboard.

Every query is a SQLAlchemy expression with bound parameters; user input never becomes SQL text (grouping
keys and period units are picked from whitelists). The few things SQLite and PostgreSQL spell differently
(start of a day/week, seconds since the epoch, floor) are small compiled constructs below.

    from storage.analytics import Analytics, Filters
    an = Analytics(engine)                                    # policy = engine.policy.default_policy()
    f = Filters(start=datetime(2026, 11, 1, tzinfo=UTC), end=datetime(2026, 12, 1, tzinfo=UTC), bank="bbva")
    an.funnel(f); an.funnel_by_period(f, unit="week"); an.time_to_complete(f)
    an.funnel_by_bank(f); an.decisions(f); an.pd_distribution(f); an.score_distribution(f)
    an.expected_loss(f); an.segments(f, by="income_band"); an.default_rates(by="tenure")
    an.step_times(f)                                          # median / p90 seconds per funnel step
    an.delinquency(by="cohort_month")                         # observed default rate vs predicted PD
    an.population_counts(reference, f, model_version=v)       # applicants per bin of a model's reference (PSI)
    an.strategy_segments(f, ("payroll_bank", "income_band", "down_payment"))

All results are plain JSON-ready dicts/lists. The funnel is a *cohort* funnel over distinct applicants
(pseudonymous keys): those first seen in the period, and how many of them ever reached each step (their
first time, from `funnel_progress`, which the event flusher maintains); conversion is against the previous
step and against the first.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import Connection, Engine, Float, and_, case, cast, func, literal, select, text, union_all
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.sql.elements import ColumnElement

from storage import step_seconds
from storage.models import FUNNEL_COLUMNS, TIMED_STEPS, Assessment, FunnelProgress, LoanOutcome
from storage.sqlfuncs import epoch_seconds, floor_int, period_start

PeriodUnit = Literal["day", "week"]
Segment = Literal["income_band", "tenure", "payroll_bank", "recommended_bank"]
SEGMENTS: tuple[Segment, ...] = get_args(Segment)
OUTCOME_SEGMENTS = ("source", "tenure", "income_band", "payroll_bank", "recommended_bank", "age_band", "employed")
PIPELINE_DECISIONS = ("aprobado", "revisar")  # what may still become a loan (rechazado will not)
DelinquencyGroup = Literal["cohort_month", "recommended_bank", "income_band", "tenure", "payroll_bank"]
DELINQUENCY_GROUPS: tuple[DelinquencyGroup, ...] = get_args(DelinquencyGroup)
STRATEGY_DIMENSIONS = ("payroll_bank", "income_band", "down_payment", "tenure", "recommended_bank")
# the answer whose codes each segment column holds (their order is the policy's); recommended_bank: the banks
SEGMENT_QUESTIONS = {
    "income_band": "ingreso_mensual",
    "tenure": "trabajo_tiempo",
    "payroll_bank": "banco_nomina",
    "down_payment": "enganche",
}
WILSON_Z = 1.959964  # 95 % two-sided


# ------------------------------------------------------------------------------------------- filters
@dataclass(frozen=True)
class Filters:
    """Period [start, end) and optional filters; None means no restriction."""

    start: datetime | None = None
    end: datetime | None = None
    bank: str | None = None  # recommended bank of the applicant's assessments
    decision: str | None = None
    channel: str | None = None
    income_band: str | None = None
    tenure: str | None = None
    payroll_bank: str | None = None

    def assessment_conditions(self) -> list[ColumnElement[bool]]:
        c: list[ColumnElement[bool]] = []
        if self.start is not None:
            c.append(Assessment.created_at >= self.start)
        if self.end is not None:
            c.append(Assessment.created_at < self.end)
        for attr, col in (
            ("bank", Assessment.recommended_bank),
            ("decision", Assessment.decision),
            ("channel", Assessment.channel),
            ("income_band", Assessment.income_band),
            ("tenure", Assessment.tenure),
            ("payroll_bank", Assessment.payroll_bank),
        ):
            value = getattr(self, attr)
            if value is not None:
                c.append(col == value)
        return c

    def outcome_conditions(self) -> list[ColumnElement[bool]]:
        """The same filters on loan outcomes: the period is the origination date, the segments are theirs
        (decision and channel do not apply to a loan)."""
        c: list[ColumnElement[bool]] = []
        if self.start is not None:
            c.append(LoanOutcome.originated_at >= self.start)
        if self.end is not None:
            c.append(LoanOutcome.originated_at < self.end)
        for attr, col in (
            ("bank", LoanOutcome.recommended_bank),
            ("income_band", LoanOutcome.income_band),
            ("tenure", LoanOutcome.tenure),
            ("payroll_bank", LoanOutcome.payroll_bank),
        ):
            value = getattr(self, attr)
            if value is not None:
                c.append(col == value)
        return c

    def restricts_applicants(self) -> bool:
        return any(
            getattr(self, a) is not None
            for a in ("bank", "decision", "channel", "income_band", "tenure", "payroll_bank")
        )

    def cohort_conditions(self) -> list[ColumnElement[bool]]:
        """Applicants first seen in the period (and, with applicant filters, whose assessments match them)."""
        c: list[ColumnElement[bool]] = []
        if self.start is not None:
            c.append(FunnelProgress.first_seen_at >= self.start)
        if self.end is not None:
            c.append(FunnelProgress.first_seen_at < self.end)
        if self.restricts_applicants():
            keys = select(Assessment.user_key).where(*[x for x in self.assessment_conditions() if not _is_period(x)])
            c.append(FunnelProgress.user_key.in_(keys))
        return c


def _is_period(cond: ColumnElement[bool]) -> bool:
    left = getattr(cond, "left", None)
    return getattr(left, "key", None) == "created_at"


def _rate(num: float, den: float) -> float | None:
    return round(num / den, 6) if den else None


def _percentile(values: list[float], p: float) -> float:
    """Linear interpolation between the closest ranks, as PostgreSQL's percentile_cont."""
    v = sorted(values)
    pos = p * (len(v) - 1)
    lo = int(pos)
    return v[lo] if pos == lo else v[lo] + (v[lo + 1] - v[lo]) * (pos - lo)


def wilson_interval(k: int, n: int, z: float = WILSON_Z) -> tuple[float | None, float | None]:
    """95 % Wilson score interval of a proportion k/n (sound for small n and for rates near 0)."""
    if not n:
        return None, None
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return round(max(0.0, centre - half), 6), round(min(1.0, centre + half), 6)


def _delinquency_row(
    segment: Any, loans: int, defaults: int, with_prediction: int, expected: float, defaults_predicted: int
) -> dict[str, Any]:
    low, high = wilson_interval(defaults, loans)
    return {
        "segment": segment,
        "loans": loans,
        "defaults": defaults,
        "default_rate": _rate(defaults, loans),
        "ci_low": low,
        "ci_high": high,
        "with_prediction": with_prediction,
        "predicted_pd": _rate(expected, with_prediction),
        "default_rate_with_prediction": _rate(defaults_predicted, with_prediction),
        "expected_defaults": round(expected, 3),
        "defaults_with_prediction": defaults_predicted,
        # actual / expected over the loans with a prediction: > 1, the model under-predicts the segment
        "actual_to_expected": round(defaults_predicted / expected, 4) if expected else None,
    }


def _bucket(value: Any, edges: Sequence[float]) -> Any:
    """Index of the bin (-inf, e1], (e1, e2], …, (ek, inf) that holds `value` (NULL stays NULL)."""
    whens = [(value.is_(None), None), *[(value <= float(e), i) for i, e in enumerate(edges)]]
    return case(*whens, else_=len(edges))


# ----------------------------------------------------------------------------------------- analytics
class Analytics:
    def __init__(self, engine: Engine, policy: Any = None, *, work_mem: str = "64MB"):
        if policy is None:
            from engine.policy import default_policy

            policy = default_policy()
        self.engine = engine
        self.policy = policy
        if not work_mem[:-2].isdigit() or work_mem[-2:] not in ("kB", "MB", "GB"):
            raise ValueError("work_mem like '64MB'")
        self.work_mem = work_mem

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """A read transaction. On PostgreSQL, `SET LOCAL work_mem` lets group-bys over a period expression
        (whose group count the planner cannot estimate) hash in memory instead of sorting on disk."""
        with self.engine.connect() as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"SET LOCAL work_mem = '{self.work_mem}'"))  # validated constant, not input
            yield conn

    # ----------------------------------------------------------------------------------------- funnel
    def funnel_steps(self) -> list[tuple[str, str | None]]:
        """(event name, step) in dialog order; QuestionAnswered once per question, in the policy's order."""
        steps: list[tuple[str, str | None]] = [("BotStarted", None), ("ConsentGiven", None), ("ProfileCompleted", None)]
        steps += [("QuestionAnswered", q) for q in self.policy.answers]
        steps += [
            ("PerfilacionBancariaComplete", None),
            ("ResultShown", None),
            ("HandoffOpened", None),
            ("FinancingRequestSubmitted", None),
        ]
        return [s for s in steps if s in FUNNEL_COLUMNS]

    def _step_columns(self) -> list[Any]:
        return [getattr(FunnelProgress, FUNNEL_COLUMNS[s]) for s in self.funnel_steps()]

    def _assemble(self, counts: list[int]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        first = counts[0] if counts else 0
        prev: int | None = None
        for (name, step), n in zip(self.funnel_steps(), counts, strict=True):
            out.append(
                {
                    "event": name,
                    "step": step,
                    "users": n,
                    "conversion_from_previous": _rate(n, prev) if prev is not None else None,
                    "conversion_from_start": _rate(n, first),
                    "drop_off": (prev - n) if prev is not None else None,
                }
            )
            prev = n
        return out

    def funnel(self, f: Filters = Filters()) -> list[dict[str, Any]]:
        """Cohort funnel: applicants first seen in the period, how many reached each step (ever), the
        conversion from the previous step and from the start, and the drop-off."""
        q = select(*[func.count(c) for c in self._step_columns()]).where(*f.cohort_conditions())
        with self._connect() as conn:
            row = conn.execute(q).one()
        return self._assemble([int(x) for x in row])

    def funnel_by_period(self, f: Filters = Filters(), unit: PeriodUnit = "day") -> list[dict[str, Any]]:
        """The cohort funnel per day or ISO week (Monday) of first contact, oldest first."""
        if unit not in ("day", "week"):
            raise ValueError("unit must be 'day' or 'week'")
        per = period_start(FunnelProgress.first_seen_at, literal(unit)).label("period")
        q = (
            select(per, *[func.count(c) for c in self._step_columns()])
            .where(*f.cohort_conditions())
            .group_by(per)
            .order_by(per)
        )
        with self._connect() as conn:
            rows = conn.execute(q).all()
        out: list[dict[str, Any]] = []
        for period, *counts in rows:
            for r in self._assemble([int(x) for x in counts]):
                out.append({"period": str(period), **r})
        return out

    def time_to_complete(
        self,
        f: Filters = Filters(),
        start_event: str = "BotStarted",
        end_event: str = "PerfilacionBancariaComplete",
    ) -> dict[str, Any]:
        """Median, p90 (linear interpolation, as `percentile_cont`) and mean seconds from an applicant's first
        `start_event` to their first `end_event`, over the period's cohort who completed."""
        try:
            t0 = getattr(FunnelProgress, FUNNEL_COLUMNS[(start_event, None)])
            t1 = getattr(FunnelProgress, FUNNEL_COLUMNS[(end_event, None)])
        except KeyError:
            raise ValueError("start_event and end_event must be funnel events without a step") from None
        dur = (epoch_seconds(t1) - epoch_seconds(t0)).label("seconds")
        cond = [*f.cohort_conditions(), t0.is_not(None), t1.is_not(None), t1 >= t0]
        with self._connect() as conn:
            if self.engine.dialect.name == "postgresql":
                n, mean, median, p90 = conn.execute(
                    select(
                        func.count(),
                        func.avg(dur),
                        func.percentile_cont(0.5).within_group(dur),
                        func.percentile_cont(0.9).within_group(dur),
                    ).where(*cond)
                ).one()
                n = int(n)
            else:  # SQLite has no percentile_cont: the same interpolation from ORDER BY … OFFSET
                durations = select(dur).where(*cond).subquery()
                n, mean = conn.execute(select(func.count(), func.avg(durations.c.seconds))).one()
                n = int(n)

                def at(rank: int) -> float:
                    q = select(durations.c.seconds).order_by(durations.c.seconds).offset(rank).limit(1)
                    return float(conn.scalar(q) or 0.0)

                def percentile(p: float) -> float:
                    pos = p * (n - 1)
                    lo = int(pos)
                    v = at(lo)
                    return v if pos == lo else v + (at(lo + 1) - v) * (pos - lo)

                median = percentile(0.5) if n else None
                p90 = percentile(0.9) if n else None
        if n == 0:
            return {"completed": 0, "median_seconds": None, "p90_seconds": None, "mean_seconds": None}
        return {
            "completed": n,
            "median_seconds": round(float(median), 3),
            "p90_seconds": round(float(p90), 3),
            "mean_seconds": round(float(mean), 3),
        }

    def funnel_by_bank(self, f: Filters = Filters()) -> list[dict[str, Any]]:
        """Per recommended bank (assessments in the period): assessments, applicants, and how many of them
        opened the handoff and submitted a financing request."""
        per_user = (
            select(
                Assessment.recommended_bank.label("bank"),
                Assessment.user_key.label("user_key"),
                func.count().label("n"),
            )
            .where(*f.assessment_conditions(), Assessment.user_key.is_not(None))
            .group_by(Assessment.recommended_bank, Assessment.user_key)
            .subquery()
        )
        fp = FunnelProgress
        q = (
            select(
                per_user.c.bank,
                func.sum(per_user.c.n),
                func.count(),
                func.count(fp.handoff_at),
                func.count(fp.request_at),
            )
            .select_from(per_user.outerjoin(fp, fp.user_key == per_user.c.user_key))
            .group_by(per_user.c.bank)
            .order_by(per_user.c.bank)
        )
        with self._connect() as conn:
            rows = conn.execute(q).all()
        return [
            {
                "bank": bank,
                "assessments": int(n),
                "applicants": int(users),
                "handoff_opened": int(h),
                "financing_requested": int(s),
                "handoff_rate": _rate(h, users),
                "request_rate": _rate(s, users),
            }
            for bank, n, users, h, s in rows
        ]

    def step_times(self, f: Filters = Filters()) -> list[dict[str, Any]]:
        """Per funnel step, over the period's cohort: applicants who reached it, the drop-off from the previous
        step, and the median and p90 seconds from reaching the previous step to reaching this one (for a
        QuestionAnswered step, the time spent on that question). Percentiles interpolate linearly, as
        `percentile_cont`; an applicant who reached a step without the previous one, or earlier than it (an
        edited answer), is not timed for it (`timed` counts those who are)."""
        cols = self._step_columns()
        cond = f.cohort_conditions()
        pairs = tuple((a.key, b.key) for a, b in itertools.pairwise(cols))
        with self._connect() as conn:
            users = [int(x) for x in conn.execute(select(*[func.count(c) for c in cols]).where(*cond)).one()]
            if pairs == TIMED_STEPS and not f.restricts_applicants():
                # the kept gaps and their per-day histogram (storage.step_seconds): the same figures, no sort
                per_step = step_seconds.quantiles(conn, f.start, f.end)
                timed = [per_step[b][0] for _, b in pairs]
                quantiles: list[tuple[Any, ...]] = [tuple(per_step[b][1]) for _, b in pairs]
            else:  # another question order in the policy, or an applicant filter: scan the cohort
                timed, quantiles = self._scan_step_times(conn, cond)
        return self._step_rows(users, timed, quantiles)

    def _scan_step_times(
        self, conn: Connection, cond: list[ColumnElement[bool]]
    ) -> tuple[list[int], list[tuple[Any, Any]]]:
        """Timed applicants and (median, p90) per step, computing and sorting every gap of the cohort."""
        cols = self._step_columns()
        gaps = [case((b >= a, epoch_seconds(b) - epoch_seconds(a)), else_=None) for a, b in itertools.pairwise(cols)]
        if conn.dialect.name == "postgresql":
            pcts = [func.percentile_cont(array([0.5, 0.9]), type_=ARRAY(Float)).within_group(g) for g in gaps]
            # the counts, then one ARRAY (p50, p90) per gap: no one column type
            row: Any = conn.execute(select(*[func.count(g) for g in gaps], *pcts).where(*cond)).one()
            timed = [int(x) for x in row[: len(gaps)]]
            quantiles = [tuple(q) if q is not None else (None, None) for q in row[len(gaps) :]]
        else:  # SQLite has no percentile_cont: the same interpolation here over the cohort's gaps
            values: list[list[float]] = [[] for _ in gaps]
            for r in conn.execute(select(*gaps).where(*cond)):
                for i, v in enumerate(r):
                    if v is not None:
                        values[i].append(float(v))
            timed = [len(v) for v in values]
            quantiles = [(_percentile(v, 0.5), _percentile(v, 0.9)) if v else (None, None) for v in values]
        return timed, quantiles

    def _step_rows(self, users: list[int], timed: list[int], quantiles: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        out = []
        for i, ((name, step), n) in enumerate(zip(self.funnel_steps(), users, strict=True)):
            prev = users[i - 1] if i else None
            median, p90 = quantiles[i - 1] if i else (None, None)
            out.append(
                {
                    "event": name,
                    "step": step,
                    "users": n,
                    "drop_off": None if prev is None else prev - n,
                    "drop_off_rate": None if prev is None else _rate(prev - n, prev),
                    "timed": timed[i - 1] if i else 0,
                    "median_seconds": None if median is None else round(float(median), 3),
                    "p90_seconds": None if p90 is None else round(float(p90), 3),
                }
            )
        return out

    # ---------------------------------------------------------------------------------------- portfolio
    def decisions(self, f: Filters = Filters(), unit: PeriodUnit | None = None) -> dict[str, Any]:
        """Counts per decision and the approval rate, overall and (with `unit`) per day/week."""
        cond = f.assessment_conditions()
        with self._connect() as conn:
            rows = conn.execute(
                select(Assessment.decision, func.count()).where(*cond).group_by(Assessment.decision)
            ).all()
            series: list[dict[str, Any]] = []
            if unit is not None:
                if unit not in ("day", "week"):
                    raise ValueError("unit must be 'day' or 'week'")
                per = period_start(Assessment.created_at, literal(unit)).label("period")
                approved = func.sum(case((Assessment.decision == "aprobado", 1), else_=0))
                for period, n, a in conn.execute(
                    select(per, func.count(), approved).where(*cond).group_by(per).order_by(per)
                ).all():
                    series.append({"period": str(period), "assessments": int(n), "approval_rate": _rate(a or 0, n)})
        counts = {d: int(n) for d, n in rows}
        total = sum(counts.values())
        return {
            "total": total,
            "by_decision": counts,
            "approval_rate": _rate(counts.get("aprobado", 0), total),
            "series": series,
        }

    def _histogram(self, value: Any, width: float, lo: float, hi: float, f: Filters) -> list[dict[str, Any]]:
        nbins = round((hi - lo) / width)
        raw = floor_int((value - lo) / width)
        bucket = case((raw >= nbins, nbins - 1), (raw < 0, 0), else_=raw).label("b")
        with self._connect() as conn:
            q = select(bucket, func.count()).where(*f.assessment_conditions()).group_by(bucket)
            rows = {int(b): int(n) for b, n in conn.execute(q).all()}
        return [
            {"from": round(lo + i * width, 6), "to": round(lo + (i + 1) * width, 6), "count": int(rows.get(i, 0))}
            for i in range(nbins)
        ]

    def pd_distribution(self, f: Filters = Filters(), bins: int = 20) -> dict[str, Any]:
        if not 1 <= bins <= 200:
            raise ValueError("bins must be 1–200")
        with self._connect() as conn:
            stats = conn.execute(
                select(func.count(), func.avg(Assessment.pd), func.min(Assessment.pd), func.max(Assessment.pd)).where(
                    *f.assessment_conditions()
                )
            ).one()
        return {
            "count": int(stats[0]),
            "mean": None if stats[1] is None else round(float(stats[1]), 6),
            "min": stats[2],
            "max": stats[3],
            "histogram": self._histogram(Assessment.pd, 1.0 / bins, 0.0, 1.0, f),
        }

    def score_distribution(self, f: Filters = Filters(), width: int = 50) -> dict[str, Any]:
        sp = self.policy.score_scaling
        lo, hi = float(sp.min_score), float(sp.max_score)
        with self._connect() as conn:
            stats = conn.execute(
                select(func.count(), func.avg(Assessment.credit_score)).where(*f.assessment_conditions())
            ).one()
        return {
            "count": int(stats[0]),
            "mean": None if stats[1] is None else round(float(stats[1]), 3),
            "histogram": self._histogram(cast(Assessment.credit_score, Float), float(width), lo, hi, f),
        }

    def expected_loss(self, f: Filters = Filters(), decisions: tuple[str, ...] = PIPELINE_DECISIONS) -> dict[str, Any]:
        """Σ PD·LGD·EAD over the pipeline (assessments with these decisions) as each was assessed: the stored
        `expected_loss` and `exposure`, so a later change of the policy's LGD does not rewrite the past
        (`asesor policy replay` shows the figure under another policy beside it). `lgd` and `ead_factor` are
        the exposure-weighted means of the recorded inputs; `assumptions` are the current policy's, with
        their source, for what is assessed from now on. Total, per decision and per bank."""
        el = func.sum(func.coalesce(Assessment.expected_loss, 0.0))
        exposure = func.sum(func.coalesce(Assessment.exposure, 0.0))
        weighted_lgd = func.sum(func.coalesce(Assessment.lgd, 0.0) * func.coalesce(Assessment.exposure, 0.0))
        requested = func.sum(func.coalesce(Assessment.requested_amount, 0.0))
        cond = [*f.assessment_conditions(), Assessment.decision.in_(decisions)]
        with self._connect() as conn:
            total = conn.execute(select(func.count(), el, exposure, weighted_lgd, requested).where(*cond)).one()
            by_dec = conn.execute(
                select(Assessment.decision, func.count(), el).where(*cond).group_by(Assessment.decision)
            ).all()
            by_bank = conn.execute(
                select(Assessment.recommended_bank, func.count(), el, exposure)
                .where(*cond)
                .group_by(Assessment.recommended_bank)
                .order_by(Assessment.recommended_bank)
            ).all()
        exposure_total, lgd_weight, requested_total = (float(total[i] or 0.0) for i in (2, 3, 4))
        return {
            "lgd": round(lgd_weight / exposure_total, 6) if exposure_total else None,
            "ead_factor": round(exposure_total / requested_total, 6) if requested_total else None,
            "assumptions": self.loss_assumptions(),
            "decisions": list(decisions),
            "assessments": int(total[0]),
            "exposure": round(exposure_total, 2),
            "expected_loss": round(float(total[1] or 0.0), 2),
            "by_decision": {d: {"assessments": int(n), "expected_loss": round(float(v or 0), 2)} for d, n, v in by_dec},
            "by_bank": [
                {
                    "bank": b,
                    "assessments": int(n),
                    "expected_loss": round(float(v or 0), 2),
                    "exposure": round(float(x or 0), 2),
                }
                for b, n, v, x in by_bank
            ],
        }

    def loss_assumptions(self) -> dict[str, dict[str, Any]]:
        """The current policy's expected-loss inputs per product (`[products.*]`), with their source."""
        return {code: p.model_dump() for code, p in self.policy.products.items()}

    def segments(self, f: Filters = Filters(), by: str = "income_band") -> list[dict[str, Any]]:
        """Assessments, approval rate, mean PD and score, and pipeline expected loss per segment."""
        if by not in SEGMENTS:
            raise ValueError(f"by must be one of {SEGMENTS}")
        col = getattr(Assessment, by)
        in_pipe = Assessment.decision.in_(PIPELINE_DECISIONS)
        q = (
            select(
                col,
                func.count(),
                func.sum(case((Assessment.decision == "aprobado", 1), else_=0)),
                func.avg(Assessment.pd),
                func.avg(Assessment.credit_score),
                func.sum(case((in_pipe, func.coalesce(Assessment.expected_loss, 0.0)), else_=0.0)),
            )
            .where(*f.assessment_conditions())
            .group_by(col)
            .order_by(col)
        )
        with self._connect() as conn:
            rows = conn.execute(q).all()
        return [
            {
                "segment": seg,
                "assessments": int(n),
                "approval_rate": _rate(a or 0, n),
                "mean_pd": round(float(p), 6) if p is not None else None,
                "mean_score": round(float(s), 3) if s is not None else None,
                "pipeline_expected_loss": round(float(el or 0.0), 2),
            }
            for seg, n, a, p, s, el in rows
        ]

    # ----------------------------------------------------------------------------------- loan outcomes
    def default_rates(self, by: str = "source", source: str | None = None) -> list[dict[str, Any]]:
        """Observed default rate of historical clients (loan_outcomes) per segment."""
        if by not in OUTCOME_SEGMENTS:
            raise ValueError(f"by must be one of {OUTCOME_SEGMENTS}")
        if by == "age_band":
            a = LoanOutcome.age
            col: Any = case(
                (a.is_(None), None),
                (a < 25, "18-24"),
                (a < 35, "25-34"),
                (a < 45, "35-44"),
                (a < 55, "45-54"),
                else_="55+",
            ).label("segment")
        else:
            col = getattr(LoanOutcome, by).label("segment")
        cond = [LoanOutcome.source == source] if source else []
        q = (
            select(col, func.count(), func.sum(case((LoanOutcome.defaulted.is_(True), 1), else_=0)))
            .where(*cond)
            .group_by(col)
            .order_by(col)
        )
        with self._connect() as conn:
            rows = conn.execute(q).all()
        return [
            {"segment": seg, "clients": int(n), "defaults": int(d or 0), "default_rate": _rate(d or 0, n)}
            for seg, n, d in rows
        ]

    def _code_order(self, column: str) -> dict[Any, int]:
        codes = (
            self.policy.banks
            if column == "recommended_bank"
            else self.policy.answers.get(SEGMENT_QUESTIONS.get(column, ""), {})
        )
        return {c: i for i, c in enumerate(codes)}

    def delinquency(
        self, by: str = "cohort_month", f: Filters = Filters(), source: str | None = None
    ) -> dict[str, Any]:
        """Observed default rate of the loaded outcomes (loan_outcomes) per group, with its 95 % Wilson interval,
        beside the PD predicted for the same loans (calibration by segment): their mean predicted PD, the
        defaults it expects and the actual-to-expected ratio, over the loans that have a prediction (those the
        ETL linked to an assessment, or whose file carried one). Groups: the month of origination (cohort),
        the recommended bank, the income band, the tenure and the payroll bank; `total` sums them all."""
        if by not in DELINQUENCY_GROUPS:
            raise ValueError(f"by must be one of {DELINQUENCY_GROUPS}")
        lo = LoanOutcome
        key: Any = period_start(lo.originated_at, literal("month")) if by == "cohort_month" else getattr(lo, by)
        col = key.label("segment")
        bad = lo.defaulted.is_(True)
        q = (
            select(
                col,
                func.count(),
                func.sum(case((bad, 1), else_=0)),
                func.count(lo.predicted_pd),
                func.sum(lo.predicted_pd),
                func.sum(case((and_(lo.predicted_pd.is_not(None), bad), 1), else_=0)),
            )
            .where(*f.outcome_conditions(), *([lo.source == source] if source else []))
            .group_by(key)
        )
        with self._connect() as conn:
            rows = [
                (None if seg is None else str(seg), int(n), int(d or 0), int(k), float(e or 0.0), int(dk or 0))
                for seg, n, d, k, e, dk in conn.execute(q).all()
            ]
        order = self._code_order(by)
        rows.sort(key=lambda r: (r[0] is None, order.get(r[0], len(order)), r[0] or ""))
        loans, defaults, predicted, expected, defaults_predicted = (
            sum(r[1] for r in rows),
            sum(r[2] for r in rows),
            sum(r[3] for r in rows),
            sum(r[4] for r in rows),
            sum(r[5] for r in rows),
        )
        return {
            "by": by,
            "rows": [_delinquency_row(*r) for r in rows],
            "total": _delinquency_row("total", loans, defaults, predicted, expected, defaults_predicted),
        }

    # ------------------------------------------------------------------------------------- monitoring
    def population_counts(
        self, reference: Mapping[str, Mapping[str, Any]], f: Filters = Filters(), model_version: str | None = None
    ) -> dict[str, Any]:
        """Assessments of the period per bin of each variable of a model's training reference (as
        engine.training.monitoring keeps it: edges e1 < … < ek make the bins (-inf, e1], (e1, e2], …, (ek, inf)).
        A variable is one of the PD model's inputs recorded with the assessment (`pd_features`), or `score` (the
        credit score). Only assessments made by `model_version` count when it is given; those stored without
        their inputs (before they were recorded) are counted apart, in `without_features`."""
        cond = f.assessment_conditions()
        if model_version is not None:
            cond.append(Assessment.model_version == model_version)
        names = list(reference)
        values = [
            cast(Assessment.credit_score, Float) if n == "score" else Assessment.pd_features[n].as_float()
            for n in names
        ]
        sizes = [len(reference[n]["shares"]) for n in names]
        with self._connect() as conn:
            if not names:
                rows: list[Any] = []
            elif conn.dialect.name == "postgresql":
                rows = self._pg_bin_counts(conn, values, [reference[n].get("edges") or () for n in names], cond)
            else:
                rows = self._bin_counts(conn, values, [reference[n].get("edges") or () for n in names], cond)
            without = conn.scalar(select(func.count()).where(*cond, Assessment.pd_features.is_(None)))
        counts: dict[str, list[int]] = {n: [0] * k for n, k in zip(names, sizes, strict=True)}
        total = 0
        for var, b, n in rows:
            if int(var) == 0:
                total += int(n)
            if b is not None:
                counts[names[int(var)]][int(b)] += int(n)
        return {"assessments": total, "without_features": int(without or 0), "counts": counts}

    @staticmethod
    def _bin_counts(
        conn: Connection, values: list[Any], edges: list[Sequence[float]], cond: list[ColumnElement[bool]]
    ) -> list[Any]:
        """(variable index, bin, assessments) rows. Each value read once per row, then its bin index once, both
        materialised (otherwise the planner inlines them and re-reads the JSON for every comparison)."""
        raw = (
            select(*[v.label(f"v{i}") for i, v in enumerate(values)])
            .where(*cond, Assessment.pd_features.is_not(None))
            .cte("psi_values")
            .prefix_with("MATERIALIZED")
        )
        inner = (
            select(*[_bucket(raw.c[f"v{i}"], e).label(f"b{i}") for i, e in enumerate(edges)])
            .cte("psi_bins")
            .prefix_with("MATERIALIZED")
        )
        # one small GROUP BY per variable over the materialised bins (cheaper than ~70 conditional sums)
        per_var = [
            select(literal(i).label("var"), inner.c[f"b{i}"].label("bin"), func.count().label("n")).group_by(
                inner.c[f"b{i}"]
            )
            for i in range(len(values))
        ]
        return list(conn.execute(union_all(*per_var)).all())

    @staticmethod
    def _pg_bin_counts(
        conn: Connection, values: list[Any], edges: list[Sequence[float]], cond: list[ColumnElement[bool]]
    ) -> list[Any]:
        """The same rows from one pass over the assessments: bins by `width_bucket` (a binary search in C, not a
        CASE per edge) and every variable's counts from one GROUPING SETS aggregate."""

        def bucket(value: Any, e: Sequence[float]) -> Any:
            if not e:
                return _bucket(value, e)
            # width_bucket counts the thresholds <= x; the bins (e_i, e_i+1] need those < x: k - #(-e <= -x)
            return len(e) - func.width_bucket(-value, array([float(-x) for x in reversed(e)]))

        bins = (
            select(*[bucket(v, e).label(f"b{i}") for i, (v, e) in enumerate(zip(values, edges, strict=True))])
            .where(*cond, Assessment.pd_features.is_not(None))
            .subquery("psi_bins")
        )
        cols = [bins.c[f"b{i}"] for i in range(len(values))]
        q = select(*[func.grouping(c) for c in cols], *cols, func.count()).group_by(func.grouping_sets(*cols))
        out = []
        for r in conn.execute(q).all():
            var = [int(g) for g in r[: len(cols)]].index(0)  # the one variable this row is grouped by
            out.append((var, r[len(cols) + var], r[-1]))
        return out

    # ------------------------------------------------------------------------------------- strategies
    def strategy_segments(
        self, f: Filters = Filters(), dimensions: Sequence[str] = ("payroll_bank", "income_band", "down_payment")
    ) -> list[dict[str, Any]]:
        """Assessments of the period grouped by `dimensions` (answer codes): per segment the applicants
        (assessments), approval and review rates, mean PD, expected loss per applicant (the stored PD·LGD·EAD of
        each assessment, averaged) and the bank most often recommended to it, with its share."""
        if (
            not dimensions
            or any(d not in STRATEGY_DIMENSIONS for d in dimensions)
            or len(set(dimensions)) != len(dimensions)
        ):
            raise ValueError(f"dimensions must be distinct values of {STRATEGY_DIMENSIONS}")
        cols = [getattr(Assessment, d) for d in dimensions]
        cond = f.assessment_conditions()
        q = (
            select(
                *cols,
                func.count(),
                func.sum(case((Assessment.decision == "aprobado", 1), else_=0)),
                func.sum(case((Assessment.decision == "revisar", 1), else_=0)),
                func.avg(Assessment.pd),
                func.sum(func.coalesce(Assessment.expected_loss, 0.0)),
            )
            .where(*cond)
            .group_by(*cols)
        )
        banks = (
            select(*cols, Assessment.recommended_bank, func.count())
            .where(*cond)
            .group_by(*cols, Assessment.recommended_bank)
        )
        with self._connect() as conn:
            rows = conn.execute(q).all()
            top: dict[tuple[Any, ...], tuple[str | None, int]] = {}
            for r in conn.execute(banks).all():
                seg, bank, n = tuple(r[: len(cols)]), r[len(cols)], int(r[len(cols) + 1])
                best = top.get(seg)
                # ties go to the bank listed first in the policy
                if best is None or n > best[1] or (n == best[1] and self._rank_bank(bank) < self._rank_bank(best[0])):
                    top[seg] = (bank, n)
        out = []
        for r in rows:
            seg = tuple(r[: len(cols)])
            n, approved, review, mean_pd, el = r[len(cols) :]
            n = int(n)
            bank, bank_n = top.get(seg, (None, 0))
            out.append(
                {
                    **dict(zip(dimensions, seg, strict=True)),
                    "applicants": n,
                    "approval_rate": _rate(approved or 0, n),
                    "review_rate": _rate(review or 0, n),
                    "mean_pd": None if mean_pd is None else round(float(mean_pd), 6),
                    "expected_loss_per_applicant": round(float(el or 0.0) / n, 2) if n else None,
                    "top_bank": bank,
                    "top_bank_share": _rate(bank_n, n),
                }
            )
        return out

    def _rank_bank(self, bank: str | None) -> int:
        codes = list(self.policy.banks)
        return codes.index(bank) if bank in codes else len(codes)


__all__ = [
    "DELINQUENCY_GROUPS",
    "OUTCOME_SEGMENTS",
    "SEGMENTS",
    "STRATEGY_DIMENSIONS",
    "Analytics",
    "Filters",
    "wilson_interval",
]
