"""Storage benchmark: event ingestion and every analytics query, on SQLite and PostgreSQL, with and without
the secondary indexes of the schema (the ratio shows what they buy).

    .venv/bin/python benchmarks/analytics_queries.py   # issue sizes: 1,000,000 events, 50,000 assessments
                                                       # (and 20,000 loan outcomes, issue 15)
    .venv/bin/python benchmarks/analytics_queries.py --events 200000 --assessments 10000 --backends postgresql
    .venv/bin/python benchmarks/analytics_queries.py --json var/bench/storage.json

PostgreSQL: a private database `asesor_bench_<pid>` is created on the server of --pg-url (default
TEST_DATABASE_URL or the local one) and dropped at the end. SQLite: a file in a temp dir.

Per backend: generate synthetic dialogs (funnel with realistic drop-off over 90 days) until --events events;
ingest them in batches without the secondary indexes (the rate reported), plus a slice through the durable
outbox (spool -> flusher) for the end-to-end rate; time each query (median of --repeat runs after a warm-up)
without indexes; create the indexes, ANALYZE, and time again. Targets (issue #4): every funnel query
< 300 ms on PostgreSQL with 1M events; ingestion >= 5,000 events/s in batches. Issue 15: time per step,
delinquency, PSI counts and segment strategies, each < 300 ms on PostgreSQL with 1M events and 50k assessments.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, insert, text

from engine.policy import default_policy
from storage.analytics import Analytics, Filters
from storage.db import make_engine, migrate, normalize_url
from storage.events import EventSink, FunnelEvent, SpoolOutbox, insert_events
from storage.models import Assessment, Base, LoanOutcome

POLICY = default_policy()
QUESTIONS = list(POLICY.answers)
BANKS = list(POLICY.banks)
NOW = datetime(2026, 11, 24, tzinfo=UTC)
DAYS = 90
# probability of going on to the next step (consent loses the most, then the questions a little each)
CONTINUE = {
    "BotStarted": 0.85,
    "ConsentGiven": 0.9,
    "ProfileCompleted": 0.95,
    "QuestionAnswered": 0.97,
    "PerfilacionBancariaComplete": 0.98,
    "ResultShown": 0.45,
    "HandoffOpened": 0.6,
}
FUNNEL_QUERIES = (
    "funnel_all",
    "funnel_30d",
    "funnel_by_day",
    "funnel_by_week",
    "time_to_complete",
    "funnel_bank_filter",
    "funnel_by_bank",
)


def user_key(i: int) -> str:
    return hashlib.sha256(f"bench-{i}".encode()).hexdigest()


def gen_events(n_events: int, rng: random.Random) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    user = 0
    while len(rows) < n_events:
        user += 1
        key = user_key(user)
        t = NOW - timedelta(days=rng.uniform(0, DAYS))
        steps: list[tuple[str, str | None]] = [("BotStarted", None), ("ConsentGiven", None), ("ProfileCompleted", None)]
        steps += [("QuestionAnswered", q) for q in QUESTIONS]
        steps += [
            ("PerfilacionBancariaComplete", None),
            ("ResultShown", None),
            ("HandoffOpened", None),
            ("FinancingRequestSubmitted", None),
        ]
        for name, step in steps:
            rows.append(
                {
                    "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "user_key": key,
                    "name": name,
                    "step": step,
                    "occurred_at": t,
                    "properties": {"v": 1},
                    "policy_version": POLICY.version,
                    "model_version": "bench",
                }
            )
            t += timedelta(seconds=rng.expovariate(1 / 20))
            if len(rows) >= n_events or rng.random() > CONTINUE.get(name, 1.0):
                break
    return rows, user


def gen_assessments(n: int, n_users: int, rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for _ in range(n):
        pd_ = min(0.99, rng.betavariate(1.2, 6))
        odds = (1 - pd_) / pd_
        score = max(0, min(1000, int(600 + 50 / math.log(2) * math.log(odds / 10))))
        decision = "rechazado" if pd_ > 0.35 else ("revisar" if pd_ > 0.2 else "aprobado")
        bank = rng.choice(BANKS)
        answers = {q: rng.choice(list(codes)) for q, codes in POLICY.answers.items()}
        requested = float(rng.randrange(80_000, 900_000, 5_000))
        result = {
            "bank_fit": {"recommended": bank, "second": None, "band": "Bueno", "low_score": False},
            "pd": {"probability": pd_, "model_version": "bench"},
            "credit_score": score,
            "expert": {"decision": decision, "rate": 12.0, "fired_rules": ["R9", "R12"]},
            "policy_version": POLICY.version,
            "model_version": "bench",
        }
        rows.append(
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "user_key": user_key(rng.randint(1, max(n_users, 1))),
                "created_at": NOW - timedelta(days=rng.uniform(0, DAYS)),
                "channel": "bot",
                "policy_version": POLICY.version,
                "policy_hash": None,
                "model_version": "bench",
                "engine_version": "bench",
                "decision": decision,
                "pd": pd_,
                "credit_score": score,
                "risk": pd_ * 100,
                "rate": 12.0,
                "recommended_bank": bank,
                "second_bank": None,
                "low_score": False,
                "band": "Bueno",
                "requested_amount": requested,
                "expected_loss": pd_ * POLICY.product.lgd * requested,
                "escalate": False,
                "product": "auto",
                "lgd": POLICY.product.lgd,
                "exposure": requested,
                "income_band": answers["ingreso_mensual"],
                "tenure": answers["trabajo_tiempo"],
                "payroll_bank": answers["banco_nomina"],
                "down_payment": answers["enganche"],
                "pd_features": pd_features(rng),
                "request": {"answers": answers},
                "result": result,
            }
        )
    return rows


def secondary_indexes() -> list[Any]:
    return [ix for t in ("events", "assessments", "funnel_progress") for ix in Base.metadata.tables[t].indexes]


def drop_indexes(engine: Engine) -> None:
    with engine.begin() as conn:
        for ix in secondary_indexes():
            ix.drop(conn, checkfirst=True)


def create_indexes(engine: Engine) -> float:
    t0 = time.perf_counter()
    with engine.begin() as conn:
        for ix in secondary_indexes():
            ix.create(conn, checkfirst=True)
    analyze(engine)
    return time.perf_counter() - t0


def analyze(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("events", "assessments", "funnel_progress", "funnel_step_seconds", "funnel_step_histogram"):
                conn.execute(text(f"VACUUM ANALYZE {table}"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        # fold the WAL back into the database file: readers of a large WAL pay for it on every page
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


ISSUE15_QUERIES = (
    "step_times_30d",
    "step_times_all",
    "delinquency_cohort",
    "delinquency_bank",
    "delinquency_income",
    "psi_30d",
    "psi_all",
    "strategies_30d",
    "strategies_all",
)


def queries(an: Analytics) -> dict[str, Callable[[], Any]]:
    ref = psi_reference()
    last30 = Filters(start=NOW - timedelta(days=30), end=NOW + timedelta(days=1))
    return {
        "funnel_all": lambda: an.funnel(),
        "funnel_30d": lambda: an.funnel(last30),
        "funnel_by_day": lambda: an.funnel_by_period(last30, unit="day"),
        "funnel_by_week": lambda: an.funnel_by_period(unit="week"),
        "time_to_complete": lambda: an.time_to_complete(last30),
        "funnel_bank_filter": lambda: an.funnel(Filters(start=last30.start, end=last30.end, bank="bbva")),
        "funnel_by_bank": lambda: an.funnel_by_bank(last30),
        "decisions": lambda: an.decisions(unit="week"),
        "pd_distribution": lambda: an.pd_distribution(),
        "score_distribution": lambda: an.score_distribution(),
        "expected_loss": lambda: an.expected_loss(),
        "segments_income_band": lambda: an.segments(by="income_band"),
        "segments_tenure": lambda: an.segments(by="tenure"),
        "segments_payroll_bank": lambda: an.segments(by="payroll_bank"),
        "segments_recommended_bank": lambda: an.segments(by="recommended_bank"),
        # a month of the portfolio: what the period index is for
        "decisions_30d": lambda: an.decisions(last30),
        "pd_distribution_30d": lambda: an.pd_distribution(last30),
        "expected_loss_30d": lambda: an.expected_loss(last30),
        "segments_bank_30d": lambda: an.segments(last30, by="recommended_bank"),
        # issue 15
        "step_times_30d": lambda: an.step_times(last30),
        "step_times_all": lambda: an.step_times(),
        "delinquency_cohort": lambda: an.delinquency(by="cohort_month"),
        "delinquency_bank": lambda: an.delinquency(by="recommended_bank"),
        "delinquency_income": lambda: an.delinquency(by="income_band"),
        "psi_30d": lambda: an.population_counts(ref, last30, model_version="bench"),
        "psi_all": lambda: an.population_counts(ref, model_version="bench"),
        "strategies_30d": lambda: an.strategy_segments(last30),
        "strategies_all": lambda: an.strategy_segments(),
    }


def time_queries(an: Analytics, repeat: int) -> dict[str, float]:
    out = {}
    for name, fn in queries(an).items():
        fn()  # warm-up (plans, caches)
        runs = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - t0)
        out[name] = statistics.median(runs) * 1000
        print(f"    {name:28s} {out[name]:9.1f} ms", file=sys.stderr)
    return out


def ingest(engine: Engine, events: list[dict[str, Any]], batch: int) -> float:
    t0 = time.perf_counter()
    for i in range(0, len(events), batch):
        insert_events(engine, events[i : i + batch])
    return len(events) / (time.perf_counter() - t0)


def outbox_rate(engine: Engine, n: int, tmp: Path) -> tuple[float, float]:
    """(emit rate, flush rate) through the spool outbox for n fresh events."""
    sink = EventSink(engine, SpoolOutbox(tmp / "spool", fsync=False, max_segment_records=5000), batch_size=5000)
    # 14 events per applicant, as in a dialog
    evs = [
        FunnelEvent(
            name="QuestionAnswered",
            user_key=user_key(10_000_000 + i // 14),
            step=QUESTIONS[i % 8],
            occurred_at=NOW + timedelta(seconds=i),
        )
        for i in range(n)
    ]
    t0 = time.perf_counter()
    for i in range(0, n, 100):  # dialogs emit one at a time; the bench emits in small groups
        sink.emit_many(evs[i : i + 100])
    emit = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    sink.flush()
    return emit, n / (time.perf_counter() - t0)


# issue 15: the PD model's inputs per assessment (PSI), and outcomes of loans linked to assessments
FEATURE_RANKS = (
    "credit_history",
    "employment_since",
    "existing_credits",
    "other_installment_plans",
    "installment_rate",
)
FEATURE_NUMBERS = {"credit_amount": (8.0, 0.6), "duration": (20.0, 10.0), "age": (36.0, 11.0)}


def pd_features(rng: random.Random) -> dict[str, float]:
    out = {g: float(rng.randint(0, 4)) for g in FEATURE_RANKS}
    out.update({g: rng.gauss(mu, sd) for g, (mu, sd) in FEATURE_NUMBERS.items()})
    return out


def psi_reference() -> dict[str, dict[str, Any]]:
    """A reference shaped like the artifact's: one bin per rank, deciles of the numbers, deciles of the score."""
    ref: dict[str, dict[str, Any]] = {
        g: {"name": g, "edges": [0.0, 1.0, 2.0, 3.0], "shares": [0.2] * 5} for g in FEATURE_RANKS
    }
    z = [-1.2816, -0.8416, -0.5244, -0.2533, 0.0, 0.2533, 0.5244, 0.8416, 1.2816]
    for g, (mu, sd) in FEATURE_NUMBERS.items():
        ref[g] = {"name": g, "edges": [mu + sd * x for x in z], "shares": [0.1] * 10}
    ref["score"] = {"name": "score", "edges": [450.0 + 40 * i for i in range(9)], "shares": [0.1] * 10}
    return ref


