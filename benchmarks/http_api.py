"""POST /v1/assessments through uvicorn (2 workers) against the engine called in-process: same run, same profiles.

    .venv/bin/python benchmarks/http_api.py [--requests 3000] [--concurrency 32] [--workers 2] [--repeat 3]
                                       [--database-url URL]

Prints requests per second and p95 latency of both, and their ratio. The HTTP figure includes everything a
client pays for: TCP keep-alive connections, JWT check (with the user read from the database), JSON
validation, the engine, storing the assessment, and serialising the result. The load generator is a
minimal HTTP/1.1 keep-alive client on asyncio streams in separate processes, so the client costs little CPU
on this machine next to the server (it still shares the cores: the figure is a floor, not a ceiling).
Target (issue #6): >= 500 assessments/s over HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def profiles(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """Valid SPEC §7 inputs drawn from the policy's answer codes and limits (seeded)."""
    from engine.policy import default_policy

    policy = default_policy()
    rng = random.Random(seed)
    lim = policy.limits
    out = []
    for _ in range(n):
        answers = {q: rng.choice(list(codes)) for q, codes in policy.answers.items()}
        out.append(
            {
                "answers": answers,
                "loan": {
                    "vehicle_price": rng.randrange(int(lim.vehicle_price_min), 1_500_000, 1000),
                    "term_months": rng.choice(list(lim.term_options)),
                },
                "applicant": {"birth_year": rng.randrange(1955, 2004), "monthly_income": None},
            }
        )
    return out


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[94]


# --------------------------------------------------------------------------------------------- in-process
def bench_in_process(items: list[dict[str, Any]]) -> dict[str, float]:
    from core.config import get_settings
    from engine.assess import get_assessor

    assessor = get_assessor(model_dir=get_settings().resolved_model_dir)
    for item in items[:50]:  # warm-up
        assessor.assess(item)
    latencies = []
    start = time.perf_counter()
    for item in items:
        t = time.perf_counter()
        assessor.assess(item)
        latencies.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - start
    return {"rps": len(items) / elapsed, "p95_ms": p95(latencies) * 1000, "n": len(items)}


# ------------------------------------------------------------------------------------------------- HTTP
async def _client(host: str, port: int, token: str, bodies: list[bytes], latencies: list[float], errors: list[int]):
    reader, writer = await asyncio.open_connection(host, port)
    head = (
        f"POST /v1/assessments HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nAccept: application/json\r\n"
    ).encode()
    for body in bodies:
        t = time.perf_counter()
        writer.write(head + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        status_line = await reader.readline()
        length = 0
        chunked = False
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
            elif name.lower() == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            while True:
                size = int((await reader.readline()).strip(), 16)
                await reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            await reader.readexactly(length)
        latencies.append(time.perf_counter() - t)
        status = int(status_line.split()[1])
        if status != 201:
            errors.append(status)
    writer.close()


def _load_process(args: tuple[str, int, str, list[bytes], int, Any]) -> None:
    host, port, token, bodies, concurrency, queue = args
    latencies: list[float] = []
    errors: list[int] = []

    async def main() -> None:
        shards = [bodies[i::concurrency] for i in range(concurrency)]
        await asyncio.gather(*(_client(host, port, token, s, latencies, errors) for s in shards if s))

    asyncio.run(main())
    queue.put((latencies, errors))


def _children(pid: int) -> list[int]:
    """uvicorn's worker processes (children of the supervisor), or the process itself with one worker."""
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    return [int(k) for k in kids] or [pid]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc): a figure other load on the machine does not skew."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float = 600) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"uvicorn exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("uvicorn did not become ready")


