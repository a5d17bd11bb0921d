"""Private PostgreSQL clusters and Redis servers for tests that stop, kill and restart them.

The shared services (tests/conftest.py's TEST_DATABASE_URL and TEST_REDIS_URL) serve every test session on the
machine and are never stopped; a test that needs an outage starts its own here, on a free loopback port with its
data in a temp dir, and stops it as it likes.

- `PrivatePostgres()`: `initdb` + `pg_ctl` (as the `postgres` user when run as root), trust auth on 127.0.0.1;
  `start()`, `stop()` (immediate: like a crash), `destroy()`; `create_database(name)` returns its URL.
- `PrivateRedis(dir)`: `redis-server` with AOF fsynced on every write; `start()`, `kill()` (SIGKILL, no
  shutdown save: only the AOF brings data back), `stop()`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivatePostgres:
    """A throw-away PostgreSQL cluster in a temp dir on a free port, so stopping it disturbs no one."""

    BIN = Path("/usr/lib/postgresql/15/bin")

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="asesor-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres(f"{self.BIN}/initdb -D {self.data} -U postgres --auth=trust -E UTF8 >/dev/null")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @classmethod
    def available(cls) -> bool:
        return (cls.BIN / "initdb").exists()

    def _as_postgres(self, cmd: str) -> None:
        if os.geteuid() == 0:
            subprocess.run(["su", "postgres", "-c", cmd], check=True, timeout=120)
        else:
            subprocess.run(["bash", "-c", cmd], check=True, timeout=120)

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(f"{self.BIN}/pg_ctl -D {self.data} -l {self.dir}/log -w -o '{opts}' start >/dev/null")

    def stop(self) -> None:
        self._as_postgres(f"{self.BIN}/pg_ctl -D {self.data} -m immediate -w stop >/dev/null")

    def create_database(self, name: str) -> str:
        from sqlalchemy import text
        from sqlalchemy.pool import NullPool

        from storage.db import make_engine

        admin = make_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.url.rsplit("/", 1)[0] + "/" + name

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    """A private redis-server on a free port, data in `directory`, every write fsynced to the AOF."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        from redis import Redis

        binary = shutil.which("redis-server")
        assert binary, "redis-server is required (scripts/services.sh installs it)"
        self.proc = subprocess.Popen(
            [
                *(binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)),
                *("--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no"),
                *("--logfile", str(self.dir / "redis.log")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            for _ in range(100):
                with contextlib.suppress(Exception):
                    if client.ping():
                        return
                time.sleep(0.05)
        finally:
            client.close()
        raise RuntimeError("private redis-server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)  # no shutdown save: only the AOF can bring the data back
        self.proc.wait(5)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(5)
            self.proc = None