def gen_outcomes(assessments: list[dict[str, Any]], n: int, rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for i, a in enumerate(assessments[:n]):
        rows.append(
            {
                "source": "asesor",
                "row_hash": hashlib.sha256(f"bench-{i}".encode()).hexdigest(),
                "external_id": f"AS-{i}",
                "defaulted": rng.random() < a["pd"] * 1.1,
                "originated_at": NOW - timedelta(days=rng.uniform(30, 395)),
                "assessment_id": a["id"],
                "predicted_pd": a["pd"],
                "recommended_bank": a["recommended_bank"],
                "income_band": a["income_band"],
                "tenure": a["tenure"],
                "payroll_bank": a["payroll_bank"],
                "amount": a["requested_amount"],
                "features": {},
            }
        )
    return rows


def run_backend(
    kind: str, url: str, args: argparse.Namespace, events: list, assessments: list, tmp: Path
) -> dict[str, Any]:
    print(f"[{kind}] migrating {url.split('@')[-1]}", file=sys.stderr)
    migrate(url)
    engine = make_engine(url)
    drop_indexes(engine)
    res: dict[str, Any] = {"backend": kind}
    print(f"[{kind}] ingesting {len(events):,} events in batches of {args.batch:,}", file=sys.stderr)
    res["ingest_events_per_s"] = ingest(engine, events, args.batch)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        for i in range(0, len(assessments), 5000):
            conn.execute(insert(Assessment), assessments[i : i + 5000])
    res["ingest_assessments_per_s"] = len(assessments) / (time.perf_counter() - t0)
    outcomes = gen_outcomes(assessments, args.outcomes, random.Random(7))
    with engine.begin() as conn:
        for i in range(0, len(outcomes), 5000):
            conn.execute(insert(LoanOutcome), outcomes[i : i + 5000])
    emit, flush = outbox_rate(engine, args.outbox_events, tmp / kind)
    res["outbox_emit_per_s"], res["outbox_flush_per_s"] = emit, flush
    analyze(engine)
    an = Analytics(engine, POLICY)
    print(f"[{kind}] queries without secondary indexes", file=sys.stderr)
    res["ms_without_indexes"] = time_queries(an, args.repeat)
    res["index_build_s"] = create_indexes(engine)
    print(f"[{kind}] queries with indexes", file=sys.stderr)
    res["ms_with_indexes"] = time_queries(an, args.repeat)
    engine.dispose()
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--assessments", type=int, default=50_000)
    ap.add_argument("--outcomes", type=int, default=20_000, help="loan outcomes linked to assessments (issue 15)")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument(
        "--pg-url",
        default=os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://asesor:asesor@127.0.0.1:5432/asesor_test"),
    )
    ap.add_argument("--batch", type=int, default=5000, help="events per ingestion batch")
    ap.add_argument("--outbox-events", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    events, n_users = gen_events(args.events, rng)
    assessments = gen_assessments(args.assessments, n_users, rng)
    print(
        f"generated {len(events):,} events of {n_users:,} dialogs and {len(assessments):,} assessments "
        f"in {time.perf_counter() - t0:.1f}s",
        file=sys.stderr,
    )

    results = []
    with tempfile.TemporaryDirectory(prefix="asesor-bench-") as tmpdir:
        tmp = Path(tmpdir)
        for kind in [b.strip() for b in args.backends.split(",") if b.strip()]:
            if kind == "sqlite":
                results.append(run_backend(kind, f"sqlite:///{tmp / 'bench.sqlite3'}", args, events, assessments, tmp))
            elif kind == "postgresql":
                from sqlalchemy.engine import make_url

                base = make_url(normalize_url(args.pg_url))
                name = f"asesor_bench_{os.getpid()}"
                admin = make_engine(
                    base.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
                )
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
                try:
                    results.append(
                        run_backend(
                            kind,
                            base.set(database=name).render_as_string(hide_password=False),
                            args,
                            events,
                            assessments,
                            tmp,
                        )
                    )
                finally:
                    if not args.keep:
                        with admin.connect() as conn:
                            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    admin.dispose()
            else:
                raise SystemExit(f"unknown backend {kind!r}")

    report(results, args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results}, indent=2)
        )
    return 0


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\nStorage benchmark: {args.events:,} events, {args.assessments:,} assessments "
        f"(median of {args.repeat} runs, ms)"
    )
    by = {r["backend"]: r for r in results}
    cols = [(b, w) for b in by for w in ("without", "with")]
    head = "".join(f"{b[:6] + ' ' + ('no-ix' if w == 'without' else 'ix'):>14s}" for b, w in cols)
    print(
        f"{'query':28s}{head}"
        + "".join(f"{b[:6] + ' gain':>13s}" for b in by)
        + ("   sqlite/pg" if len(by) == 2 else "")
    )
    for q in results[0]["ms_with_indexes"]:
        line = f"{q:28s}"
        for b, w in cols:
            line += f"{by[b][f'ms_{w}_indexes'][q]:14.1f}"
        for b in by:
            line += f"{by[b]['ms_without_indexes'][q] / max(by[b]['ms_with_indexes'][q], 1e-6):12.1f}x"
        if len(by) == 2 and "sqlite" in by and "postgresql" in by:
            line += f"{by['sqlite']['ms_with_indexes'][q] / max(by['postgresql']['ms_with_indexes'][q], 1e-6):11.1f}x"
        print(line)
    print()
    for b, r in by.items():
        print(
            f"{b:10s} ingest {r['ingest_events_per_s']:10,.0f} events/s (batches of {args.batch:,}), "
            f"assessments {r['ingest_assessments_per_s']:8,.0f}/s, outbox emit {r['outbox_emit_per_s']:9,.0f}/s "
            f"flush {r['outbox_flush_per_s']:8,.0f}/s, index build {r['index_build_s']:.1f}s"
        )
    if "postgresql" in by:
        pg = by["postgresql"]
        worst = max(pg["ms_with_indexes"][q] for q in FUNNEL_QUERIES)
        print(
            f"target: funnel queries < 300 ms on PostgreSQL -> worst {worst:.1f} ms: "
            f"{'MET' if worst < 300 else 'NOT MET'}"
        )
        name, worst15 = max(((q, pg["ms_with_indexes"][q]) for q in ISSUE15_QUERIES), key=lambda x: x[1])
        print(
            f"target: issue 15 queries (time per step, delinquency, PSI, strategies) < 300 ms on PostgreSQL -> "
            f"worst {worst15:.1f} ms ({name}): {'MET' if worst15 < 300 else 'NOT MET'}"
        )
    best_ingest = min(r["ingest_events_per_s"] for r in results)
    print(
        f"target: ingestion >= 5,000 events/s -> slowest backend {best_ingest:,.0f}/s: "
        f"{'MET' if best_ingest >= 5000 else 'NOT MET'}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
