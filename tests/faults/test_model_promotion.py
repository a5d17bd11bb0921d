"""A promoted model stays in service in every process (issue 16 item 1), with real processes throughout:

`asesor etl load … --source german` + `asesor train applicant --from-db` write a new version that serves nowhere
until `asesor train promote`; then `asesor assess`, a running `asesor api serve --workers 2` and a running
`asesor bot --workers 2` switch to it without a restart (each of the four workers logs the switch with its pid;
every assessment over fresh connections, every dialog completed after it, carries the new version), a
restarted API starts both workers on it, promotions.jsonl has one line per promotion, and a broken artifact is
refused with an error naming it (CLI JSON, API 503 problem+json, the bot's polite «try again») instead of being
replaced.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from bot_harness import GOOD_ANSWERS, label  # tests/bot, on the path (tests/faults/conftest.py)
from fake_telegram import FakeTelegram, TestUser
from sqlalchemy import select

from dialogs import texts
from engine.pd.features import GERMAN_CREDIT_CSV
from storage.db import make_engine, migrate
from storage.models import Assessment
from tests.processes import ASESOR, REPO, ApiProcess, BotProcess, KeepAlive, create_staff, service_env
from tests.samples import sample_profile

pytestmark = pytest.mark.timeout(600)

NAME = "applicant"
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, Any, str]:
    p = subprocess.run(
        [*ASESOR, *args], cwd=REPO, env=env, input=stdin, capture_output=True, text=True, timeout=300, check=False
    )
    try:
        out = json.loads(p.stdout) if p.stdout.strip() else None
    except json.JSONDecodeError:
        out = p.stdout
    return p.returncode, out, p.stderr


def _assess_version(env: dict[str, str]) -> str:
    code, out, err = _cli(env, "assess", stdin=json.dumps(sample_profile()))
    assert code == 0, err
    return out["model_version"]


def _api_version(api: ApiProcess) -> tuple[int, Any]:
    """POST /v1/assessments on a new connection: (status, model_version or the problem)."""
    with KeepAlive(api.port) as http:
        r = http.request("POST", "/v1/assessments", sample_profile(), http.login("analista"))
        return r.status, (r.json()["model_version"] if r.status == 201 else (r.headers, r.json()))


def _wait_versions(apis: list[ApiProcess], want: str, timeout: float = 20.0) -> float:
    """Seconds until every API answers with `want`."""
    t0 = time.monotonic()
    while True:
        got = [_api_version(a) for a in apis]
        if all(g == (201, want) for g in got):
            return time.monotonic() - t0
        assert time.monotonic() - t0 < timeout, f"still serving {got}, want {want}"
        time.sleep(0.2)


# core.model_reload's line per process: which version each worker (its pid) loaded at start or switched to
_IN_SERVICE = re.compile(r"model in service: (\S+) \(pid (\d+)\)")
_SWITCHED = re.compile(r"model switched without restart: (\S+) -> (\S+) \(pid (\d+)\)")


def _events(log_path: Path) -> list[str]:
    events = []
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            events.append(json.loads(line)["event"])
        except (ValueError, KeyError, TypeError):
            continue  # a line of another shape (a library's print): not the watcher's
    return events


def _wait_pids(log_path: Path, pattern: re.Pattern[str], groups: tuple[str, ...], n: int, timeout: float) -> set[str]:
    """The pids (last group) of the log lines matching `pattern` with `groups`, once there are `n` distinct."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m.groups() for e in _events(log_path) if (m := pattern.fullmatch(e))]
        pids = {g[-1] for g in found if g[:-1] == groups}
        if len(pids) >= n:
            return pids
        assert time.monotonic() < deadline, f"{len(pids)} of {n} processes logged {groups}: {found}"
        time.sleep(0.2)


def _every_answer(api: ApiProcess, want: str, connections: int = 20) -> None:
    """Assessments over fresh connections (the kernel hands each to either worker): all on `want`."""
    got = [_api_version(api) for _ in range(connections)]
    assert got == [(201, want)] * connections, got


def _dialog() -> list[tuple[str, str]]:
    steps = [("text", "/start"), ("press", "Acepto"), ("text", "María López"), ("text", "1988")]
    steps += [("text", "55 1234 5678")]
    steps += [("press", label(q, code)) for q, code in GOOD_ANSWERS.items()]
    return [*steps, ("press", "Prefiero no decir"), ("text", "$350,000"), ("press", "48 meses")]


