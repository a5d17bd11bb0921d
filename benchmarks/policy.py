"""Policy lab speed (#12): replay of N stored assessments on SQLite and PostgreSQL against `asesor assess --jsonl`
on the same profiles, in the same run. (The simulate part is the verdict engineer's, added here beside it.)

    .venv/bin/python benchmarks/policy.py [--assessments 100000] [--backends sqlite,postgresql] [--json FILE]

1. N random profiles (tests/samples.py's random_profiles, as benchmarks/assess.py's) go through `asesor assess
   --jsonl` (all cores): the baseline throughput, process start included.
2. Its results are stored with their requests, as the bot and the API store them (Storage.assessment_row, bulk
   inserted), in a fresh SQLite file and a fresh PostgreSQL database (created on PG_URL's server, dropped after).
3. `asesor policy replay --policy <the shipped policy with LGD 0.90> --json` (all cores) re-assesses them all,
   process start, reading, assessing and the report included.
Target: replay >= 0.8x the batch engine's throughput on each backend.

Simulate (#12 item 5, `--simulate`, or alone with `--simulate-only`): `engine.simulate.simulate` on the shipped
policy over the whole answer space × loan grid (all cores), against `Assessor.assess` (experta, the ontology)
on a sample of the same grid in the same run (one process): points per second of each, their ratio, the time
the naive route would take for the whole space, and the 2-minute target.

    .venv/bin/python benchmarks/policy.py --simulate-only [--sample 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assess import AS_OF  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402

from engine.policy import DEFAULT_POLICY_PATH  # noqa: E402
from storage.db import make_engine, migrate, normalize_url  # noqa: E402
from storage.models import Assessment  # noqa: E402
from storage.repositories import Storage  # noqa: E402
from tests.samples import random_profiles  # noqa: E402

PG_URL = os.environ.get(
    "PG_URL", os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://asesor:asesor@127.0.0.1:5432/asesor_test")
)
TARGET = 0.8
ASESOR = str(ROOT / ".venv/bin/asesor")


def batch_engine(items: list[dict], env: dict[str, str]) -> tuple[float, list[dict]]:
    lines = "".join(json.dumps(p) + "\n" for p in items)
    t = time.perf_counter()
    p = subprocess.run([ASESOR, "assess", "--jsonl", "--as-of", AS_OF.isoformat()], input=lines,
                       capture_output=True, text=True, env=env, check=False)  # fmt: skip
    elapsed = time.perf_counter() - t
    results = [json.loads(line) for line in p.stdout.splitlines()]
    if len(results) != len(items):
        raise SystemExit(f"--jsonl produced {len(results)} results for {len(items)} profiles: {p.stderr[-500:]}")
    return len(items) / elapsed, results


def store(url: str, items: list[dict], results: list[dict]) -> float:
    """Bulk insert the book (all on AS_OF, one second apart, so replay assesses at the same date as --jsonl)."""
    migrate(url)
    engine = make_engine(url)
    start = datetime.combine(AS_OF, datetime.min.time(), UTC)
    t = time.perf_counter()
    with engine.begin() as conn:
        for i in range(0, len(items), 5000):
            rows = [
                Storage.assessment_row(
                    res,
                    request=req,
                    channel="batch",
                    assessment_id=str(uuid.uuid4()),
                    created_at=start + timedelta(seconds=(i + j) % 86_000),
                )
                for j, (req, res) in enumerate(zip(items[i : i + 5000], results[i : i + 5000], strict=True))
            ]
            for r in rows:
                r["result"].pop("line", None)
            conn.execute(insert(Assessment), rows)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE assessments"))
    engine.dispose()
    return time.perf_counter() - t


def replay(url: str, policy: Path, env: dict[str, str], n: int) -> tuple[float, dict]:
    t = time.perf_counter()
    p = subprocess.run([ASESOR, "policy", "replay", "--policy", str(policy), "--url", url, "--json", "--no-progress"],
                       capture_output=True, text=True, env=env, check=False)  # fmt: skip
    elapsed = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"replay failed: {p.stderr[-800:]}")
    report = json.loads(p.stdout)
    if report["replayed"] != n:
        raise SystemExit(f"replay re-assessed {report['replayed']} of {n}: {report['not_replayable']}")
    return n / elapsed, report


def _pg_database() -> tuple[str, tuple[Engine, str]]:
    base = make_url(normalize_url(PG_URL))
    name = f"asesor_bench_policy_{os.getpid()}"
    admin = make_engine(
        base.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return base.set(database=name).render_as_string(hide_password=False), (admin, name)


def _drop_pg(handle: tuple[Engine, str]) -> None:
    admin, name = handle
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


SIMULATE_TARGET_S = 120.0


def bench_simulate(sample: int, model_dir: Path) -> dict[str, object]:
    """The full-space simulation vs the real path on `sample` random points of the same grid."""
    import random

    from engine.assess import get_assessor
    from engine.policy import default_policy
    from engine.simulate import simulate
    from engine.simulate.evaluate import AS_OF as SIM_AS_OF
    from engine.simulate.space import AnswerSpace, LoanGrid

    assessor = get_assessor(default_policy(), model_dir=model_dir)
    space, grid = AnswerSpace(assessor.policy), LoanGrid.from_policy(assessor.policy)
    rng = random.Random(5)
    requests = []
    for _ in range(sample):
        answers = {q: rng.choice(codes) for q, codes in space.codes.items()}
        requests.append({
            "answers": answers,
            "loan": {"vehicle_price": rng.choice(grid.prices), "term_months": rng.choice(grid.terms)},
            "applicant": {"birth_year": SIM_AS_OF.year - rng.choice(grid.ages),
                          "monthly_income": rng.choice(grid.incomes[answers["ingreso_mensual"]])},
        })  # fmt: skip
    assessor.assess(requests[0], SIM_AS_OF)  # warm
    t = time.perf_counter()
    for r in requests:
        assessor.assess(r, SIM_AS_OF)
    naive_per_s = sample / (time.perf_counter() - t)
    t = time.perf_counter()
    report = simulate(assessor=assessor)
    elapsed = time.perf_counter() - t
    points = report.space.points
    ratio = (points / elapsed) / naive_per_s
    met = elapsed <= SIMULATE_TARGET_S
    print(f"Assessor.assess (1 process)  {naive_per_s:12,.0f} points/s on {sample:,} random grid points "
          f"-> the whole space ({points:,} points) would take {points / naive_per_s / 3600:,.1f} h")  # fmt: skip
    print(f"simulate ({report.workers} processes)      {points / elapsed:12,.0f} points/s, "
          f"whole space in {elapsed:.1f} s "
          f"= {ratio:,.0f}x; invariants {'all held' if report.ok else 'BROKEN'}")  # fmt: skip
    load = os.getloadavg()[0]
    print(f"target: simulate under {SIMULATE_TARGET_S:.0f} s on this {os.cpu_count()}-core machine -> "
          f"{'MET' if met else 'NOT MET'} (load average {load:.1f} at the end)")  # fmt: skip
    return {"simulate_s": round(elapsed, 1), "points": points, "assess_per_s": round(naive_per_s, 1),
            "ratio": round(ratio), "met": met, "ok": report.ok, "load_average": round(load, 1)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--assessments", type=int, default=100_000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--simulate", action="store_true", help="also benchmark asesor policy simulate")
    ap.add_argument("--simulate-only", action="store_true", help="only the simulate benchmark")
    ap.add_argument("--sample", type=int, default=2000, help="Assessor.assess points for the simulate baseline")
    args = ap.parse_args()
    if args.simulate or args.simulate_only:
        from core.config import get_settings

        sim = bench_simulate(args.sample, get_settings().resolved_model_dir)
        if args.simulate_only:
            if args.json:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps({"simulate": sim}, indent=2))
            return
    tmp = Path(tempfile.mkdtemp(prefix="asesor-bench-policy-"))
    env = {**os.environ}
    policy = tmp / "lgd090.toml"
    policy.write_text(DEFAULT_POLICY_PATH.read_text(encoding="utf-8").replace("lgd = 0.45", "lgd = 0.90"))

    items = random_profiles(args.assessments, seed=11)
    batch_rate, results = batch_engine(items, env)
    out: dict[str, object] = {
        "assessments": args.assessments,
        "cores": os.cpu_count(),
        "batch_per_s": round(batch_rate, 1),
    }
    print(f"asesor assess --jsonl   {batch_rate:10,.0f} assessments/s ({args.assessments:,} profiles, all cores)")
    met = True
    for backend in args.backends.split(","):
        handle = None
        if backend == "sqlite":
            url = f"sqlite:///{tmp / 'book.sqlite3'}"
        else:
            url, handle = _pg_database()
        try:
            load_s = store(url, items, results)
            rate, report = replay(url, policy, env, args.assessments)
        finally:
            if handle is not None:
                _drop_pg(handle)
        ratio = rate / batch_rate
        met &= ratio >= TARGET
        out[backend] = {"replay_per_s": round(rate, 1), "ratio": round(ratio, 3), "load_s": round(load_s, 1),
                        "changed": report["changed"], "el_stored": report["stored"]["expected_loss"],
                        "el_replayed": report["replayed_figures"]["expected_loss"]}  # fmt: skip
        print(f"replay on {backend:<13} {rate:10,.0f} assessments/s = {ratio:.2f}x the batch engine "
              f"(book stored in {load_s:.1f} s; EL {report['stored']['expected_loss']:,.0f} -> "
              f"{report['replayed_figures']['expected_loss']:,.0f})")  # fmt: skip
    print(f"target: replay >= {TARGET}x the batch engine on every backend -> {'MET' if met else 'NOT MET'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
