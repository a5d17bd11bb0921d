"""The logs of a full run hold nothing personal or secret (issue #13 item 3), with real processes: `asesor bot`
(webhook mode against the fake Bot API, at DEBUG) and `asesor api serve` (at INFO), both writing JSON lines, on a
private PostgreSQL and Redis. One applicant talks to the bot to the result, opens the handoff link and submits
the form, asks for an advisor; the advisor logs in, takes the case, writes to the applicant, adds a note and
resolves it; PostgreSQL is stopped while the applicant writes and the API is used, then restarted; last, an API
started with the wrong personal-data key (a rotation gone wrong) fails on the applicant's form (an unhandled
error: a 500 problem+json, the connection kept).

Then every line of both logs must be one JSON object, the request-scoped lines of the API must carry a
`request_id`, and none may contain the applicant's name, phone, Telegram user/chat id, the bot token, the
advisor's JWT or password or argon2 hash, the handoff token, or any secret of the settings.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from bot_harness import GOOD_ANSWERS, label  # tests/bot, on the path (conftest.py)
from cryptography.fernet import Fernet
from fake_telegram import FakeTelegram, TestUser
from sqlalchemy import select

from dialogs import texts
from storage.db import make_engine
from storage.models import User
from tests.models import default_model_dir, get_assessor
from tests.processes import PASSWORD, ApiProcess, BotProcess, KeepAlive, create_staff, service_env

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(420)]

FIRST, LAST = "Zacarías", "Quintero"
PHONE = "55 4321 8765"
USER_ID = 7_412_345_678  # the applicant's Telegram user and (private) chat id
ADVISORS = -1_009_876_543_210
WEBHOOK_SECRET = "log-scan-webhook-secret-0123456789abcdef"
# what a request-scoped line of the API says (core.logging binds request_id for the whole request)
REQUEST_SCOPED = re.compile(r" on (GET|POST|PUT|PATCH|DELETE) /")


class Applicant:
    """Posts the applicant's updates to the bot's webhook and waits for the bot's answer in their chat."""

    def __init__(self, tg: FakeTelegram, user: TestUser, url: str, secret: str) -> None:
        self.tg, self.user, self.url, self.headers = tg, user, url, {"X-Telegram-Bot-Api-Secret-Token": secret}

    def _answers(self, start: int) -> list[Any]:
        return [
            c
            for c in self.tg.calls[start:]
            if c.method in ("sendMessage", "editMessageText") and str(c.params.get("chat_id")) == str(USER_ID)
        ]

    async def send(self, http: aiohttp.ClientSession, update: dict[str, Any], *, retry: bool = True) -> list[Any]:
        """One update; answered «problema técnico momentáneo» (the database is down) it is sent again later."""
        for _ in range(60):
            start = len(self.tg.calls)
            async with http.post(self.url, json=update, headers=self.headers) as r:
                assert r.status == 200
            deadline = time.monotonic() + 20
            while not self._answers(start) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.15)  # the rest of the turn's messages
            answers = self._answers(start)
            assert answers, f"no answer to {update}"
            if not retry or not any(c.params.get("text") == texts.TEMPORARY_ERROR for c in answers):
                return answers
            await asyncio.sleep(0.5)
            update = {**update, "update_id": self.tg.next_update_id()}
        raise AssertionError(f"stuck at {update}")

    async def text(self, http: aiohttp.ClientSession, what: str, **kw: Any) -> list[Any]:
        return await self.send(http, self.user.text(what), **kw)

    async def press(self, http: aiohttp.ClientSession, what: str) -> list[Any]:
        return await self.send(http, self.user.press(what))


def _form() -> bytes:
    return urlencode(
        {
            "full_name": f"{FIRST} {LAST}",
            "phone": PHONE,
            "email": "zacarias.quintero@example.com",
            "vehicle_brand": "Nissan",
            "vehicle_model": "Versa",
            "vehicle_year": "2025",
            "vehicle_price": "350,000",
            "term_months": "48",
            "bank": "bbva",
            "contact_consent": "on",
        }
    ).encode()