async def _say(tg: FakeTelegram, http: aiohttp.ClientSession, url: str, headers: dict[str, str], update: Any) -> list:
    start = len(tg.calls)
    async with http.post(url, json=update, headers=headers) as r:
        assert r.status == 200
    chat = str(update.get("message", update.get("callback_query", {}).get("message", {})).get("chat", {}).get("id"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        answer = [
            c
            for c in tg.calls[start:]
            if c.method in ("sendMessage", "editMessageText") and str(c.params.get("chat_id")) == chat
        ]
        if answer:
            await asyncio.sleep(0.2)  # the rest of the turn's messages
            return [
                c.params.get("text")
                for c in tg.calls[start:]
                if c.method in ("sendMessage", "editMessageText") and str(c.params.get("chat_id")) == chat
            ]
    raise AssertionError(f"the bot did not answer {update}")


async def _bot_result(tg: FakeTelegram, user: TestUser, url: str, headers: dict[str, str]) -> list:
    """One applicant to the summary, then «Ver mi resultado»: what the bot answered to that last press. A new
    connection per update, as Telegram opens them: the kernel hands each to either bot worker (SO_REUSEPORT)."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        for kind, what in _dialog():
            await _say(tg, http, url, headers, user.text(what) if kind == "text" else user.press(what))
        return await _say(tg, http, url, headers, user.press("Ver mi resultado"))


def _stored_versions(db_url: str) -> list[str]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(Assessment.model_version).order_by(Assessment.created_at)).scalars())
    finally:
        engine.dispose()


async def test_a_promotion_reaches_every_process_and_a_broken_model_is_refused(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'asesor.sqlite3'}"
    migrate(db_url)
    models = tmp_path / "models"
    env = service_env(
        db_url,
        TEST_REDIS_URL,
        tmp_path,
        ASESOR_MODEL_DIR=str(models),
        ASESOR_MODEL_WATCH_SECONDS="0.2",
        ASESOR_WEBHOOK_SECRET="promotion-webhook-secret-0123456789abcdef",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"),  # as production runs several workers (compose)
    )
    create_staff(db_url, "analista", "analyst", tmp_path)

    # an empty registry: the first assessment bootstraps it (one promotion line)
    v0 = _assess_version(env)
    # the bank's outcomes through the ETL, and a model trained on them: a new version, not in service
    code, _, err = _cli(env, "etl", "load", str(GERMAN_CREDIT_CSV), "--source", "german", "--url", db_url)
    assert code == 0, err
    code, trained, err = _cli(env, "train", "applicant", "--from-db", "--url", db_url)
    assert code == 0, err
    v1 = trained["model_version"]
    assert v1 != v0 and trained["in_service"] == v0 and "train promote" in trained["to_promote"]
    assert _assess_version(env) == v0  # training changed nothing in service

    tg = FakeTelegram(bot_id=int.from_bytes(os.urandom(3), "big") + 10_000_000)
    await tg.start()
    bot = BotProcess(env, tmp_path / "bot.log", tg, log_level="INFO", workers=2)
    await bot.start()
    api = ApiProcess(env, tmp_path / "api.log", workers=2)  # `asesor api serve --workers 2`: one port, two workers
    apis = [api]
    try:
        await asyncio.to_thread(api.start)
        # /healthz answers once one worker is up: wait for both to have loaded the model in service
        started = await asyncio.to_thread(_wait_pids, api.log_path, _IN_SERVICE, (v0,), 2, 300)
        bot_started = await asyncio.to_thread(_wait_pids, tmp_path / "bot.log", _IN_SERVICE, (v0,), 2, 300)
        hook = bot.webhook_url
        headers = {"X-Telegram-Bot-Api-Secret-Token": await bot.ready()}
        await asyncio.to_thread(_every_answer, api, v0, 6)
        before = len(_stored_versions(db_url))
        answer = await _bot_result(tg, TestUser(tg, 770_001), hook, headers)
        assert any("Tu resultado" in (t or "") for t in answer), answer
        assert _stored_versions(db_url)[before:] == [v0]

        # the promotion: the only thing that moves `current`; the running processes follow without a restart
        code, record, err = _cli(
            env, "train", "promote", v1, "--name", NAME, "--reason", "datos del banco", "--by", "analista"
        )
        assert code == 0, err
        assert (record["from"], record["to"], record["by"], record["reason"]) == (v0, v1, "analista", "datos del banco")
        t0 = time.monotonic()
        switched = await asyncio.to_thread(_wait_pids, api.log_path, _SWITCHED, (v0, v1), 2, 20)
        print(f"both API workers serve the promoted {v1} {time.monotonic() - t0:.2f} s after the promotion")
        assert switched == started  # the same two workers, switched in place (no restart)
        bot_switched = await asyncio.to_thread(_wait_pids, tmp_path / "bot.log", _SWITCHED, (v0, v1), 2, 20)
        assert bot_switched == bot_started and not bot_started & started  # both bot workers, the same ones
        await asyncio.to_thread(_every_answer, api, v1)
        assert _assess_version(env) == v1
        before = len(_stored_versions(db_url))
        for user in (770_002, 770_004):  # which worker runs the final press is the kernel's choice: two of them
            answer = await _bot_result(tg, TestUser(tg, user), hook, headers)
            assert any("Tu resultado" in (t or "") for t in answer), answer
        assert _stored_versions(db_url)[before:] == [v1, v1]  # the bot workers stored the version they used

        # a restart starts both new workers on what `current` names (no retraining on the shipped data)
        api.stop()
        await asyncio.to_thread(api.start)
        restarted = await asyncio.to_thread(_wait_pids, api.log_path, _IN_SERVICE, (v1,), 2, 300)
        assert not restarted & started  # new processes, each on the promoted version
        await asyncio.to_thread(_every_answer, api, v1, 6)

        # a broken artifact cannot be promoted: refused before `current` moves
        broken = models / NAME / "applicant-broken"
        broken.mkdir()
        (broken / "model.json").write_text('{"format": "asesor.applicant_pd", "model_version": "applicant-broken"}')
        code, _, err = _cli(env, "train", "promote", "applicant-broken", "--name", NAME, "--reason", "prueba")
        assert code == 2 and json.loads(err)["error"]["code"] == "model_unavailable", err
        assert "applicant-broken" in json.loads(err)["error"]["message"]
        assert (models / NAME / "current").read_text().strip() == v1

        # `current` edited by hand to a version that is not there: refused everywhere, naming it, never replaced
        (models / NAME / "current").write_text("applicant-missing\n")
        code, _, err = _cli(env, "assess", stdin=json.dumps(sample_profile()))
        error = json.loads(err)["error"]
        assert code == 3 and error["code"] == "model_unavailable" and error["version"] == "applicant-missing", err
        deadline = time.monotonic() + 20
        # several fresh connections a round: both workers refuse, not just the one that answered first
        while (got := [_api_version(api) for _ in range(6)]) and not all(g[0] == 503 for g in got):
            assert time.monotonic() < deadline, got
            await asyncio.sleep(0.2)
        for _status, (head, problem) in got:
            assert head["content-type"].startswith("application/problem+json")
            assert problem["type"] == "urn:asesor:unavailable:model" and "applicant-missing" in problem["detail"]
        answer = await _bot_result(tg, TestUser(tg, 770_003), hook, headers)
        assert texts.TEMPORARY_ERROR in answer, answer  # polite, in Spanish, the step kept for a retry
        assert (models / NAME / "current").read_text().strip() == "applicant-missing"  # nothing re-pointed it
        assert bot.running and all(a.proc is not None and a.proc.poll() is None for a in apis)
        assert any("applicant-missing" in line for line in api.log_lines())  # logged, naming it

        # set right again: every process serves it, still without a restart
        (models / NAME / "current").write_text(v1 + "\n")
        await asyncio.to_thread(_wait_versions, apis, v1)
        await asyncio.sleep(1.0)  # a watch interval (0.2 s) several times over: the other worker too
        await asyncio.to_thread(_every_answer, api, v1)
    finally:
        await bot.stop()
        for api in apis:
            api.stop()
        await tg.stop()

    lines = [json.loads(x) for x in (models / NAME / "promotions.jsonl").read_text().splitlines()]
    assert [(x["from"], x["to"]) for x in lines] == [(None, v0), (v0, v1)]  # the bootstrap, then the promotion
    assert lines[0]["reason"].startswith("bootstrap") and all(x["at"] and x["by"] for x in lines)
    # no process wrote anything into the registry besides the versions trained and the one broken on purpose
    assert sorted(p.name for p in (models / NAME).iterdir() if not p.name.startswith(".")) == sorted(
        ["current", "promotions.jsonl", v0, v1, "applicant-broken"]
    )
