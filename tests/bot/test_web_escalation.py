"""A case opened from the web chat reaches the advisors' Telegram chat and back: the web chat's process (the
API) opens it and mails the card to Telegram (storage/mailbox.py); the bot's process (either framework)
posts it; the advisor takes it and answers in its topic; the answer reaches the web chat's transcript; the
applicant's messages reach the topic; resolving ends the relay. One Redis, one database, the fake Bot API."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
from bot_harness import ADVISORS_CHAT, GOOD_ANSWERS, TEST_PSEUDONYM_KEY, build_harness, label
from cryptography.fernet import Fernet
from fake_telegram import TestUser
from pydantic import SecretStr
from web_applicant import WebApplicant

from api.main import create_app
from core.config import Settings
from dialogs.delivery import TELEGRAM
from storage.events import EventSink, SpoolOutbox
from storage.repositories import Storage
from tests.models import get_assessor


def _opened(storage: Storage, token: bytes | str) -> str:
    """What a Fernet token under the database's key holds; raises if the value is not sealed."""
    assert isinstance(token, bytes), token
    text = storage.cipher.decrypt(token)
    assert text is not None
    return text


async def _until(cond: Any, timeout: float = 20.0) -> Any:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        got = await cond()
        if got:
            return got
        assert loop.time() < end, "timed out"
        await asyncio.sleep(0.05)


async def test_a_web_case_is_worked_from_the_advisors_telegram_chat(
    redis_url: str, sqlite_url: str, tmp_path: Path, framework: str
) -> None:
    namespace = f"asesor-test-{uuid.uuid4().hex[:8]}"
    storage = Storage(
        sqlite_url, pseudonym_key=TEST_PSEUDONYM_KEY, fernet_keys=Fernet.generate_key().decode(), data_dir=tmp_path
    )  # one database and one key for both processes, as in a deployment
    h = await build_harness(
        redis_url=redis_url, db_url=sqlite_url, data_dir=tmp_path / "bot", framework=framework,
        namespace=namespace, storage=storage,
    )  # fmt: skip
    settings = Settings(
        DATABASE_URL=sqlite_url, REDIS_URL=redis_url, ASESOR_SECRET_KEY=SecretStr("test-secret-web-chat"),
        ASESOR_DATA_DIR=tmp_path, API_PUBLIC_URL="http://testserver",
    )  # fmt: skip
    events = EventSink(storage.engine, SpoolOutbox(tmp_path / "api-outbox", fsync=False))
    app = create_app(
        settings, storage=storage, event_sink=events, assessor_factory=get_assessor, chat_namespace=namespace
    )
    mail = asyncio.create_task(h.parts.mailbox.serve(TELEGRAM, h.app.courier.deliver))
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            ana = WebApplicant(client)
            await ana.open()
            await ana.press("Acepto")
            await ana.say("Ana Torres")
            await ana.say("1990")
            await ana.say("5598765432")
            for q, code in GOOD_ANSWERS.items():
                await ana.press(label(q, code))
            await ana.press("Prefiero no decir")
            await ana.say("300000")
            await ana.press("36 meses")
            await ana.press("Ver mi resultado")
            assert "un asesor revisará tu caso" in await ana.press("Hablar con un asesor")

            # the bot's process receives the card through the mailbox and posts it in a topic of its own
            async def card() -> Any:
                cards = [m for m in h.tg.bot_messages(ADVISORS_CHAT) if m.text and "Caso #" in m.text]
                return cards[0] if cards else None

            posted = await _until(card)
            assert "Ana Torres" in posted.text and "+525598765432" in posted.text and posted.thread_id
            assert "el cliente pidió un asesor" in posted.text

            beto = TestUser(h.tg, 9101, "Beto", chat_id=ADVISORS_CHAT)
            await h.feed(beto.press("Tomar", message_id=posted.message_id))
            assert "atendido por Beto" in h.tg.messages[ADVISORS_CHAT][posted.message_id].body
            assert "tomó tu caso" in await _until(ana.new_messages)
            await h.feed(beto.text("Hola Ana, ¿tienes un aval?", thread_id=posted.thread_id))
            assert "Tu asesor:</b> Hola Ana, ¿tienes un aval?" in await _until(ana.new_messages)

            assert "se envió al asesor" in await ana.say("Sí, mi hermano.")

            async def relayed() -> Any:
                msgs = [m for m in h.tg.bot_messages(ADVISORS_CHAT) if "Sí, mi hermano." in (m.text or "")]
                return msgs[0] if msgs else None

            assert (await _until(relayed)).thread_id == posted.thread_id

            await h.feed(beto.press("Resolver", message_id=posted.message_id))
            await h.feed(beto.press("Contactado", message_id=posted.message_id))  # how it ended (#14)
            assert "cerró la conversación" in await _until(ana.new_messages)
            n = len(h.tg.bot_messages(ADVISORS_CHAT))
            await ana.say("gracias")  # the relay is over: this is dialog input again
            await asyncio.sleep(0.3)
            assert len(h.tg.bot_messages(ADVISORS_CHAT)) == n
        # nothing personal is readable in Redis: every transcript entry ("<seq>:<token>") and mailbox message is a
        # Fernet token under the database's key, and the name and phone are inside those tokens. (Looking for
        # b"Ana" in the raw bytes would fail by chance: a random base64 token can contain those three letters.)
        opened: list[str] = []
        for key in await h.redis.keys(f"{namespace}:*"):
            kind = await h.redis.type(key)
            if kind == b"list":
                for item in await h.redis.lrange(key, 0, -1):
                    assert isinstance(item, bytes)
                    seq, _, token = item.partition(b":")
                    assert seq.isdigit()
                    opened.append(_opened(storage, token))
            elif kind == b"stream":
                entries = await h.redis.xrange(key)
                assert entries is not None
                for _, fields in entries:
                    assert fields is not None
                    opened.append(_opened(storage, fields[b"m"]))
        assert any("Ana Torres" in t for t in opened) and any("5598765432" in t for t in opened)
    finally:
        mail.cancel()
        await asyncio.gather(mail, return_exceptions=True)
        chat = app.state.web_chat
        await chat.close()
        await h.close()
        await h.tg.stop()
