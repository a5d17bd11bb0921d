"""Benchmark: simulated applicants complete the dialog through the production dispatcher and the fake
Telegram Bot API server over HTTP, first with RedisStorage (+ Redis event isolation and Redis idempotency),
then with aiogram's MemoryStorage (+ in-process isolation and idempotency) in the same run; prints updates
per second and p50/p95/p99 latency per update for three phases, and the Redis/memory ratios:

1. solo: one applicant at a time (5 in a row), the latency floor of each update (also shown per step);
2. saturated: N applicants at once with no pauses, the most updates per second one process handles (with a
   closed loop and no pauses, latency there is mostly queueing: N in flight / throughput);
3. paced: N applicants in flight for `--duration` seconds, each sending its updates as a Poisson process so
   that together they offer `--rate` updates per second (a finished applicant is replaced by a new one);
   measured after `--warmup` seconds: the steady state a deployment lives in;
4. scaled: `--workers` bot processes on the same Redis share the N applicants, saturated and paced (Redis
   only: a MemoryStorage cannot be shared between processes, which is the point of Redis here); what
   `asesor bot --workers N --pin-cpus` runs in webhook mode (worker i on CPU i: left to the scheduler, the two
   busy processes sometimes shared one CPU for whole runs and the p95 doubled).

    .venv/bin/python benchmarks/bot.py                           # 200 applicants, local Redis, SQLite in tmp
    .venv/bin/python benchmarks/bot.py --rate 150 --database-url postgresql+psycopg://…

Each applicant sends 18 updates: /start, consent, name, birth year, phone, the 8 answers, exact income,
price, term, "Ver mi resultado" (one assessment plus its what-if re-runs) and "Solicitar financiamiento".
Latency is measured around `Dispatcher.feed_update` (what a webhook request costs, the Telegram round trips to
the fake server included). The fake server runs in a separate process so that its work is not the bot's.
Storage (SQLite/PostgreSQL through worker threads) and the engine are the same in both runs; only the FSM
storage, the lock and the idempotency guard differ. As in `asesor bot`, the bot and the fake server run on
uvloop and each bot process freezes its startup heap out of the collector's full passes (core/heap.py).
Issue #5's target: >= 300 updates/s sustained with p95 < 50 ms, with Redis; the default offered rate is 10 %
above 300 so that the Poisson noise of a 30-second window does not decide it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "bot"))

from fake_telegram import FakeTelegram, TestUser  # noqa: E402

from core.heap import freeze_startup_heap  # noqa: E402


def _serve(bot_id: int, port_queue: Any) -> None:
    async def main() -> None:
        tg = FakeTelegram(bot_id, forum_chats={-1001234567890}, lenient=True)
        await tg.start()
        port_queue.put(tg.base_url)
        await asyncio.Event().wait()

    uvloop.run(main())


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


class Stop(Exception):
    """The paced phase's clock ran out in the middle of a dialog."""


class Pacing:
    """When one simulated applicant sends its next update: an exponential interval (mean `mean_s`) after it
    *sent* the previous one, i.e. a Poisson process per applicant. The interval runs from the send, not from
    the answer, so a slow bot does not lower the offered rate (an open workload); exponential intervals keep
    the 200 applicants out of lockstep, as real people are (with equal pauses they would all ask for their
    result in the same second)."""

    def __init__(self, mean_s: float, rng: random.Random, end: float = float("inf")) -> None:
        self.mean_s, self.rng, self.end = mean_s, rng, end
        self.next_at = time.perf_counter() + rng.expovariate(1 / mean_s)  # arrivals spread out, not all at t=0

    async def wait(self) -> None:
        now = time.perf_counter()
        if self.next_at > now:
            await asyncio.sleep(self.next_at - now)
            now = time.perf_counter()
        if now > self.end:
            raise Stop
        self.next_at = max(self.next_at, now) + self.rng.expovariate(1 / self.mean_s)


# (perf_counter when the update was handed to the dispatcher, seconds it took, its index in the script)
Sample = tuple[float, float, int]


