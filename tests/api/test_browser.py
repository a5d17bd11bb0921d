"""Real HTTP through uvicorn, and a real headless browser (Debian's chromium driven by Playwright).

- The bot's link opens the result page, which moves on to the form by itself (seed 002); the form is filled
  and submitted; the confirmation shows the folio that is in the database.
- An analyst logs in and the dashboard draws every tile with data from the database; each tile's table has
  the numbers the API returns; at 390 px nothing is wider than the screen (no request leaves the origin).
Screenshots go to test-output/api/ (gitignored).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.main import create_app
from storage.events import EventSink, SpoolOutbox
from storage.models import Event, FinancingRequest
from storage.repositories import Storage
from tests.api.conftest import (
    PASSWORD,
    LiveServer,
    make_handoff,
    make_settings,
    seed_analytics,
    served,
    shared_assessor,
)
from tests.private_services import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "api"


@pytest.fixture
def live(sqlite_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """The app served by uvicorn on a free port (its lifespan runs: engine warm-up, event flusher); settings
    overrides by indirect parametrisation."""
    from tests.conftest import TEST_FERNET_KEY, TEST_PSEUDONYM_KEY

    storage = Storage(sqlite_url, pseudonym_key=TEST_PSEUDONYM_KEY, fernet_keys=TEST_FERNET_KEY, data_dir=tmp_path)
    port = free_port()
    overrides = {"ASESOR_HANDOFF_REDIRECT_SECONDS": 1, **getattr(request, "param", {})}
    settings = make_settings(sqlite_url, tmp_path, API_PUBLIC_URL=f"http://127.0.0.1:{port}", **overrides)
    events = EventSink(storage.engine, SpoolOutbox(tmp_path / "outbox", fsync=False), flush_interval=0.1)
    app = create_app(settings, storage=storage, event_sink=events, assessor_factory=shared_assessor, warm_engine=True)
    with served(app, port) as url:
        yield LiveServer(url, storage, settings, events)
    storage.dispose()


@pytest.fixture
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test.sh does)")
    from playwright.sync_api import sync_playwright

    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _watch(page: Any, origin: str) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {"foreign": [], "errors": []}
    page.on("request", lambda r: None if r.url.startswith((origin, "data:")) else seen["foreign"].append(r.url))
    # console errors other than HTTP statuses we answer on purpose (422 form errors, 409 reused link, …)
    page.on(
        "console",
        lambda m: (
            seen["errors"].append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    return seen


def test_real_http_through_uvicorn(live: LiveServer) -> None:
    r = httpx.get(f"{live.url}/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = httpx.get(f"{live.url}/v1/escalations")
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")


def test_handoff_in_a_browser(live: LiveServer, browser: Any) -> None:
    h = make_handoff(live.storage, live.settings, shared_assessor())
    page = browser.new_page(locale="es-MX")
    seen = _watch(page, live.url)
    page.goto(f"{live.url}/resultado/{h.token}")
    assert "Banco recomendado" in page.inner_text("#recomendado")
    # the result page moves on to the form by itself (seed 002: automatic redirect after N seconds)
    page.wait_for_url(f"{live.url}/solicitud/{h.token}", timeout=15_000)
    assert page.input_value("#full_name") == "Ana López Pérez"
    assert page.input_value("#bank") == h.result.bank_fit.recommended

    page.click("#enviar")  # nothing filled in yet: Spanish messages, nothing stored
    page.wait_for_selector("#errores")
    assert "Escribe la marca del vehículo." in page.inner_text("#solicitud")

    page.fill("#email", "ana@example.com")
    page.fill("#vehicle_brand", "Mazda")
    page.fill("#vehicle_model", "CX-30")
    page.fill("#vehicle_year", "2025")
    page.select_option("#term_months", "60")
    page.check("#contact_consent")
    page.screenshot(path=str(OUTPUT / "solicitud-formulario.png"), full_page=True)
    page.click("#enviar")
    page.wait_for_selector("#confirmacion")
    folio = page.inner_text("#folio")
    page.screenshot(path=str(OUTPUT / "solicitud-confirmacion.png"), full_page=True)

    with live.storage.session() as s:
        fr = s.scalars(select(FinancingRequest)).one()
    assert fr.folio == folio and fr.term_months == 60 and fr.details["vehicle"]["model"] == "CX-30"
    # the same link later: a clear page with the folio, not a second form
    page.goto(f"{live.url}/solicitud/{h.token}")
    assert "ya fue enviada" in page.inner_text("#error") and folio in page.inner_text("#error")

    deadline = time.time() + 10  # the app's own flusher moves the events into the table
    names: list[str] = []
    while time.time() < deadline:
        with live.storage.session() as s:
            names = sorted(s.scalars(select(Event.name)))
        if len(names) == 2:
            break
        time.sleep(0.1)
    assert names == ["FinancingRequestSubmitted", "HandoffOpened"]
    assert seen["foreign"] == [] and seen["errors"] == []


CHARTS = [
    "g-embudo",
    "g-decisiones",
    "g-bancos",
    "g-pd",
    "g-perdida",
    "g-perfiles",
    "g-morosidad",
    "g-monitoreo",
    "g-estrategias",
]


def _table(page: Any, selector: str) -> list[list[str]]:
    """The cells of a data table (also while its <details> is closed)."""
    return page.eval_on_selector_all(
        f"{selector} tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))"
    )


def _num(text: str) -> float | None:
    text = text.replace(",", "").replace("%", "").replace("$", "").strip()
    return None if text in ("", "—") else float(text)


def _analyst_api(live: LiveServer) -> Any:
    r = httpx.post(f"{live.url}/v1/auth/token", data={"username": "analista", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return lambda path, **params: httpx.get(f"{live.url}{path}", params=params, headers=headers).json()


def test_dashboard_in_a_browser(live: LiveServer, browser: Any, password_hash: str, tmp_path: Path) -> None:
    seeded = seed_analytics(live.storage, shared_assessor(), tmp_path)
    live.storage.create_user("analista", password_hash=password_hash, role="analyst")
    page = browser.new_page(locale="es-MX", viewport={"width": 1280, "height": 900})
    seen = _watch(page, live.url)
    page.goto(f"{live.url}/dashboard")
    page.wait_for_url(f"{live.url}/login?next=/dashboard")
    page.fill("#username", "analista")
    page.fill("#password", "incorrecta-123")
    page.click("#entrar")
    assert "incorrectos" in page.inner_text("#login-error")
    page.fill("#username", "analista")
    page.fill("#password", PASSWORD)
    page.click("#entrar")
    page.wait_for_url(f"{live.url}/dashboard")
    for chart in CHARTS:
        assert page.locator(f"#{chart}[data-rendered='1']").count() == 1, chart
    assert page.inner_text("#kpi-evaluaciones") == str(len(seeded.results))
    api = _analyst_api(live)

    # the funnel: applicants, drop-off and time per step as the API gives them
    steps = api("/v1/analytics/funnel/steps")
    funnel = _table(page, "#t-embudo")
    assert [c[0] for c in funnel][:2] == ["Inicio en el bot", "Aceptó el aviso de privacidad"]
    assert [_num(c[1]) for c in funnel] == [r["users"] for r in steps]
    assert [_num(c[5]) for c in funnel] == [
        None if r["median_seconds"] is None else round(r["median_seconds"], 1) for r in steps
    ]
    assert "mediana 13 s · p90 26 s" in page.inner_text("#g-embudo")

    # delinquency: observed default rate and the predicted PD of the same loans, per cohort
    dq = api("/v1/analytics/delinquency")
    cohorts = _table(page, "#t-morosidad-cohortes")
    assert [c[0] for c in cohorts] == ["ene 2026", "feb 2026", "mar 2026", "Total"]
    for cells, row in zip(cohorts, [*dq["rows"], dq["total"]], strict=True):
        assert _num(cells[1]) == row["loans"] and _num(cells[2]) == row["defaults"]
        assert _num(cells[3]) == round(row["default_rate"] * 100, 1)
        assert _num(cells[6]) == round(row["predicted_pd"] * 100, 1)
    # drift: PSI per model input and for the score, as the API computes it, with its band
    psi = api("/v1/analytics/monitoring/psi")
    assert psi["status"] == "ok" and psi["assessments"] == len(seeded.results)
    shown = _table(page, "#t-monitoreo")
    assert [c[0] for c in shown] == [r["label_es"] for r in psi["rows"]]
    assert [_num(c[1]) for c in shown] == [None if r["psi"] is None else round(r["psi"], 3) for r in psi["rows"]]
    assert [c[2] for c in shown] == [r["label"] or "—" for r in psi["rows"]]
    assert "Cambio significativo en:" in page.inner_text("#monitoreo-resumen")

    # strategies: the ranked segments and their suggested action, as the API ranks them
    strat = api("/v1/analytics/strategies")["segments"][:15]
    shown = _table(page, "#t-estrategias")
    assert [_num(c[0]) for c in shown] == [s["rank"] for s in strat]
    assert [_num(c[4]) for c in shown] == [s["applicants"] for s in strat]
    assert [c[-1] for c in shown] == [s["suggestion"]["label"] for s in strat]

    page.select_option("#morosidad-morosidad", "income_band")
    page.click("#morosidad form.opcion button")
    page.wait_for_url("**morosidad=income_band**")
    by_income = api("/v1/analytics/delinquency", by="income_band")
    assert [_num(c[1]) for c in _table(page, "#t-morosidad-segmentos")] == [r["loans"] for r in by_income["rows"]]
    page.screenshot(path=str(OUTPUT / "dashboard.png"), full_page=True)

    # a phone: nothing wider than the screen, the labels still whole
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live.url}/dashboard")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(OUTPUT / "dashboard-390.png"), full_page=True)
    assert seen["foreign"] == [], seen["foreign"]
    assert seen["errors"] == [], seen["errors"]  # CSP violations and JS errors show up here


def test_dashboard_refuses_advisors(live: LiveServer, browser: Any, password_hash: str) -> None:
    live.storage.create_user("asesora", password_hash=password_hash, role="advisor")
    page = browser.new_page()
    page.goto(f"{live.url}/login?next=/dashboard")  # without `next` an advisor lands on /asesores
    page.fill("#username", "asesora")
    page.fill("#password", PASSWORD)
    page.click("#entrar")
    assert "Acceso denegado" in page.inner_text("h1")
    # the session cookie never authorises a state change: a POST carrying only the cookie is 401
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert "asesor_session" in cookies
    r = httpx.post(f"{live.url}/v1/escalations/claim-next", cookies=cookies)
    assert r.status_code == 401


def test_docs_render_the_openapi_schema_and_try_it_out_works(live: LiveServer, browser: Any) -> None:
    """/docs draws the OpenAPI 3.1 schema with the vendored Swagger UI 5 and runs a request (no CDN)."""
    page = browser.new_page(locale="es-MX", viewport={"width": 1280, "height": 900})
    seen = _watch(page, live.url)
    page.goto(f"{live.url}/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    assert "Unable to render" not in page.inner_text("body")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    schema = httpx.get(f"{live.url}/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    assert {p.replace("\u200b", "") for p in paths} == set(schema["paths"])  # every path, nothing else
    healthz = page.locator(".opblock-get", has=page.locator(".opblock-summary-path", has_text="/healthz")).first
    healthz.locator(".opblock-summary").click()
    healthz.locator("button.try-out__btn").click()
    healthz.locator("button.execute").click()
    response = healthz.locator(".live-responses-table .response")
    response.wait_for(timeout=10_000)
    assert response.locator(".response-col_status").inner_text().strip() == "200"
    assert '"status": "ok"' in response.locator(".response-col_description").inner_text()
    page.screenshot(path=str(OUTPUT / "docs.png"), full_page=False)
    assert seen["foreign"] == [], seen["foreign"]
    assert seen["errors"] == [], seen["errors"]
