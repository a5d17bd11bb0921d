"""Real processes of the project for tests: `asesor api serve` (ApiProcess), `asesor bot` in webhook mode against
the fake Bot API server (BotProcess), the environment a deployment gives them (service_env), staff users made as
`asesor api create-user` makes them, and a keep-alive HTTP client that notices a dropped connection (KeepAlive:
one socket, requests one after another; a reset or EOF is a failure, never a silent reconnect)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from tests.private_services import free_port

REPO = Path(__file__).resolve().parents[1]
ASESOR = [sys.executable, "-m", "cli"]
PASSWORD = "contraseña-del-probador-1"


def service_env(db_url: str, redis_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment a deployment gives the processes (development keys, but every one set)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASESOR_", "DATABASE_URL", "REDIS_URL"))}
    defaults = dict(
        DATABASE_URL=db_url,
        REDIS_URL=redis_url,
        ASESOR_DATA_DIR=str(data_dir),
        ASESOR_JWT_SECRET="fault-suite-jwt-secret-0123456789abcdef",
        ASESOR_HANDOFF_SECRET="fault-suite-handoff-secret-0123456789abcdef",
        ASESOR_WEBHOOK_SECRET="fault-suite-webhook-secret-0123456789abcdef",
        ASESOR_CHAT_SECRET="fault-suite-chat-secret-0123456789abcdef",
        ASESOR_PSEUDONYM_KEY="fault-suite-pseudonym-key-0123456789abcdef",
        ASESOR_FERNET_KEY=Fernet.generate_key().decode(),
        API_PUBLIC_URL="http://127.0.0.1:8000",
        # every test process logs in from 127.0.0.1 and the limiter counts in the shared Redis: the suite's
        # logins of one minute must not add up to one test's 429 (tests of the limit set their own)
        ASESOR_LOGIN_RATE_LIMIT="1000/minute",
        PYTHONUNBUFFERED="1",
    )
    env.update({**defaults, **extra})  # a test may set any of them itself
    return env


@dataclass
class ApiProcess:
    """`asesor api serve` as a real process; its stderr (the log) goes to a file the test can measure."""

    env: dict[str, str]
    log_path: Path
    workers: int = 1
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # a bound, not a figure: on a loaded 2-CPU machine two workers' imports alone took 70 s (CI, 2026-12-02)
    def start(self, timeout: float = 300.0) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 (owned by the process)
        args = ["api", "serve", "--port", str(self.port), "--workers", str(self.workers), "--no-migrate"]
        self.proc = subprocess.Popen(
            ASESOR + args, cwd=REPO, env=self.env, stdout=log, stderr=log, stdin=subprocess.DEVNULL
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log_path.read_text()[-3000:]
            with contextlib.suppress(OSError), KeepAlive(self.port) as c:
                if c.request("GET", "/healthz").status == 200:
                    return
            time.sleep(0.25)
        raise AssertionError("the API did not come up:\n" + self.log_path.read_text()[-3000:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()


@dataclass
class BotProcess:
    """`asesor bot` in webhook mode as a real process, against a fake Bot API server (tests/bot/fake_telegram.py's
    FakeTelegram, `tg`); its stdout and stderr (the log) go to a file. Async: the tests drive it from their loop."""

    env: dict[str, str]
    log_path: Path
    tg: Any
    log_level: str = "WARNING"
    workers: int = 1
    advisors_chat: str = "-1009"
    port: int = field(default_factory=free_port)
    proc: asyncio.subprocess.Process | None = None

    @property
    def webhook_url(self) -> str:
        from bot.app import WEBHOOK_PATH

        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    async def start(self) -> None:
        env = {
            **self.env,
            "BOT_TOKEN": self.tg.token,
            "TELEGRAM_API_URL": self.tg.base_url,
            "BOT_MODE": "webhook",
            "WEBHOOK_URL": f"http://127.0.0.1:{self.port}",
            "ADVISORS_CHAT_ID": self.advisors_chat,
        }
        args = ["bot", "--workers", str(self.workers), "--host", "127.0.0.1", "--port", str(self.port)]
        with open(self.log_path, "ab") as log:  # the process holds its own copy
            self.proc = await asyncio.create_subprocess_exec(
                *ASESOR, *args, "--log-level", self.log_level, cwd=REPO, env=env, stdout=log, stderr=log
            )

    async def ready(self, timeout: float = 120.0) -> str:
        """Waits until the bot has set its webhook and its server listens; returns the webhook's secret token."""
        deadline = time.monotonic() + timeout
        while not self.tg.calls_of("setWebhook"):
            await self._alive_until(deadline)
        secret = str(self.tg.calls_of("setWebhook")[-1].params["secret_token"])
        while not _listening(self.port):  # setWebhook comes just before the bot's server listens
            await self._alive_until(deadline)
        return secret

    async def _alive_until(self, deadline: float) -> None:
        assert self.running and time.monotonic() < deadline, self.log_path.read_text(errors="replace")[-3000:]
        await asyncio.sleep(0.1)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def stop(self) -> None:
        """SIGINT (a clean stop flushes the event outbox), up to 30 s, then SIGKILL."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ConnectionDropped(AssertionError):
    pass


class KeepAlive:
    """HTTP/1.1 over one TCP connection; raises ConnectionDropped when the server closed it."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.requests = 0

    def __enter__(self) -> KeepAlive:
        return self

    def __exit__(self, *_: Any) -> None:
        self.sock.close()

    def _fill(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError as exc:
            raise ConnectionDropped(f"connection reset after {self.requests} requests") from exc
        if not chunk:
            raise ConnectionDropped(f"the server closed the connection after {self.requests} requests")
        self.buf += chunk

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, *, form: bytes = b""
    ) -> Answer:
        """One request and its answer; a JSON `body` or a urlencoded `form`."""
        payload = form if body is None else json.dumps(body).encode()
        head = {"Host": "127.0.0.1", "Content-Length": str(len(payload)), **(headers or {})}
        if body is not None:
            head.setdefault("Content-Type", "application/json")
        elif form:
            head.setdefault("Content-Type", "application/x-www-form-urlencoded")
        lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in head.items())]
        try:
            self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ConnectionDropped(f"cannot send after {self.requests} requests") from exc
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        raw_head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line, *header_lines = raw_head.decode("latin-1").split("\r\n")
        headers_out = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines)}
        length = int(headers_out.get("content-length", "0"))
        while len(self.buf) < length:
            self._fill()
        data, self.buf = self.buf[:length], self.buf[length:]
        self.requests += 1
        answer = Answer(int(status_line.split()[1]), headers_out, data)
        if headers_out.get("connection", "").lower() == "close":
            raise ConnectionDropped(f"the server announced Connection: close on {method} {path} ({answer.status})")
        return answer

    def login(self, username: str, password: str = PASSWORD, *, wait_503: float = 0.0) -> dict[str, str]:
        """`wait_503`: seconds a 503 (database down) is waited out, polling every 0.5 s; 0 = none."""
        from urllib.parse import urlencode

        deadline = time.monotonic() + wait_503
        while True:
            r = self.request(
                "POST", "/v1/auth/token", form=urlencode({"username": username, "password": password}).encode()
            )
            if r.status != 503 or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        assert r.status == 200, r.body[:300]
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


def create_staff(db_url: str, username: str, role: str, data_dir: Path) -> None:
    """A user made the way `asesor api create-user` makes one (argon2 hash), directly on the database."""
    from api.services import users
    from storage.repositories import Storage

    storage = Storage(db_url, pseudonym_key="fault-suite-pseudonym-key-0123456789abcdef", data_dir=data_dir)
    try:
        users.create_user(storage, username=username, password=PASSWORD, role=role)
    finally:
        storage.dispose()
