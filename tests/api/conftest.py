"""Fixtures of the API tests: the app on a real database (SQLite and PostgreSQL, from tests/conftest.py),
users of each role with tokens, and the real engine (built once per test session); the app served over real
HTTP by uvicorn in a thread (`served`), and the handoff form's fields as an applicant fills them (`handoff_form`)."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from api.main import create_app
from api.security import Role, create_access_token
from core.config import Settings
from storage.events import EventSink, SpoolOutbox
from tests.samples import sample_profile

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

TEST_SECRET = "test-secret-key-for-api-tests"
PASSWORD = "contraseña-segura-123"

PROFILE: dict[str, Any] = sample_profile()


def make_settings(db_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "DATABASE_URL": db_url,
        "REDIS_URL": None,
        "ASESOR_JWT_SECRET": SecretStr(TEST_SECRET),
        "ASESOR_HANDOFF_SECRET": SecretStr(TEST_SECRET + "-handoff"),
        "ASESOR_DATA_DIR": data_dir,
        "API_PUBLIC_URL": "http://testserver",
        "ASESOR_HANDOFF_RATE_LIMIT": "1000/minute",
        "ASESOR_AUTH_CACHE_SECONDS": 0,  # tests change users between requests
    }
    values.update(overrides)
    return Settings(**values)


def shared_assessor() -> Any:
    """The engine with the default policy and model directory, built once per process (engine caches it)."""
    from tests.models import get_assessor

    return get_assessor()


@contextlib.contextmanager
def served(app: Any, port: int, **config: Any) -> Iterator[str]:
    """`app` on uvicorn in a daemon thread on 127.0.0.1:`port` (its lifespan runs; `config`: more of uvicorn's
    settings), up to 120 s to start; yields its URL and stops it on the way out."""
    settings: dict[str, Any] = {"log_level": "warning", "lifespan": "on", **config}
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **settings))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 120
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


class LiveServer:
    """An app served by uvicorn (`served`) with what the tests read besides HTTP."""

    def __init__(self, url: str, storage: Any, settings: Any, events: EventSink) -> None:
        self.url, self.storage, self.settings, self.events = url, storage, settings, events


@pytest.fixture
def chat_live(sqlite_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """The API with the web chat on the test Redis (a namespace of its own), the real engine and SQLite."""
    from storage.repositories import Storage
    from tests.conftest import TEST_FERNET_KEY, TEST_PSEUDONYM_KEY
    from tests.private_services import free_port

    storage = Storage(sqlite_url, pseudonym_key=TEST_PSEUDONYM_KEY, fernet_keys=TEST_FERNET_KEY, data_dir=tmp_path)
    port = free_port()
    settings = make_settings(
        sqlite_url, tmp_path, API_PUBLIC_URL=f"http://127.0.0.1:{port}", REDIS_URL=REDIS_URL,
        ASESOR_HANDOFF_REDIRECT_SECONDS=1,
    )  # fmt: skip
    events = EventSink(storage.engine, SpoolOutbox(tmp_path / "outbox", fsync=False), flush_interval=0.1)
    app = create_app(
        settings, storage=storage, event_sink=events, assessor_factory=shared_assessor, warm_engine=True,
        chat_namespace=f"asesor-test-{uuid.uuid4().hex[:8]}",
    )  # fmt: skip
    with served(app, port) as url:
        yield LiveServer(url, storage, settings, events)
    storage.dispose()


@pytest.fixture(scope="session")
def assessor() -> Any:
    return shared_assessor()


@pytest.fixture
def api_settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, tmp_path)


@pytest.fixture
def event_sink(storage: Any, tmp_path: Path) -> EventSink:
    return EventSink(storage.engine, SpoolOutbox(tmp_path / "outbox", fsync=False))


@pytest.fixture
def app(api_settings: Settings, storage: Any, event_sink: EventSink) -> Any:
    # the engine is loaded lazily: tests that never assess do not pay for it
    return create_app(api_settings, storage=storage, event_sink=event_sink, assessor_factory=shared_assessor)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@dataclass
class Staff:
    id: int
    username: str
    role: Role
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="session")
def password_hash() -> str:
    # argon2 is slow on purpose: hash the shared test password once per session
    from api.security import hash_password

    return hash_password(PASSWORD)


def _staff(storage: Any, settings: Settings, username: str, role: Role, password_hash: str) -> Staff:
    user = storage.create_user(username, password_hash=password_hash, role=role.value)
    token = create_access_token(settings, subject=str(user.id), role=user.role)
    return Staff(user.id, user.username, role, token)


@pytest.fixture
def staff(storage: Any, api_settings: Settings, password_hash: str) -> Iterator[dict[str, Staff]]:
    yield {
        name: _staff(storage, api_settings, username, role, password_hash)
        for name, username, role in (
            ("admin", "admin", Role.admin),
            ("advisor", "asesora", Role.advisor),
            ("advisor2", "asesor2", Role.advisor),
            ("analyst", "analista", Role.analyst),
        )
    }


def handoff_form(**overrides: str) -> dict[str, str]:
    """The handoff form's fields as an applicant fills them in (each may be overridden)."""
    return {
        "full_name": "Ana López Pérez",
        "phone": "55 1234 5678",
        "email": "ana@example.com",
        "vehicle_brand": "Nissan",
        "vehicle_model": "Versa",
        "vehicle_year": "2025",
        "vehicle_price": "350000",
        "term_months": "48",
        "bank": "bbva",
        "contact_consent": "on",
        **overrides,
    }


@dataclass
class Handoff:
    user_key: str
    assessment_id: str
    token: str
    result: Any

    @property
    def form_url(self) -> str:
        return f"/solicitud/{self.token}"


