"""Phone and money typed in the web chat are read by the same parsers as in Telegram (dialogs/parsing.py) and
stored in the same form; the Telegram side is tests/bot/test_happy_path.py ("350 mil", +525512345678) and
tests/bot/test_garbage.py, the web form's tests/api/test_handoff_pages.py."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from bot_harness import GOOD_ANSWERS, TEST_PSEUDONYM_KEY, label
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import select
from web_applicant import WebApplicant

from api.main import create_app
from core.config import Settings
from storage.events import EventSink, SpoolOutbox
from storage.models import Applicant, Assessment
from storage.repositories import Storage
from tests.models import get_assessor


async def test_the_web_chat_stores_phone_and_price_as_telegram_does(
    redis_url: str, sqlite_url: str, tmp_path: Path
) -> None:
    storage = Storage(
        sqlite_url, pseudonym_key=TEST_PSEUDONYM_KEY, fernet_keys=Fernet.generate_key().decode(), data_dir=tmp_path
    )
    settings = Settings(
        DATABASE_URL=sqlite_url, REDIS_URL=redis_url, ASESOR_SECRET_KEY=SecretStr("test-secret-web-chat"),
        ASESOR_DATA_DIR=tmp_path, API_PUBLIC_URL="http://testserver",
    )  # fmt: skip
    events = EventSink(storage.engine, SpoolOutbox(tmp_path / "api-outbox", fsync=False))
    app = create_app(
        settings,
        storage=storage,
        event_sink=events,
        assessor_factory=get_assessor,
        chat_namespace=f"asesor-test-{uuid.uuid4().hex[:8]}",
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        ana = WebApplicant(client)
        await ana.open()
        await ana.press("Acepto")
        await ana.say("Ana Torres")
        await ana.say("1990")
        assert "10 dígitos" in await ana.say("55 1234 56789")  # refused as Telegram refuses it
        await ana.say("+52 (55) 1234-5678")
        for q, code in GOOD_ANSWERS.items():
            await ana.press(label(q, code))
        await ana.press("Prefiero no decir")
        assert "No entendí la cantidad" in await ana.say("un montón")
        await ana.say("350 mil")
        await ana.press("48 meses")
        await ana.press("Ver mi resultado")
    with storage.read() as s:
        (key,) = s.scalars(select(Applicant.user_key)).all()
        (request,) = s.scalars(select(Assessment.request)).all()
    applicant = storage.get_applicant(key)
    assert applicant is not None and applicant.phone == "+525512345678"
    assert request is not None and request["loan"]["vehicle_price"] == 350_000
    events.stop()
    storage.dispose()
