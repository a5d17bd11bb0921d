"""The web chat's server CPU per chat turn, two checkouts against each other in one run (an A/B).

    .venv/bin/python benchmarks/web_ab.py --base ../other-checkout [--rounds 6 --dialogs 30]

This host's speed changes within minutes (benchmarks/surfaces.py's `host ms`), so two runs of
`surfaces.py --phases cpu`, one per checkout, differ by more than most changes. Here one web chat server of each
checkout (benchmarks/surfaces.py's `_web_server`, each started by its own checkout's Python, each on its own
SQLite file and Redis namespace) runs at once, and the client gives them batches of `--dialogs` applicants (10 at
a time, unpaced, as the cpu phase does) in turn, swapping the order every round: both see the same host. Prints
each server's CPU per turn (from /proc) after every round and the ratio head / base.

With `--paced RATE` it compares latency instead: both servers at once, each pinned to a CPU of its own (swapped
every round), each offered RATE turns/s by `--applicants` paced applicants for `--seconds` (the first quarter
not measured), as benchmarks/surfaces.py's paced phase does; prints p50/p95 per server per round and, at the
end, the median over rounds of each and the ratio head / base of the p95s, of all turns and of the result turn
(the one that assesses) alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

# run by each checkout's own Python in that checkout: one server, "READY" on stdout once it listens
LAUNCH = """
import os, sys
sys.path[:0] = [os.getcwd(), os.path.join(os.getcwd(), "benchmarks")]
from surfaces import _web_server
from storage.db import migrate
port, db, data_dir, namespace, redis_url = sys.argv[1:6]
migrate(db)
class Ready:
    def put(self, x):
        print("READY" if isinstance(x, int) else x, flush=True)
_web_server(0, int(port), redis_url, db, data_dir, namespace, Ready())
"""


def pin_process(pid: int, cpu: int) -> None:
    """Every thread of another process onto one CPU (sched_setaffinity on a pid moves its main thread only)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), {cpu})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, type=Path, help="the other checkout (with its .venv)")
    parser.add_argument("--head", default=HERE.parent, type=Path, help="default: this checkout")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--dialogs", type=int, default=30, help="applicants per server per round")
    parser.add_argument("--paced", type=float, default=0.0, help="turns/s per server: compare latency, not CPU")
    parser.add_argument("--applicants", type=int, default=60, help="paced applicants per server")
    parser.add_argument("--seconds", type=float, default=16.0, help="paced seconds per round")
    parser.add_argument("--redis-url", default=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args()

    import aiohttp
    import uvloop
    from cryptography.fernet import Fernet
    from surfaces import STEPS, _process_cpu_s, paced, paced_summary, unpaced, web_script

    from tests.private_services import free_port

    os.environ.setdefault("ASESOR_FERNET_KEY", Fernet.generate_key().decode())  # both servers' sealed dialogs
    trees = {"base": args.base.resolve(), "head": args.head.resolve()}
    cpu = dict.fromkeys(trees, 0.0)
    turns = dict.fromkeys(trees, 0)
    p95s: dict[str, list[float]] = {n: [] for n in trees}
    result_p95s: dict[str, list[float]] = {n: [] for n in trees}  # the turn that assesses, with its what-if
    result_step = STEPS.index("result")
    with tempfile.TemporaryDirectory() as tmp:
        servers: dict[str, tuple[subprocess.Popen[str], str]] = {}
        try:
            for name, tree in trees.items():
                port, data = free_port(), Path(tmp) / name
                data.mkdir()
                argv = [str(port), f"sqlite:///{data / 'db.sqlite3'}", str(data), f"ab-{name}-{uuid.uuid4().hex[:6]}"]
                proc = subprocess.Popen(
                    [str(tree / ".venv/bin/python"), "-c", LAUNCH, *argv, args.redis_url],
                    cwd=tree, stdout=subprocess.PIPE, text=True,
                )  # fmt: skip
                servers[name] = (proc, f"http://127.0.0.1:{port}")
            for name, (proc, _) in servers.items():
                line = proc.stdout.readline().strip() if proc.stdout else ""
                if line != "READY":
                    raise SystemExit(f"the {name} server did not start: {line}")

            def in_turn(r: int) -> list[str]:  # the order swaps every round: neither server always goes first
                return list(servers)[:: 1 if r % 2 == 0 else -1]

            async def paced_rounds(scripts: dict[str, Any]) -> None:
                cpus = sorted(os.sched_getaffinity(0))
                for r in range(args.rounds):
                    for i, n in enumerate(in_turn(r)):
                        pin_process(servers[n][0].pid, cpus[i % len(cpus)])
                    t0 = time.perf_counter()
                    got = await asyncio.gather(
                        *(paced(scripts[n], args.applicants, args.paced, args.seconds, r) for n in servers)
                    )
                    line = []
                    for n, samples in zip(servers, got, strict=True):
                        fig = paced_summary(samples, t0, args.seconds / 4, args.seconds)
                        p95s[n].append(fig["p95_ms"])
                        result_p95s[n].append(fig["p95_by_step_ms"][result_step])
                        line.append(
                            f"{n} p50 {fig['p50_ms']:.1f} p95 {fig['p95_ms']:.1f} ms"
                            f" (result turn p95 {result_p95s[n][-1]:.1f})"
                        )
                    print(f"round {r + 1}: " + "  ".join(line), flush=True)

            async def client() -> None:
                connector = aiohttp.TCPConnector(limit=0)
                async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as http:
                    scripts = {n: web_script(http, url) for n, (_, url) in servers.items()}
                    for n in servers:  # warm-up: each server assesses a few times
                        for i in range(4):
                            await scripts[n](random.Random(i), [], None)
                    if args.paced:
                        await paced_rounds(scripts)
                        return
                    for r in range(args.rounds):
                        for n in in_turn(r):
                            pid = servers[n][0].pid
                            before = _process_cpu_s(pid)
                            samples: list[Any] = []
                            await unpaced(scripts[n], args.dialogs, 10, r, samples)
                            cpu[n] += _process_cpu_s(pid) - before
                            turns[n] += len(samples)
                        print(f"round {r + 1}: " + "  ".join(f"{n} {1000 * cpu[n] / turns[n]:.2f} ms" for n in servers))

            uvloop.run(client())
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(30)
    if args.paced:
        for what, figures in (("p95", p95s), ("result turn p95", result_p95s)):
            median = {n: statistics.median(figures[n]) for n in trees}
            print(f"{what} at {args.paced:.0f} turns/s each, median over {args.rounds} rounds: "
                  + ", ".join(f"{n} {median[n]:.1f} ms" for n in trees))  # fmt: skip
            print(f"head / base: {median['head'] / median['base']:.3f}")
        return
    per_turn = {n: 1000 * cpu[n] / turns[n] for n in trees}
    print("server CPU per chat turn: " + ", ".join(f"{n} {per_turn[n]:.3f} ms ({turns[n]} turns)" for n in trees))
    print(f"head / base: {per_turn['head'] / per_turn['base']:.3f}")


if __name__ == "__main__":
    main()
