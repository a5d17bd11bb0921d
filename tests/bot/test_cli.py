"""`asesor bot` as a process: a clear error without BOT_TOKEN, and both modes against the fake Bot API
(polling through getUpdates; webhook registered with setWebhook and fed by POSTs with the secret header)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import aiohttp
from fake_telegram import FakeTelegram, TestUser

from bot.app import WEBHOOK_PATH, webhook_secret
from tests.models import default_model_dir, get_assessor

ASESOR = str(Path(sys.executable).with_name("asesor"))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_", "WEBHOOK_", "REDIS_URL"))}
    env.update(extra)
    return env


async def test_without_bot_token_says_what_is_missing(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        ASESOR, "bot", cwd=tmp_path, env=_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 3  # configuration
    payload = json.loads(err.decode())["error"]
    assert payload["field"] == "BOT_TOKEN" and "BotFather" in payload["message"]


async def test_workers_only_in_webhook_mode(tmp_path: Path) -> None:
    """getUpdates allows one reader per bot: several polling processes would fight over it."""
    env = _env(BOT_TOKEN="123456:" + "A" * 35)
    proc = await asyncio.create_subprocess_exec(
        ASESOR, "bot", "--workers", "2", cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2  # bad input
    payload = json.loads(err.decode())["error"]
    assert payload["field"] == "--workers" and "webhook" in payload["message"]


async def test_refused_token_is_exit_3_and_unreachable_api_exit_4_without_traceback(
    tmp_path: Path, redis_url: str, framework: str
) -> None:
    """The Bot API answering 401 (a wrong token) is configuration; no Bot API at all is a dependency down. Both
    fail before the engine loads, as one JSON line."""
    tg = FakeTelegram()
    await tg.start()
    closed = _free_port()
    try:
        for url, token, code, field in [
            (tg.base_url, "123456:" + "W" * 35, 3, "BOT_TOKEN"),
            (f"http://127.0.0.1:{closed}", tg.token, 4, "TELEGRAM_API_URL"),
        ]:
            env = _env(BOT_TOKEN=token, TELEGRAM_API_URL=url, REDIS_URL=redis_url, ASESOR_DATA_DIR=str(tmp_path))
            proc = await asyncio.create_subprocess_exec(
                ASESOR, "bot", "--framework", framework, cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _out, err = await asyncio.wait_for(proc.communicate(), 60)
            text = err.decode()
            assert proc.returncode == code, text
            assert "Traceback" not in text and token not in text
            errors = [json.loads(x)["error"] for x in text.splitlines() if x.startswith('{"error"')]
            assert len(errors) == 1 and errors[0]["field"] == field
            # and nothing else: python-telegram-bot left its aiohttp sessions open ("Unclosed client session")
            assert text.strip().splitlines() == [text.strip()], text
    finally:
        await tg.stop()


async def test_workers_report_a_refused_token_once_with_its_exit_code(
    tmp_path: Path, redis_url: str, framework: str
) -> None:
    """`asesor bot --workers 2` in webhook mode: each worker used to fail on its own (the JSON error twice, a log
    line) and the set exited 1; the supervisor checks the token once, exit 3 and one line."""
    tg = FakeTelegram()
    await tg.start()
    try:
        token = "123456:" + "W" * 35
        env = _env(
            BOT_TOKEN=token, TELEGRAM_API_URL=tg.base_url, REDIS_URL=redis_url, ASESOR_DATA_DIR=str(tmp_path),
            BOT_MODE="webhook", WEBHOOK_URL="https://bot.example",
        )  # fmt: skip
        proc = await asyncio.create_subprocess_exec(
            ASESOR, "bot", "--framework", framework, "--workers", "2", "--port", str(_free_port()), cwd=tmp_path,
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _out, err = await asyncio.wait_for(proc.communicate(), 120)
        text = err.decode().strip()
        assert proc.returncode == 3, text
        assert len(text.splitlines()) == 1 and json.loads(text)["error"]["field"] == "BOT_TOKEN", text
    finally:
        await tg.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_for(cond: Callable[[], object], timeout: float = 120.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        assert loop.time() < end, "timed out"
        await asyncio.sleep(0.05)


async def _run_bot(
    tmp_path: Path, tg: FakeTelegram, redis_url: str, framework: str, *args: str, **extra: str
) -> asyncio.subprocess.Process:
    get_assessor()  # make sure the model artifact exists, so the process does not train its own
    env = _env(
        BOT_TOKEN=tg.token,
        TELEGRAM_API_URL=tg.base_url,
        REDIS_URL=redis_url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        ASESOR_DATA_DIR=str(tmp_path),
        ASESOR_MODEL_DIR=str(default_model_dir()),
        ADVISORS_CHAT_ID="-1009",
        **extra,
    )
    return await asyncio.create_subprocess_exec(
        ASESOR,
        "bot",
        "--framework",
        framework,
        "--log-level",
        "WARNING",
        *args,
        cwd=tmp_path,
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )


async def _stop(proc: asyncio.subprocess.Process) -> float:
    """SIGINT (Ctrl-C) and wait for a clean exit; returns how long the shutdown took."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    return loop.time() - t0


async def test_polling_process_against_fake_server(tmp_path: Path, redis_url: str, framework: str) -> None:
    tg = FakeTelegram(bot_id=int.from_bytes(os.urandom(3), "big") + 10_000_000)
    await tg.start()
    proc = await _run_bot(tmp_path, tg, redis_url, framework)
    try:
        u = TestUser(tg, 7601)
        tg.push(u.text("/start"))
        await _wait_for(lambda: any("¿Aceptas" in (m.text or "") for m in tg.bot_messages(u.chat_id)))
        tg.push(u.press("Acepto"))
        await _wait_for(lambda: "¿Cómo te llamas" in (tg.bot_messages(u.chat_id)[-1].text or ""))
        assert tg.calls_of("deleteWebhook") and tg.calls_of("setMyCommands")
    finally:
        await _stop(proc)
        await tg.stop()
    assert proc.returncode is not None


