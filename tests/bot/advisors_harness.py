"""The bot (either framework, the fake Bot API) and the API on one Redis and one database: the two advisors'
surfaces over the one case desk. The API runs in-process (httpx over ASGI); the bot's process is the harness,
with its mailbox reader (what the API leaves for Telegram) and its outbox sweep running as they do under
`asesor bot`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from bot_harness import SECRET, BotHarness, build_harness
from pydantic import SecretStr

from api.main import create_app
from api.security import create_access_token, hash_password
from core.config import Settings
from dialogs.delivery import TELEGRAM, WEB
from storage.case_store import CaseDeskStore

PASSWORD = "contraseña-segura-123"
FAST_BACKOFF = (0.05, 0.05, 0.05, 0.05, 0.05)


@dataclass
class StaffUser:
    id: int
    username: str
    name: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Surfaces:
    h: BotHarness
    app: Any
    api: httpx.AsyncClient
    settings: Settings
    namespace: str

    def staff(self, username: str, name: str, role: str = "advisor") -> StaffUser:
        user = self.h.storage.create_user(username, password_hash=hash_password(PASSWORD), role=role, display_name=name)
        token = create_access_token(self.settings, subject=str(user.id), role=role)
        return StaffUser(user.id, username, name, token)

    async def until(self, cond: Any, timeout: float = 15.0) -> Any:
        return await until(cond, timeout)


async def until(cond: Any, timeout: float = 15.0) -> Any:
    """Wait for `cond()` (a value or a coroutine) to be truthy: what another process or task delivers."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        got = cond()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return got
        assert loop.time() < end, "timed out"
        await asyncio.sleep(0.05)


def api_settings(db_url: str, redis_url: str, data_dir: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "ASESOR_JWT_SECRET": SecretStr(SECRET + "-jwt"),
        "ASESOR_HANDOFF_SECRET": SecretStr(SECRET),
        "ASESOR_DATA_DIR": data_dir,
        "API_PUBLIC_URL": "https://asesor.example.mx",
        "ASESOR_AUTH_CACHE_SECONDS": 0,
        **extra,
    }
    return Settings(**values)


@contextlib.asynccontextmanager
async def surfaces(
    *, redis_url: str, db_url: str, data_dir: Path, framework: str, forum: bool = True
) -> AsyncIterator[Surfaces]:
    import random

    bot_id = random.randint(10_000_000, 99_999_999)
    namespace = f"asesor-test-{bot_id}"
    h = await build_harness(
        redis_url=redis_url, db_url=db_url, data_dir=data_dir, framework=framework, forum=forum, bot_id=bot_id,
        namespace=namespace,
    )  # fmt: skip
    settings = api_settings(db_url, redis_url, data_dir)
    app = create_app(settings, storage=h.storage, event_sink=h.sink, chat_namespace=namespace)
    transport = httpx.ASGITransport(app=app)
    store = h.parts.desk.store
    assert isinstance(store, CaseDeskStore)
    store.log.backoff = FAST_BACKOFF
    mail = asyncio.create_task(h.parts.mailbox.serve(TELEGRAM, h.app.courier.deliver))
    sweep = asyncio.create_task(h.parts.desk.serve_outbox(h.app.courier, (TELEGRAM, WEB), interval=0.05))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as api:
            advisors = await app.state.advisors.get()
            advisors.store.log.backoff = FAST_BACKOFF
            yield Surfaces(h, app, api, settings, namespace)
    finally:
        mail.cancel()
        sweep.cancel()
        await asyncio.wait([mail, sweep], timeout=10)  # a task stuck in a Redis read must not hang the run
        await app.state.advisors.close()
        await h.close()
        await h.tg.stop()