async def applicant_script(
    h: Any, user: TestUser, rng: random.Random, samples: list[Sample], pacing: Pacing | None = None
) -> None:
    """One applicant, /start to the financing link. Buttons are pressed by building the callback with the
    dialog's revision (the fake server lives in another process). `pacing`: None = no pauses at all."""
    policy = h.policy

    async def feed(update: dict[str, Any]) -> None:
        nonlocal rev
        if pacing is not None:
            await pacing.wait()
        t0 = time.perf_counter()
        await h.feed(update, settle=False)  # what the applicant waits for; a case post goes on meanwhile
        rev += 1
        samples.append((t0, time.perf_counter() - t0, rev))

    rev = -1  # the dialog's revision, tracked here: every update of this script moves the dialog one step

    def press(action: str, arg: str = "") -> dict[str, Any]:
        return _callback(user, f"{rev}:{action}:{arg}" if arg else f"{rev}:{action}")

    await feed(user.text("/start"))
    await feed(press("ok"))
    await feed(user.text(rng.choice(["Ana López", "Luis Pérez", "María José Ruiz", "Jorge Díaz"])))
    await feed(user.text(str(rng.randint(1960, 2000))))
    await feed(user.text("55 1234 5678") if rng.random() < 0.7 else press("skip"))
    for codes in policy.answers.values():
        await feed(press("a", rng.choice(list(codes))))
    await feed(user.text(f"{rng.randint(8, 80)} mil") if rng.random() < 0.5 else press("skip"))
    await feed(user.text(f"${rng.randint(150, 900)},000"))
    await feed(press("a", str(rng.choice(policy.limits.term_options))))
    await feed(press("go"))
    await feed(press("fin"))
    dialog = await h.dialog(user.chat_id)  # the script must have reached the card, or its figures mean nothing
    if not dialog or dialog["step"] != "result":
        raise RuntimeError(f"applicant {user.user_id} ended at {dialog and dialog['step']}")


async def saturate(h: Any, user_ids: Iterator[int], n: int, seed: int) -> tuple[list[Sample], float]:
    """n applicants at once, each through one dialog with no pauses: the most updates per second."""
    samples: list[Sample] = []
    users = [TestUser(h.tg, next(user_ids)) for _ in range(n)]
    t0 = time.perf_counter()
    await asyncio.gather(*(applicant_script(h, u, random.Random(seed + i), samples) for i, u in enumerate(users)))
    return samples, time.perf_counter() - t0