def _advisor(api: ApiProcess) -> tuple[str, int]:
    """The advisor logs in, takes the open case, writes to the applicant, notes, resolves: (JWT, case id)."""
    with KeepAlive(api.port) as http:
        login = http.request(
            "POST", "/v1/auth/token", form=urlencode({"username": "asesora", "password": PASSWORD}).encode()
        )
        assert login.status == 200, login.body[:300]
        jwt = login.json()["access_token"]
        auth = {"Authorization": f"Bearer {jwt}"}
        cases = http.request("GET", "/v1/escalations?status=open", headers=auth)
        assert cases.status == 200 and cases.json(), cases.body[:300]
        case_id = cases.json()[0]["id"]
        assert http.request("POST", f"/v1/escalations/{case_id}/claim", headers=auth).status == 200
        hello = {"text": f"Hola {FIRST}, te llamo al {PHONE} en un momento."}
        r = http.request("POST", f"/v1/escalations/{case_id}/messages", hello, auth)
        assert r.status == 201, r.body[:300]
        note = {"body": f"{FIRST} {LAST} prefiere que lo llamen al {PHONE} por la tarde."}
        r = http.request("POST", f"/v1/escalations/{case_id}/notes", note, auth)
        assert r.status in (200, 201), r.body[:300]
    return jwt, case_id


def _during_outage(api: ApiProcess, jwt: str, form_path: str) -> list[int]:
    """What the API answers while PostgreSQL is down: a login, the advisor's list, the applicant's form."""
    with KeepAlive(api.port) as http:
        login = urlencode({"username": "asesora", "password": PASSWORD}).encode()
        return [
            http.request("POST", "/v1/auth/token", form=login).status,
            http.request("GET", "/v1/escalations", headers={"Authorization": f"Bearer {jwt}"}).status,
            http.request("POST", form_path, form=_form(), headers={"Accept": "text/html"}).status,
        ]


def _resolve(api: ApiProcess, jwt: str, case_id: int) -> None:
    auth = {"Authorization": f"Bearer {jwt}"}
    deadline = time.monotonic() + 30
    with KeepAlive(api.port) as http:
        while http.request("GET", "/readyz").status != 200:
            assert time.monotonic() < deadline, "the API did not see the database back"
            time.sleep(0.3)
        body = {"outcome": "contactado", "resolution": f"Hablé con {FIRST} al {PHONE}."}
        r = http.request("POST", f"/v1/escalations/{case_id}/resolve", body, auth)
        assert r.status == 200, r.body[:300]


