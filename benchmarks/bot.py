"""Benchmark: N simulated applicants complete the dialog at the same time, through the production dispatcher
and the fake Telegram Bot API server over HTTP, first with RedisStorage (+ Redis event isolation and Redis
idempotency), then with aiogram's MemoryStorage (+ in-process isolation and idempotency) in the same run.
Prints updates per second and p50/p95/p99 latency per update for both, and the Redis/memory ratios.

    .venv/bin/python benchmarks/bot.py                       # 200 applicants, local Redis, SQLite in a tmp dir
    .venv/bin/python benchmarks/bot.py --applicants 500 --database-url postgresql+psycopg://…

Each applicant sends 18 updates: /start, consent, name, birth year, phone, the 8 answers, exact income,
price, term, "Ver mi resultado" (one assessment plus its what-if re-runs) and "Solicitar financiamiento".
Latency is measured around `Dispatcher.feed_update` (what a webhook request costs, Telegram round trips to
the fake server included). The fake server runs in a separate process so its work does not count as the bot's.
Storage (SQLite/PostgreSQL through worker threads) and the engine are the same in both runs; only the FSM
storage, the lock and the idempotency guard differ. The target of issue #5: >= 300 updates/s and p95 < 50 ms
with Redis.
"""

from __future__ import annotations

import argparse
import asyncio
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


async def applicant_script(h: Any, user: TestUser, rng: random.Random, timings: list[float]) -> None:
    """One applicant. Buttons are pressed by building the callback from the bot's own keyboard, which the
    local replica below keeps (the fake server lives in another process)."""
    policy = h.deps.policy

    async def feed(update: dict[str, Any]) -> None:
        t0 = time.perf_counter()
        await h.feed(update)
        timings.append(time.perf_counter() - t0)

    async def press(payload_for: str | None = None, arg: str = "") -> dict[str, Any]:
        dialog = await h.dialog(user.chat_id)
        rev = dialog["rev"] if dialog else 0
        data = f"{rev}:{payload_for}:{arg}" if arg else f"{rev}:{payload_for}"
        return _callback(user, data)

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


async def run(kind: str, n: int, redis_url: str, db_url: str, data_dir: Path, seed: int) -> dict[str, Any]:
    from bot_harness import build_harness

    bot_id = random.randint(10_000_000, 99_999_999)
    proc, base_url = start_fake_server(bot_id)
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
        timings: list[float] = []
        base = 1_000_000 if kind == "redis" else 2_000_000  # distinct people (and keys) in each run
        users = [TestUser(local, base + i) for i in range(n)]
        # warm-up (connections, caches) outside the measurement
        await applicant_script(h, TestUser(local, 999_999), random.Random(0), [])
        t0 = time.perf_counter()
        await asyncio.gather(*(applicant_script(h, u, random.Random(seed + i), timings) for i, u in enumerate(users)))
        wall = time.perf_counter() - t0
        await h.close()
    finally:
        proc.terminate()
        proc.join(5)
    return {
        "kind": kind,
        "updates": len(timings),
        "wall_s": wall,
        "updates_per_s": len(timings) / wall,
        "p50_ms": percentile(timings, 50) * 1000,
        "p95_ms": percentile(timings, 95) * 1000,
        "p99_ms": percentile(timings, 99) * 1000,
        "mean_ms": statistics.fmean(timings) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applicants", type=int, default=200)
    parser.add_argument("--redis-url", default=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--database-url", default=None, help="default: a migrated SQLite file in a tmp dir")
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
            results.append(asyncio.run(run(kind, args.applicants, args.redis_url, db_url, data_dir, args.seed)))
    print(f"{args.applicants} applicants, {results[0]['updates']} updates each run, database {db_url.split(':')[0]}")
    print(f"{'storage':<8} {'updates/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'wall s':>7}")
    for r in results:
        print(
            f"{r['kind']:<8} {r['updates_per_s']:>10.0f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['p99_ms']:>8.1f} "
            f"{r['mean_ms']:>8.1f} {r['wall_s']:>7.1f}"
        )
    redis, memory = results
    print(
        f"ratio redis/memory: throughput {redis['updates_per_s'] / memory['updates_per_s']:.2f}x, "
        f"p50 {redis['p50_ms'] / memory['p50_ms']:.2f}x, p95 {redis['p95_ms'] / memory['p95_ms']:.2f}x"
    )
    ok = redis["updates_per_s"] >= 300 and redis["p95_ms"] < 50
    print(f"target (>= 300 updates/s and p95 < 50 ms with Redis): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