def make_handoff(
    storage: Any, settings: Settings, assessor: Any, telegram_id: int = 5_550_001, **profile: Any
) -> Handoff:
    """What the bot does before sending the link: applicant, profile, assessment, signed token."""
    from core.handoff import make_handoff_token
    from engine.types import AssessmentRequest

    key = storage.upsert_applicant(telegram_id=telegram_id, chat_id=telegram_id).user_key
    storage.save_profile(key, name="Ana López Pérez", phone="55 1234 5678", birth_year=1988)
    request = AssessmentRequest.model_validate({**PROFILE, **profile})
    result = assessor.assess(request)
    assessment_id = storage.save_assessment(result, user_key=key, request=request, channel="bot")
    return Handoff(key, assessment_id, make_handoff_token(key, assessment_id, settings=settings), result)


@pytest.fixture
def handoff(storage: Any, api_settings: Settings, assessor: Any) -> Handoff:
    return make_handoff(storage, api_settings, assessor)


def seed_funnel(storage: Any, assessor: Any) -> list[Any]:
    """Three applicants with funnel events and assessments (two profiles); returns the engine results."""
    import copy
    from datetime import UTC, datetime, timedelta

    from storage.events import FunnelEvent, insert_events

    strong = copy.deepcopy(PROFILE)
    weak = copy.deepcopy(PROFILE)
    weak["answers"].update(historial_crediticio="malo", atrasos_12_meses="varios_sin_regularizar")
    weak["answers"]["ingreso_mensual"] = "menos_15k_comprobado"
    now = datetime.now(UTC)
    events, results = [], []
    for i, (profile, reached) in enumerate([(strong, 4), (strong, 3), (weak, 2)]):
        key = storage.upsert_applicant(telegram_id=7_000 + i).user_key
        storage.save_profile(key, name=f"Persona {i}", phone="5511111111", birth_year=1988)
        names = ["BotStarted", "ConsentGiven", "ProfileCompleted", "HandoffOpened"][:reached]
        events += [FunnelEvent(name=n, user_key=key, occurred_at=now - timedelta(minutes=5)).to_row() for n in names]
        result = assessor.assess(profile)
        storage.save_assessment(result, user_key=key, request=profile)
        results.append(result)
    insert_events(storage.engine, events)
    return results


@dataclass
class Seeded:
    """What `seed_analytics` stored: engine results (in order), assessment ids and the outcomes file's rows."""

    results: list[Any]
    assessment_ids: list[str]
    outcomes: list[dict[str, Any]]


def seed_analytics(storage: Any, assessor: Any, tmp_path: Path, applicants: int = 36) -> Seeded:
    """Applicants of varied profiles through the whole dialog (timed events: question k answered 10 + k
    seconds after the previous step, the slowest applicants twice as slow), their assessments by the real
    engine, and the bank's outcome report of half of them loaded by the ETL (source asesor), over three
    origination months. Deterministic: the same data every run."""
    import copy
    from datetime import UTC, datetime, timedelta

    from engine.policy import QUESTIONS
    from storage.etl import load_file
    from storage.events import FunnelEvent, insert_events

    incomes = ["menos_15k_comprobado", "15k_20k", "20k_30k", "mas_30k"]
    payroll = ["bbva", "banorte", "otro"]
    down = ["menos_15", "minimo_15", "20_30", "35_mas"]
    history = ["excelente", "bueno", "regular", "malo"]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    events, results, ids, outcomes = [], [], [], []
    for i in range(applicants):
        profile = copy.deepcopy(PROFILE)
        profile["answers"].update(
            ingreso_mensual=incomes[i % 4],
            banco_nomina=payroll[i % 3],
            enganche=down[(i // 3) % 4],
            historial_crediticio=history[(i // 2) % 4],
        )
        key = storage.upsert_applicant(telegram_id=8_000 + i).user_key
        t = start + timedelta(minutes=7 * i)
        slow = 2 if i % 5 == 0 else 1
        steps: list[tuple[str, str | None]] = [("BotStarted", None), ("ConsentGiven", None), ("ProfileCompleted", None)]
        steps += [("QuestionAnswered", q) for q in QUESTIONS]
        steps += [("PerfilacionBancariaComplete", None), ("ResultShown", None)]
        if i % 2 == 0:
            steps.append(("HandoffOpened", None))
        reached = len(steps) if i % 9 else 6  # every ninth applicant stops after the third question
        for k, (name, step) in enumerate(steps[:reached]):
            t += timedelta(seconds=(10 + k) * slow)
            events.append(FunnelEvent(name=name, step=step, user_key=key, occurred_at=t).to_row())
        if reached < len(steps):
            continue
        result = assessor.assess(profile)
        ids.append(storage.save_assessment(result, user_key=key, request=profile))
        results.append(result)
    insert_events(storage.engine, events)
    months = ["2026-01-15", "2026-02-10", "2026-03-05"]
    for j, aid in enumerate(ids[::2]):
        outcomes.append(
            {
                "folio": f"AS-{j:04d}",
                "assessment_id": aid,
                "fecha_originacion": months[j % 3],
                "banco": "",
                "monto": 250000,
                "plazo_meses": 48,
                "incumplimiento": 1 if j % 4 == 1 else 0,
            }
        )
    path = tmp_path / "desempeno.csv"
    header = list(outcomes[0])
    path.write_text(
        ",".join(header) + "\n" + "".join(",".join(str(o[h]) for h in header) + "\n" for o in outcomes),
        encoding="utf-8",
    )
    load_file(storage.engine, path, "asesor", progress=False)
    return Seeded(results, ids, outcomes)