async def test_the_logs_of_a_full_run_hold_nothing_personal_or_secret(
    private_pg, private_redis, fault_db: str, tmp_path: Path
) -> None:
    get_assessor()  # the model artifact exists: neither process trains its own
    create_staff(fault_db, "asesora", "advisor", tmp_path)
    tg = FakeTelegram(bot_id=int.from_bytes(os.urandom(3), "big") + 10_000_000, forum_chats={ADVISORS})
    await tg.start()
    env = service_env(
        fault_db, private_redis.url, tmp_path,
        ASESOR_MODEL_DIR=str(default_model_dir()), ASESOR_WEBHOOK_SECRET=WEBHOOK_SECRET, ASESOR_LOG_FORMAT="json",
    )  # fmt: skip
    api = ApiProcess(
        {**env, "ASESOR_DATA_DIR": str(tmp_path / "api"), "ASESOR_LOG_LEVEL": "INFO"}, tmp_path / "api.log"
    )
    env["API_PUBLIC_URL"] = api.base  # the bot's links point at this API
    api.env["API_PUBLIC_URL"] = api.base
    bot = BotProcess(env, tmp_path / "bot.log", tg, log_level="DEBUG", advisors_chat=str(ADVISORS))
    await bot.start()
    secrets: dict[str, str] = {}
    api2: ApiProcess | None = None
    try:
        await asyncio.to_thread(api.start)
        secret = await bot.ready()
        zac = Applicant(tg, TestUser(tg, USER_ID, FIRST), bot.webhook_url, secret)
        async with aiohttp.ClientSession() as http:
            # ---- the dialog, to the result
            await zac.text(http, "/start")
            await zac.press(http, "Acepto")
            await zac.text(http, f"{FIRST} {LAST}")
            await zac.text(http, "1988")
            await zac.text(http, PHONE)
            for q, code in GOOD_ANSWERS.items():
                await zac.press(http, label(q, code))
            await zac.press(http, "Prefiero no decir")
            await zac.text(http, "$350,000")
            await zac.press(http, "48 meses")
            await zac.press(http, "Ver mi resultado")
            # ---- the handoff link, opened and submitted
            await zac.press(http, "Solicitar financiamiento")
            link = tg.last_bot_message(USER_ID).buttons()[0]["url"]
            assert link.startswith(f"{api.base}/solicitud/"), link
            form_path = link[len(api.base) :]
            secrets["handoff token"] = form_path.split("/")[2]
            with KeepAlive(api.port) as page:
                assert page.request("GET", form_path, headers={"Accept": "text/html"}).status == 200
                sent = page.request("POST", form_path, form=_form(), headers={"Accept": "text/html"})
                assert sent.status == 303, sent.body[:500]
            # ---- an advisor answers the case
            await zac.press(http, "Hablar con un asesor")
            jwt, case_id = await asyncio.to_thread(_advisor, api)
            secrets["advisor's JWT"] = jwt
            await zac.text(http, f"Gracias, mi celular es {PHONE}.")
            # ---- PostgreSQL down while the applicant writes and the API is used
            private_pg.stop()
            statuses = await asyncio.to_thread(_during_outage, api, jwt, form_path)
            assert set(statuses) == {503}, statuses
            answers = await zac.text(http, f"Soy {FIRST}, ¿sigue ahí?", retry=False)
            assert any(c.params.get("text") == texts.TEMPORARY_ERROR for c in answers)
            await asyncio.to_thread(private_pg.start)
            await zac.text(http, f"Soy {FIRST}, ¿sigue ahí?")  # given again once it is back
            await asyncio.to_thread(_resolve, api, jwt, case_id)
        # ---- a key rotation gone wrong: an API that cannot decrypt the applicant's data (a bug's 500)
        api.stop()
        api2 = ApiProcess(
            {**api.env, "ASESOR_FERNET_KEY": Fernet.generate_key().decode(), "ASESOR_DATA_DIR": str(tmp_path / "a2")},
            tmp_path / "api2.log",
        )
        await asyncio.to_thread(api2.start)
        with KeepAlive(api2.port) as page:
            broken = page.request("GET", form_path)
            assert broken.status == 500 and broken.headers["content-type"].startswith("application/problem+json")
            assert broken.json()["request_id"] == broken.headers["x-request-id"]
            assert page.request("GET", "/healthz").status == 200  # on the same connection
    finally:
        await bot.stop()
        api.stop()
        if api2 is not None:
            api2.stop()
        await tg.stop()

    engine = make_engine(fault_db)
    with engine.connect() as conn:
        password_hash = conn.scalar(select(User.password_hash).where(User.username == "asesora"))
        assert password_hash is not None
        secrets["argon2 hash"] = password_hash
    engine.dispose()
    secrets.update(
        {
            "name": FIRST,
            "surname": LAST,
            "phone": PHONE,
            "phone, digits": PHONE.replace(" ", ""),
            "phone, last 8": PHONE[3:],
            "Telegram user/chat id": str(USER_ID),
            "bot token": tg.token,
            "password": PASSWORD,
            "webhook secret token": secret,
            **{k: v for k, v in env.items() if k.startswith("ASESOR_") and ("SECRET" in k or "KEY" in k)},
        }
    )
    logs = {
        name: (tmp_path / f"{name}.log").read_text(errors="replace").splitlines() for name in ("bot", "api", "api2")
    }
    assert all(logs.values()), "a process wrote no log at all: the scan below would mean nothing"
    leaks = [
        f"{name}.log has the {what}: {line[:300]}"
        for name, lines in logs.items()
        for line in lines
        for what, value in secrets.items()
        if value and value in line
    ]
    assert not leaks, "\n".join(leaks[:20])

    records: dict[str, list[dict[str, Any]]] = {}
    for name, lines in logs.items():
        records[name] = []
        for line in lines:
            try:
                records[name].append(json.loads(line))
            except ValueError:
                pytest.fail(f"{name}.log: not a JSON line: {line[:300]}")

    # the run really logged: the bot at DEBUG, the outage on both sides, each request-scoped API line with its id
    bot_events = [(r["level"], r["logger"], r["event"][:120]) for r in records["bot"]]
    # at DEBUG the libraries speak from INFO (aiohttp's access lines), at INFO only from WARNING
    assert any(r["logger"] == "aiohttp.access" for r in records["bot"]), bot_events
    assert any("unavailable" in r["event"] for r in records["bot"] if r["level"] == "warning"), bot_events
    scoped = [r for r in records["api"] + records["api2"] if REQUEST_SCOPED.search(r["event"])]
    assert any("answering 503" in r["event"] for r in scoped), [r["event"] for r in records["api"]]
    assert any(r["event"] == "unhandled error on GET /solicitud/{token}" for r in scoped), [
        (r["logger"], r["event"][:200]) for r in records["api2"]
    ]
    assert all(re.fullmatch(r"[0-9a-f]{32}", r.get("request_id", "")) for r in scoped), scoped
    # and nothing that runs outside a request pretends to be in one
    assert not any("request_id" in r for r in records["bot"])
    print(
        f"\nlog scan: bot {len(logs['bot'])} lines (DEBUG), api {len(logs['api'])} + {len(logs['api2'])} lines (INFO), "
        f"{len(scoped)} request-scoped API lines with their id; {len(secrets)} values looked for, none found"
    )
