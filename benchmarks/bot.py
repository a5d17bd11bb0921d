"""Benchmark: simulated applicants complete the dialog through the production dispatcher and the fake
Telegram Bot API server over HTTP, first with RedisStorage (+ Redis event isolation and Redis idempotency),
then with aiogram's MemoryStorage (+ in-process isolation and idempotency) in the same run; prints updates
per second and p50/p95/p99 latency per update for three phases, and the Redis/memory ratios:

1. solo: one applicant at a time (5 in a row), the latency floor of each update (also shown per step);
2. saturated: N applicants at once with no pauses, the most updates per second one process handles (with a
   closed loop and no pauses, latency there is mostly queueing: N in flight / throughput);
3. paced: N applicants pausing between updates so that together they offer `--rate` updates per second;
4. scaled: `--workers` bot processes on the same Redis share the N applicants (Redis only: a MemoryStorage
   cannot be shared between processes, which is the point of Redis here).

    .venv/bin/python benchmarks/bot.py                           # 200 applicants, local Redis, SQLite in tmp
    .venv/bin/python benchmarks/bot.py --rate 150 --database-url postgresql+psycopg://…

Each applicant sends 18 updates: /start, consent, name, birth year, phone, the 8 answers, exact income,
price, term, "Ver mi resultado" (one assessment plus its what-if re-runs) and "Solicitar financiamiento".
Latency is measured around `Dispatcher.feed_update` (what a webhook request costs, the Telegram round trips to
the fake server included). The fake server runs in a separate process so that its work is not the bot's.
Storage (SQLite/PostgreSQL through worker threads) and the engine are the same in both runs; only the FSM
storage, the lock and the idempotency guard differ. Issue #5's target: >= 300 updates/s and p95 < 50 ms
with Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "bot"))

from fake_telegram import FakeTelegram, TestUser  # noqa: E402


def _serve(bot_id: int, port_queue: Any) -> None:
    async def main() -> None:
        tg = FakeTelegram(bot_id, forum_chats={-1001234567890}, lenient=True)
        await tg.start()
        port_queue.put(tg.base_url)
        await asyncio.Event().wait()

    asyncio.run(main())


def start_fake_server(bot_id: int) -> tuple[multiprocessing.Process, str]:
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=_serve, args=(bot_id, q), daemon=True)
    proc.start()
    return proc, q.get(timeout=60)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


async def applicant_script(
    h: Any, user: TestUser, rng: random.Random, timings: list[float], think_s: float = 0.0
) -> None:
    """One applicant. Buttons are pressed by building the callback with the dialog's revision (the
    fake server lives in another process). `think_s`: mean pause after each update, 0 = none."""
    policy = h.deps.policy

    async def feed(update: dict[str, Any]) -> None:
        nonlocal rev
        t0 = time.perf_counter()
        await h.feed(update)
        timings.append(time.perf_counter() - t0)
        rev += 1
        if think_s:  # ±20 % jitter around the mean: the offered rate holds until the last applicant ends
            await asyncio.sleep(think_s * rng.uniform(0.8, 1.2))

    rev = -1  # the dialog's revision, tracked here: every update of this script moves the dialog one step

    async def press(action: str, arg: str = "") -> dict[str, Any]:
        return _callback(user, f"{rev}:{action}:{arg}" if arg else f"{rev}:{action}")

    if think_s:
        await asyncio.sleep(rng.uniform(0, think_s))  # arrivals spread out, not all at t=0
    await feed(user.text("/start"))
    await feed(await press("ok"))
    await feed(user.text(rng.choice(["Ana López", "Luis Pérez", "María José Ruiz", "Jorge Díaz"])))
    await feed(user.text(str(rng.randint(1960, 2000))))
    await feed(user.text("55 1234 5678") if rng.random() < 0.7 else await press("skip"))
    for codes in policy.answers.values():
        await feed(await press("a", rng.choice(list(codes))))
    await feed(user.text(f"{rng.randint(8, 80)} mil") if rng.random() < 0.5 else await press("skip"))
    await feed(user.text(f"${rng.randint(150, 900)},000"))
    await feed(await press("a", str(rng.choice(policy.limits.term_options))))
    await feed(await press("go"))
    await feed(await press("fin"))
    dialog = await h.dialog(user.chat_id)  # the script must have reached the card, or its figures mean nothing
    if not dialog or dialog["step"] != "result":
        raise RuntimeError(f"applicant {user.user_id} ended at {dialog and dialog['step']}")


def _callback(user: TestUser, data: str) -> dict[str, Any]:
    message = {"message_id": 1, "date": int(time.time()), "chat": {"id": user.chat_id, "type": "private"}, "text": "…"}
    return {
        "update_id": user.tg.next_update_id(),
        "callback_query": {
            "id": f"{user.user_id}-{time.perf_counter_ns()}",
            "from": user.user,
            "message": message,
            "chat_instance": str(user.chat_id),
            "data": data,
        },
    }


UPDATES_PER_APPLICANT = 18


def _worker(idx: int, n: int, redis_url: str, db_url: str, data_dir: str, base_url: str, bot_id: int,
            seed: int, think_s: float, ready: Any, go: Any, results: Any) -> None:  # fmt: skip
    """One more bot process on the same Redis (what a webhook deployment behind a load balancer runs)."""

    async def main() -> None:
        import logging

        logging.basicConfig(level=logging.ERROR)
        from bot_harness import build_harness

        h = await build_harness(
            redis_url=redis_url, db_url=db_url, data_dir=Path(data_dir) / f"w{idx}", bot_id=bot_id, api_url=base_url
        )
        base = 3_000_000 + idx * 100_000
        # Telegram's update ids are unique per bot: give each worker its own range, or the shared
        # idempotency guard would (rightly) drop one worker's updates as duplicates of the other's
        h.tg._update_ids = itertools.count((idx + 1) * 100_000_000)
        await applicant_script(h, TestUser(h.tg, base - 1), random.Random(idx), [])
        ready.put(idx)
        await asyncio.to_thread(go.wait)
        timings: list[float] = []
        users = [TestUser(h.tg, base + i) for i in range(n)]
        t0 = time.time()
        await asyncio.gather(
            *(applicant_script(h, u, random.Random(seed + i), timings, think_s) for i, u in enumerate(users))
        )
        results.put((timings, t0, time.time()))
        await h.close()

    try:
        asyncio.run(main())
    except BaseException:  # report it instead of leaving the parent waiting
        import traceback

        ready.put(traceback.format_exc())
        raise


def run_scaled(
    workers: int, n: int, redis_url: str, db_url: str, data_dir: Path, seed: int, rate: float = 0.0
) -> dict[str, float]:
    """`workers` bot processes share one Redis (FSM, locks, idempotency) and split n applicants: possible
    only because the dialog state and the locks live in Redis, not in a process. `rate` > 0: together the
    applicants offer that many updates per second (each pauses n / rate seconds between updates)."""
    think = n / rate if rate else 0.0
    ctx = multiprocessing.get_context("spawn")
    bot_id = random.randint(10_000_000, 99_999_999)
    server, base_url = start_fake_server(bot_id)
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    share = n // workers
    procs = [
        ctx.Process(
            target=_worker,
            args=(i, share, redis_url, db_url, str(data_dir), base_url, bot_id, seed, think, ready, go, results),
        )
        for i in range(workers)
    ]
    try:
        for p in procs:
            p.start()
        for _ in procs:
            got = ready.get(timeout=300)
            if isinstance(got, str):
                raise RuntimeError(f"a bot worker failed:\n{got}")
        go.set()
        parts = [results.get(timeout=600) for _ in procs]
        for p in procs:
            p.join(30)
    finally:
        server.terminate()
        for p in procs:
            if p.is_alive():
                p.terminate()
    timings = [t for part in parts for t in part[0]]
    wall = max(p[2] for p in parts) - min(p[1] for p in parts)
    return summary(timings, wall)


def summary(timings: list[float], wall: float) -> dict[str, float]:
    return {
        "updates": len(timings),
        "updates_per_s": len(timings) / wall,
        "p50_ms": percentile(timings, 50) * 1000,
        "p95_ms": percentile(timings, 95) * 1000,
        "p99_ms": percentile(timings, 99) * 1000,
    }


async def run(kind: str, n: int, rate: float, redis_url: str, db_url: str, data_dir: Path, seed: int) -> dict:
    from bot_harness import build_harness

    bot_id = random.randint(10_000_000, 99_999_999)
    proc, base_url = start_fake_server(bot_id)
    out: dict[str, Any] = {"kind": kind}
    try:
        h = await build_harness(
            redis_url=redis_url if kind == "redis" else None,
            board_redis_url=redis_url,
            db_url=db_url,
            data_dir=data_dir / kind,
            bot_id=bot_id,
            api_url=base_url,
        )
        local = h.tg  # not serving: only builds the users' updates
        base = 1_000_000 if kind == "redis" else 2_000_000  # distinct people (and keys) in each run
        # 1. one applicant alone: the latency floor of an update (warm-up first)
        await applicant_script(h, TestUser(local, base - 1), random.Random(0), [])
        solo: list[float] = []
        t0 = time.perf_counter()
        for i in range(5):
            await applicant_script(h, TestUser(local, base - 10 - i), random.Random(seed + i), solo)
        out["solo"] = summary(solo, time.perf_counter() - t0)
        k = UPDATES_PER_APPLICANT
        out["solo_by_step_ms"] = [
            statistics.median(solo[j::k]) * 1000 for j in range(k)
        ]  # the 18 updates in script order
        # 2. n applicants at once, no pauses: the most updates per second the bot handles (latency = queueing)
        timings: list[float] = []
        users = [TestUser(local, base + i) for i in range(n)]
        t0 = time.perf_counter()
        await asyncio.gather(*(applicant_script(h, u, random.Random(seed + i), timings) for i, u in enumerate(users)))
        out["saturated"] = summary(timings, time.perf_counter() - t0)
        # 3. n applicants pausing between updates so that together they offer `rate` updates per second
        think = n / rate
        paced: list[float] = []
        users = [TestUser(local, base + n + i) for i in range(n)]
        t0 = time.perf_counter()
        await asyncio.gather(
            *(applicant_script(h, u, random.Random(seed + i), paced, think) for i, u in enumerate(users))
        )
        out["paced"] = summary(paced, time.perf_counter() - t0)
        await h.close()
    finally:
        proc.terminate()
        proc.join(5)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applicants", type=int, default=200)
    parser.add_argument("--redis-url", default=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--database-url", default=None, help="default: a migrated SQLite file in a tmp dir")
    parser.add_argument("--rate", type=float, default=300.0, help="offered updates/s in the paced phase")
    parser.add_argument("--workers", type=int, default=2, help="bot processes on one Redis in the scaled phase")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()

    import logging

    logging.basicConfig(level=logging.ERROR)
    from storage.db import migrate

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        results = []
        for kind in ("redis", "memory"):
            # each run starts from an empty database of its own
            db_url = args.database_url or f"sqlite:///{data_dir / f'bench-{kind}.sqlite3'}"
            migrate(db_url)
            results.append(
                asyncio.run(run(kind, args.applicants, args.rate, args.redis_url, db_url, data_dir, args.seed))
            )
        scaled = scaled_paced = None
        if args.workers > 1:
            db_url = args.database_url or f"sqlite:///{data_dir / 'bench-scaled.sqlite3'}"
            migrate(db_url)
            scaled = run_scaled(args.workers, args.applicants, args.redis_url, db_url, data_dir, args.seed)
            db_url = args.database_url or f"sqlite:///{data_dir / 'bench-scaled-paced.sqlite3'}"
            migrate(db_url)
            scaled_paced = run_scaled(
                args.workers, args.applicants, args.redis_url, db_url, data_dir, args.seed + 1000, args.rate
            )
    n = args.applicants
    print(f"{n} applicants x {UPDATES_PER_APPLICANT} updates; database {db_url.split(':')[0]}; cpus {os.cpu_count()}")
    print(f"{'phase':<34} {'storage':<7} {'updates/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    phases = {
        "solo": "1 applicant alone (floor)",
        "saturated": f"{n} at once, no pauses (max rate)",
        "paced": f"{n} offering {args.rate:.0f} updates/s",
    }
    for phase, title in phases.items():
        for r in results:
            x = r[phase]
            print(
                f"{title:<34} {r['kind']:<7} {x['updates_per_s']:>9.0f} {x['p50_ms']:>8.1f} {x['p95_ms']:>8.1f} "
                f"{x['p99_ms']:>8.1f}"
            )
    share = args.applicants // args.workers
    for title, x in (
        (f"{args.workers} processes x {share}, no pauses", scaled),
        (f"{args.workers} proc. offering {args.rate:.0f} updates/s", scaled_paced),
    ):
        if x is not None:
            print(
                f"{title:<34} {'redis':<7} {x['updates_per_s']:>9.0f} {x['p50_ms']:>8.1f} "
                f"{x['p95_ms']:>8.1f} {x['p99_ms']:>8.1f}   (MemoryStorage cannot be shared by processes)"
            )
    steps = [
        "start",
        "ok",
        "name",
        "year",
        "phone",
        "q1",
        "q2",
        "q3",
        "q4",
        "q5",
        "q6",
        "q7",
        "q8",
        "income",
        "price",
        "term",
        "result",
        "link",
    ]
    for r in results:
        cells = " ".join(f"{name}={ms:.1f}" for name, ms in zip(steps, r["solo_by_step_ms"], strict=True))
        print(f"solo median ms per update, {r['kind']}: {cells}")
    redis, memory = results
    for phase in phases:
        a, b = redis[phase], memory[phase]
        print(
            f"ratio redis/memory, {phase:<9}: throughput {a['updates_per_s'] / b['updates_per_s']:.2f}x, "
            f"p50 {a['p50_ms'] / b['p50_ms']:.2f}x, p95 {a['p95_ms'] / b['p95_ms']:.2f}x"
        )
    # the target holds for the deployment that meets it: one process, or several webhook workers on one Redis
    best = max(redis["saturated"]["updates_per_s"], scaled["updates_per_s"] if scaled else 0.0)
    best_p95 = min(redis["paced"]["p95_ms"], scaled_paced["p95_ms"] if scaled_paced else float("inf"))
    ok = best >= 300 and best_p95 < 50
    print(
        f"target (Redis: >= 300 updates/s at saturation, p95 < 50 ms at the offered rate): best {best:.0f}/s, "
        f"p95 {best_p95:.1f} ms: " + ("met" if ok else "NOT met")
    )


if __name__ == "__main__":
    main()