def bench_http(
    items: list[dict[str, Any]], *, workers: int, concurrency: int, clients: int, database_url: str | None
) -> dict[str, float]:
    import httpx

    from api.security import hash_password
    from storage.db import migrate
    from storage.repositories import Storage

    tmp = Path(tempfile.mkdtemp(prefix="asesor-bench-"))
    db = database_url or f"sqlite:///{tmp / 'bench.sqlite3'}"
    migrate(db)
    password = secrets.token_urlsafe(16)
    storage = Storage(db, data_dir=tmp)
    storage.create_user(f"bench-{secrets.token_hex(3)}", password_hash=hash_password(password), role="admin")
    username = storage.list_users()[-1].username
    storage.dispose()

    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": db,
        "ASESOR_DATA_DIR": str(tmp),
        "ASESOR_JWT_SECRET": secrets.token_urlsafe(32),
        "ASESOR_HANDOFF_SECRET": secrets.token_urlsafe(32),
        "REDIS_URL": "",
    }
    env.pop("REDIS_URL")
    cmd = [
        sys.executable, "-m", "uvicorn", "api.main:app_from_env", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, env=env)
    try:
        _wait_ready(f"http://127.0.0.1:{port}/healthz", proc)
        token = httpx.post(
            f"http://127.0.0.1:{port}/v1/auth/token", data={"username": username, "password": password}
        ).json()["access_token"]
        bodies = [json.dumps(i).encode() for i in items]
        # warm-up: every worker loads its engine at start; touch them all a few times
        _run_load("127.0.0.1", port, token, bodies[:200], concurrency, 1)
        workers_pids = _children(proc.pid)
        cpu0 = sum(_cpu_seconds(p) for p in workers_pids)
        start = time.perf_counter()
        latencies, errors = _run_load("127.0.0.1", port, token, bodies, concurrency, clients)
        elapsed = time.perf_counter() - start
        cpu1 = sum(_cpu_seconds(p) for p in workers_pids)
    finally:
        proc.terminate()
        proc.wait(30)
    if errors:
        print(f"warning: {len(errors)} non-201 responses, e.g. {errors[:5]}", file=sys.stderr)
    return {
        "rps": len(latencies) / elapsed,
        "p95_ms": p95(latencies) * 1000,
        "n": len(latencies),
        "errors": len(errors),
        "server_cpu_ms": (cpu1 - cpu0) / max(len(latencies), 1) * 1000,
    }


def _run_load(host: str, port: int, token: str, bodies: list[bytes], concurrency: int, clients: int):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    per = max(concurrency // clients, 1)
    procs = [
        ctx.Process(target=_load_process, args=((host, port, token, bodies[i::clients], per, queue),))
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    latencies: list[float] = []
    errors: list[int] = []
    for _ in procs:
        lat, err = queue.get()
        latencies += lat
        errors += err
    for p in procs:
        p.join()
    return latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32, help="open keep-alive connections in total")
    parser.add_argument("--clients", type=int, default=1, help="load-generator processes")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--repeat", type=int, default=3, help="runs of both; the median run is reported")
    args = parser.parse_args()

    items = profiles(args.requests)
    runs = []
    for i in range(args.repeat):
        # alternate the two measurements so both see the same background load on a shared machine
        base = bench_in_process(items)
        http = bench_http(
            items,
            workers=args.workers,
            concurrency=args.concurrency,
            clients=args.clients,
            database_url=args.database_url,
        )
        runs.append((base, http))
        print(
            f"run {i + 1}: in-process {base['rps']:7.1f}/s p95 {base['p95_ms']:5.2f} ms | "
            f"HTTP {http['rps']:7.1f} req/s p95 {http['p95_ms']:6.2f} ms, "
            f"server CPU {http['server_cpu_ms']:.2f} ms/req, errors {http['errors']}"
        )
    base, http = sorted(runs, key=lambda r: r[1]["rps"])[len(runs) // 2]  # the median run by HTTP rate
    print(f"cpus: {os.cpu_count()}  profiles: {len(items)} (same for both)  runs: {len(runs)} (median shown)")
    print(f"engine in-process (1 process): {base['rps']:8.1f} assessments/s   p95 {base['p95_ms']:6.2f} ms")
    print(
        f"HTTP POST /v1/assessments ({args.workers} uvicorn workers, {args.concurrency} connections): "
        f"{http['rps']:8.1f} req/s   p95 {http['p95_ms']:6.2f} ms   errors {http['errors']}"
    )
    cpu_in_process = 1000 / base["rps"]
    print(
        f"CPU per assessment: in-process {cpu_in_process:.2f} ms, server side over HTTP {http['server_cpu_ms']:.2f} ms "
        f"(capacity if the {os.cpu_count()} cores served only the API: "
        f"~{(os.cpu_count() or 1) * 1000 / http['server_cpu_ms']:.0f} req/s)"
    )
    print(f"ratio HTTP / in-process: {http['rps'] / base['rps']:.2f}x   target >= 500 req/s: "
          f"{'met' if http['rps'] >= 500 else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
