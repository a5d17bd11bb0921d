"""One financing request per assessment, whatever the number of handoff links the bot sent for it (issue #13):
a unique index on financing_requests.assessment_id and an idempotent answer, over real HTTP (uvicorn) on SQLite
and PostgreSQL, two links submitted at the same moment included."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.main import create_app
from core.handoff import make_handoff_token
from storage.events import EventSink, SpoolOutbox
from storage.models import Event, FinancingRequest
from tests.api.conftest import Handoff, handoff_form, make_handoff, make_settings, served, shared_assessor
from tests.private_services import free_port

HTML = {"Accept": "text/html"}


class Live:
    def __init__(self, url: str, events: EventSink, settings: Any) -> None:
        self.url, self.events, self.settings = url, events, settings


@pytest.fixture
def live(storage: Any, db_url: str, tmp_path: Path) -> Iterator[Live]:
    port = free_port()
    settings = make_settings(db_url, tmp_path, API_PUBLIC_URL=f"http://127.0.0.1:{port}")
    events = EventSink(storage.engine, SpoolOutbox(tmp_path / "outbox", fsync=False), flush_interval=0.1)
    app = create_app(settings, storage=storage, event_sink=events, assessor_factory=shared_assessor)
    with served(app, port) as url:
        yield Live(url, events, settings)


def _links(storage: Any, settings: Any, n: int, telegram_id: int = 5_550_001) -> tuple[Handoff, list[str]]:
    """One assessment and n links for it, as the bot sends a new one each time the applicant asks."""
    first = make_handoff(storage, settings, shared_assessor(), telegram_id=telegram_id)
    tokens = [first.token] + [
        make_handoff_token(first.user_key, first.assessment_id, settings=settings) for _ in range(n - 1)
    ]
    assert len(set(tokens)) == n
    return first, tokens


def _stored(storage: Any, events: EventSink) -> tuple[list[FinancingRequest], list[str]]:
    events.flush()
    with storage.session() as s:
        requests = list(s.scalars(select(FinancingRequest)))
        submitted = list(s.scalars(select(Event.name).where(Event.name == "FinancingRequestSubmitted")))
    return requests, submitted


def test_a_second_link_shows_the_first_request(storage: Any, live: Live) -> None:
    _handoff, (first, second) = _links(storage, live.settings, 2)
    with httpx.Client(base_url=live.url, timeout=60, headers=HTML) as c:
        r = c.post(f"/solicitud/{first}", data=handoff_form(bank="banorte"))
        assert r.status_code == 303 and r.headers["location"] == f"/solicitud/{first}/confirmacion"
        (fr,), _ = _stored(storage, live.events)

        # the other link opens no new form: a polite page with the folio already given
        page = c.get(f"/solicitud/{second}")
        assert page.status_code == 409 and "ya fue enviada" in page.text and fr.folio in page.text
        assert "Traceback" not in page.text

        # and a submission through it (a tab opened earlier) stores nothing, it shows the same folio
        again = c.post(f"/solicitud/{second}", data=handoff_form(bank="bbva"), follow_redirects=True)
        assert again.status_code == 200 and fr.folio in again.text
        assert "Ya habíamos recibido esta solicitud" in again.text

        # an API client gets problem+json on the form, and the same redirect on a post
        api = c.get(f"/solicitud/{second}", headers={"Accept": "application/json"})
        assert api.status_code == 409 and api.headers["content-type"].startswith("application/problem+json")
        assert c.post(f"/solicitud/{second}", data=handoff_form(), headers={"Accept": "*/*"}).status_code == 303

    requests, submitted = _stored(storage, live.events)
    assert [(r.folio, r.bank) for r in requests] == [(fr.folio, "banorte")] and submitted == [
        "FinancingRequestSubmitted"
    ]


def test_two_links_submitted_at_once_store_one_request(storage: Any, live: Live) -> None:
    async def both(tokens: list[str]) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=live.url, timeout=60, headers=HTML) as c:
            for token in tokens:  # both forms open first, as two tabs would be
                assert (await c.get(f"/solicitud/{token}")).status_code == 200
            return await asyncio.gather(*(c.post(f"/solicitud/{t}", data=handoff_form()) for t in tokens))

    for n in range(1, 4):  # three applicants, each racing two links of one assessment
        handoff, tokens = _links(storage, live.settings, 2, telegram_id=5_560_000 + n)
        answers = asyncio.run(both(tokens))
        assert [r.status_code for r in answers] == [303, 303], [r.text[:300] for r in answers]
        requests, submitted = _stored(storage, live.events)
        (mine,) = [r for r in requests if r.assessment_id == handoff.assessment_id]
        assert len(requests) == n and len(submitted) == n
        with httpx.Client(base_url=live.url, timeout=60, headers=HTML) as c:
            for r in answers:  # each tab lands on the one folio
                done = c.get(r.headers["location"])
                assert done.status_code == 200 and mine.folio in done.text, done.text[:300]


def test_storage_keeps_one_request_per_assessment_under_races(storage: Any, api_settings: Any) -> None:
    handoff = make_handoff(storage, api_settings, shared_assessor())

    def create(i: int) -> tuple[str, bool]:
        fr, created = storage.create_financing_request(
            f"link-{i}", handoff.user_key, assessment_id=handoff.assessment_id, bank="bbva"
        )
        return fr.folio, created

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(create, range(8)))
    assert len({folio for folio, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    with storage.session() as s:
        assert len(list(s.scalars(select(FinancingRequest)))) == 1