async def test_webhook_mode_against_fake_server(tmp_path: Path, redis_url: str, framework: str) -> None:
    """The same `asesor bot` code in webhook mode, run in this process (a second process start would only
    repeat the import time the polling test already pays)."""
    from cli.bot import _main
    from core.config import Settings

    tg = FakeTelegram(bot_id=int.from_bytes(os.urandom(3), "big") + 10_000_000)
    await tg.start()
    get_assessor()
    port = _free_port()
    public = f"http://127.0.0.1:{port}"
    settings = Settings(
        BOT_TOKEN=tg.token,
        TELEGRAM_API_URL=tg.base_url,
        REDIS_URL=redis_url,
        BOT_MODE="webhook",
        WEBHOOK_URL=public,
        DATABASE_URL=f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        ASESOR_DATA_DIR=tmp_path,
        ASESOR_MODEL_DIR=default_model_dir(),
        ASESOR_WEBHOOK_SECRET="cli-test-secret",
        ASESOR_WEBHOOK_SECRET_PREVIOUS="cli-old-secret",  # a key rotation under way
    )
    task = asyncio.create_task(_main(settings, "webhook", "127.0.0.1", port, framework=framework))
    try:
        await _wait_for(lambda: tg.webhook is not None or task.done())
        assert tg.webhook == public + WEBHOOK_PATH
        secret = tg.calls_of("setWebhook")[-1].params["secret_token"]
        assert secret == webhook_secret("cli-test-secret", tg.bot_id)
        u = TestUser(tg, 7602)
        async with aiohttp.ClientSession() as http:
            await _wait_for_port(port)
            update = u.text("/start")
            for _ in range(2):  # the same update twice: answered once
                headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
                assert (await http.post(public + WEBHOOK_PATH, json=update, headers=headers)).status == 200
            headers = {"X-Telegram-Bot-Api-Secret-Token": "forged"}
            assert (await http.post(public + WEBHOOK_PATH, json=u.text("/start"), headers=headers)).status == 401
            # the previous key's secret is still accepted while the rotation rolls out; the new one is registered
            old = {"X-Telegram-Bot-Api-Secret-Token": webhook_secret("cli-old-secret", tg.bot_id)}
            late = TestUser(tg, 7603)
            assert (await http.post(public + WEBHOOK_PATH, json=late.text("/start"), headers=old)).status == 200
        await _wait_for(lambda: len(tg.bot_messages(u.chat_id)) >= 1)
        await asyncio.sleep(0.3)
        assert len(tg.bot_messages(u.chat_id)) == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await tg.stop()


def _last_text(tg: FakeTelegram, chat_id: int) -> str:
    messages = tg.bot_messages(chat_id)
    return (messages[-1].text or "") if messages else ""


def _shows(tg: FakeTelegram, chat_id: int, text: str) -> bool:
    return text in _last_text(tg, chat_id)


async def _wait_for_port(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise AssertionError("the webhook server did not start")


async def test_webhook_workers_share_the_port_and_redis(tmp_path: Path, redis_url: str, framework: str) -> None:
    """`--workers 2 --pin-cpus`: two processes on one port (SO_REUSEPORT) answer Telegram's webhook calls; a
    dialog goes on whichever process gets its next update; SIGINT stops both cleanly."""
    tg = FakeTelegram(bot_id=int.from_bytes(os.urandom(3), "big") + 10_000_000)
    await tg.start()
    port = _free_port()
    public = f"http://127.0.0.1:{port}"
    proc = await _run_bot(
        tmp_path, tg, redis_url, framework, "--mode", "webhook", "--workers", "2", "--pin-cpus", "--port", str(port),
        "--host", "127.0.0.1",
        WEBHOOK_URL=public, ASESOR_WEBHOOK_SECRET="cli-test-secret",
    )  # fmt: skip
    try:
        await _wait_for(lambda: len(tg.calls_of("setWebhook")) >= 2 or proc.returncode is not None)
        if proc.returncode is not None:
            assert proc.stderr is not None
            raise AssertionError((await proc.stderr.read()).decode()[-3000:])
        assert len(tg.calls_of("setWebhook")) == 2  # each worker is up
        workers = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        cpus = {Path(f"/proc/{pid}/status").read_text().split("Cpus_allowed_list:")[1].split()[0] for pid in workers}
        # the multiprocessing resource tracker is a child too; the two workers sit on distinct CPUs
        assert len([c for c in cpus if c.isdigit()]) == min(2, os.cpu_count() or 1)
        headers = {"X-Telegram-Bot-Api-Secret-Token": webhook_secret("cli-test-secret", tg.bot_id)}
        users = [TestUser(tg, 7700 + i) for i in range(6)]
        for step, answered in (("/start", "¿Aceptas"), ("Acepto", "¿Cómo te llamas")):
            for u in users:
                # a new connection per call, as Telegram's may be: the kernel picks the process
                async with aiohttp.ClientSession() as http:
                    update = u.text("/start") if step == "/start" else u.press("Acepto")
                    assert (await http.post(public + WEBHOOK_PATH, json=update, headers=headers)).status == 200
            for u in users:  # the webhook answers at once and handles the update after it
                await _wait_for(partial(_shows, tg, u.chat_id, answered))  # 120 s: a bound (CI, load 15)
    finally:
        took = await _stop(proc)
        await tg.stop()
    assert proc.returncode == 0 and took < 20