async def paced(h: Any, user_ids: Iterator[int], n: int, rate: float, duration: float, seed: int) -> list[Sample]:
    """n applicants in flight at all times for `duration` seconds, together offering `rate` updates/s: each
    one runs dialogs back to back (a finished applicant is replaced by a new person)."""
    samples: list[Sample] = []
    end = time.perf_counter() + duration

    async def one_seat(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        pacing = Pacing(n / rate, rng, end)
        with contextlib.suppress(Stop):
            while True:
                await applicant_script(h, TestUser(h.tg, next(user_ids)), rng, samples, pacing)

    await asyncio.gather(*(one_seat(i) for i in range(n)))
    return samples


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


def window(samples: list[Sample], t_from: float, t_to: float) -> list[Sample]:
    """The updates sent in [t_from, t_to): the steady state, without the ramp-up."""
    return [x for x in samples if t_from <= x[0] < t_to]


def summary(latencies: list[float], wall: float) -> dict[str, float]:
    return {
        "updates": len(latencies),
        "updates_per_s": len(latencies) / wall,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
    }


def paced_summary(samples: list[Sample], started: float, warmup: float, duration: float) -> dict[str, Any]:
    steady = window(samples, started + warmup, started + duration)
    out: dict[str, Any] = summary([lat for _, lat, _ in steady], duration - warmup)
    by_step = [[lat for _, lat, step in steady if step == j] for j in range(UPDATES_PER_APPLICANT)]
    out["p95_by_step_ms"] = [percentile(x, 95) * 1000 if x else float("nan") for x in by_step]
    return out


def _worker(idx: int, n: int, redis_url: str, db_url: str, data_dir: str, base_url: str, bot_id: int,
            seed: int, rate: float, duration: float, ready: Any, go: Any, results: Any) -> None:  # fmt: skip
    """One more bot process on the same Redis (what `asesor bot --workers N --pin-cpus` runs)."""

    async def main() -> None:
        import logging

        from bot.app import pin_to_cpu

        pin_to_cpu(idx)  # as `asesor bot --workers N --pin-cpus` does
        logging.basicConfig(level=logging.ERROR)
        from bot_harness import build_harness

        h = await build_harness(
            redis_url=redis_url, db_url=db_url, data_dir=Path(data_dir) / f"w{idx}", bot_id=bot_id, api_url=base_url
        )
        # Telegram's update ids are unique per bot: give each worker its own range, or the shared
        # idempotency guard would (rightly) drop one worker's updates as duplicates of the other's
        h.tg._update_ids = itertools.count((idx + 1) * 100_000_000)
        user_ids = itertools.count(3_000_000 + idx * 1_000_000)
        await applicant_script(h, TestUser(h.tg, next(user_ids)), random.Random(idx), [])  # warm-up
        freeze_startup_heap()  # as `asesor bot` does once it is up
        ready.put(idx)
        await asyncio.to_thread(go.wait)
        t0 = time.perf_counter()
        if rate:
            samples = await paced(h, user_ids, n, rate, duration, seed + idx)
            results.put((samples, t0, None))
        else:
            samples, wall = await saturate(h, user_ids, n, seed + idx * 1000)
            results.put((samples, t0, t0 + wall))
        await h.close()

    try:
        uvloop.run(main())
    except BaseException:  # report it instead of leaving the parent waiting
        import traceback

        ready.put(traceback.format_exc())
        raise


def run_scaled(
    workers: int, n: int, redis_url: str, db_url: str, data_dir: Path, seed: int, rate: float, args: Any
) -> dict[str, float]:
    """`workers` bot processes share one Redis (FSM, locks, idempotency) and split n applicants: possible
    only because the dialog state and the locks live in Redis, not in a process. rate = 0: saturated;
    else together they offer `rate` updates per second for `args.duration` seconds."""
    ctx = multiprocessing.get_context("spawn")
    bot_id = random.randint(10_000_000, 99_999_999)
    server, base_url = start_fake_server(bot_id)
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    share = n // workers
    procs = [
        ctx.Process(
            target=_worker,
            args=(
                i,
                share,
                redis_url,
                db_url,
                str(data_dir),
                base_url,
                bot_id,
                seed,
                rate / workers,
                args.duration,
                ready,
                go,
                results,
            ),
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
    if rate:  # perf_counter is system-wide (CLOCK_MONOTONIC), so the workers' clocks compare
        started = max(p[1] for p in parts)
        samples = [x for p in parts for x in p[0]]
        return paced_summary(samples, started, args.warmup, args.duration)
    latencies = [lat for p in parts for _, lat, _ in p[0]]
    return summary(latencies, max(p[2] for p in parts) - min(p[1] for p in parts))


async def run(kind: str, args: Any, db_url: str, data_dir: Path) -> dict:
    from bot_harness import build_harness

    bot_id = random.randint(10_000_000, 99_999_999)
    proc, base_url = start_fake_server(bot_id)
    out: dict[str, Any] = {"kind": kind}
    n, seed = args.applicants, args.seed
    try:
        h = await build_harness(
            redis_url=args.redis_url,
            db_url=db_url,
            data_dir=data_dir / kind,
            bot_id=bot_id,
            api_url=base_url,
        )
        # distinct people (and keys) in each run
        user_ids = itertools.count(1_000_000 if kind == "redis" else 2_000_000)
        # 1. one applicant alone: the latency floor of an update (warm-up first)
        await applicant_script(h, TestUser(h.tg, next(user_ids)), random.Random(0), [])
        freeze_startup_heap()  # as `asesor bot` does once it is up
        solo: list[Sample] = []
        t0 = time.perf_counter()
        for i in range(5):
            await applicant_script(h, TestUser(h.tg, next(user_ids)), random.Random(seed + i), solo)
        out["solo"] = summary([lat for _, lat, _ in solo], time.perf_counter() - t0)
        k = UPDATES_PER_APPLICANT
        out["solo_by_step_ms"] = [statistics.median(lat for _, lat, _ in solo[j::k]) * 1000 for j in range(k)]
        # 2. n applicants at once, no pauses: the most updates per second the bot handles (latency = queueing)
        samples, wall = await saturate(h, user_ids, n, seed)
        out["saturated"] = summary([lat for _, lat, _ in samples], wall)
        # 3. n applicants in flight offering `rate` updates per second; measured after the warm-up
        started = time.perf_counter()
        samples = await paced(h, user_ids, n, args.rate, args.duration, seed)
        out["paced"] = paced_summary(samples, started, args.warmup, args.duration)
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
    parser.add_argument("--rate", type=float, default=330.0, help="offered updates/s in the paced phase")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of the paced phase")
    parser.add_argument("--warmup", type=float, default=8.0, help="first seconds of the paced phase not measured")
    parser.add_argument("--workers", type=int, default=2, help="bot processes on one Redis in the scaled phase")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()

    import logging

    logging.basicConfig(level=logging.ERROR)
    from storage.db import migrate

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)

        def fresh_db(name: str) -> str:  # each run starts from an empty database of its own
            db_url = args.database_url or f"sqlite:///{data_dir / f'bench-{name}.sqlite3'}"
            migrate(db_url)
            return db_url

        results = [uvloop.run(run(kind, args, fresh_db(kind), data_dir)) for kind in ("redis",)]
        scaled = scaled_paced = None
        if args.workers > 1:
            scaled = run_scaled(args.workers, args.applicants, args.redis_url, fresh_db("scaled"), data_dir,
                                args.seed, 0.0, args)  # fmt: skip
            scaled_paced = run_scaled(args.workers, args.applicants, args.redis_url, fresh_db("scaled-paced"),
                                      data_dir, args.seed + 1000, args.rate, args)  # fmt: skip
    n = args.applicants
    database = (args.database_url or "sqlite").split(":")[0]
    print(f"{n} applicants x {UPDATES_PER_APPLICANT} updates; database {database}; cpus {os.cpu_count()}")
    print(f"{'phase':<36} {'storage':<7} {'updates/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    phases = {
        "solo": "1 applicant alone (floor)",
        "saturated": f"{n} at once, no pauses (max rate)",
        "paced": f"{n} in flight offering {args.rate:.0f}/s",
    }

    def row(title: str, kind: str, x: dict[str, float], note: str = "") -> None:
        print(
            f"{title:<36} {kind:<7} {x['updates_per_s']:>9.0f} {x['p50_ms']:>8.1f} {x['p95_ms']:>8.1f} "
            f"{x['p99_ms']:>8.1f}{note}"
        )

    for phase, title in phases.items():
        for r in results:
            row(title, r["kind"], r[phase])
    note = "   (a MemoryStorage cannot be shared by processes)"
    if scaled is not None and scaled_paced is not None:
        row(f"{args.workers} processes x {n // args.workers}, no pauses", "redis", scaled, note)
        row(f"{args.workers} processes offering {args.rate:.0f}/s", "redis", scaled_paced, note)
    steps = ["start", "ok", "name", "year", "phone", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "income",
             "price", "term", "result", "link"]  # fmt: skip
    (redis,) = results
    for r in results:
        cells = " ".join(f"{name}={ms:.1f}" for name, ms in zip(steps, r["solo_by_step_ms"], strict=True))
        print(f"solo median ms per update, {r['kind']}: {cells}")
    for title, x in (("1 process", redis["paced"]), (f"{args.workers} processes", scaled_paced)):
        if x is not None:
            cells = " ".join(f"{name}={ms:.0f}" for name, ms in zip(steps, x["p95_by_step_ms"], strict=True))
            print(f"paced p95 ms per update, redis, {title}: {cells}")
    # the target: with Redis, >= 300 updates/s sustained with p95 < 50 ms, by one process or by several
    # webhook workers sharing the Redis (the deployment of docs/bot.md)
    candidates = [("1 process", redis["paced"])]
    if scaled_paced is not None:
        candidates.append((f"{args.workers} processes", scaled_paced))
    met = [(name, x) for name, x in candidates if x["updates_per_s"] >= 300 and x["p95_ms"] < 50]
    name, best = met[0] if met else max(candidates, key=lambda c: c[1]["updates_per_s"] - c[1]["p95_ms"])
    print(
        f"target (Redis, >= 300 updates/s with p95 < 50 ms): {name}, {best['updates_per_s']:.0f}/s, "
        f"p95 {best['p95_ms']:.1f} ms: " + ("met" if met else "NOT met")
    )


if __name__ == "__main__":
    main()
