"""Accessibility in Chromium: an axe-core scan (vendored, tests/api/vendor/axe.min.js) finds no violation on the
dashboard, the login page, the handoff form (also with its errors), the result page and /docs; field errors
are tied to their inputs; the result page's automatic move to the form can be paused (WCAG 2.2.1); nothing is
wider than a 390 px screen.

axe is injected into a page that bypasses its CSP (the scan is ours, not the page's); the pages themselves
keep their headers in every other test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.api import test_browser
from tests.api.conftest import PASSWORD, LiveServer, make_handoff, seed_analytics, shared_assessor
from tests.api.test_browser import OUTPUT

# the live server and Chromium of the browser tests, as fixtures of this module too
live = test_browser.live
browser = test_browser.browser

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
# WCAG 2.0/2.1/2.2 A and AA, and axe's best practices
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def _axe(page: Any, name: str) -> None:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS)
    found = [
        f"{v['id']} ({v['impact']}): {v['help']} — " + "; ".join(n["target"][0] for n in v["nodes"][:5])
        for v in result["violations"]
    ]
    assert found == [], f"{name}: " + "\n".join(found)


def _page(browser: Any, width: int = 1280) -> Any:
    context = browser.new_context(locale="es-MX", viewport={"width": width, "height": 900}, bypass_csp=True)
    return context.new_page()


def _fits(page: Any, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def _login(page: Any, live: LiveServer) -> None:
    page.goto(f"{live.url}/login?next=/dashboard")
    page.fill("#username", "analista")
    page.fill("#password", PASSWORD)
    page.click("#entrar")
    page.wait_for_url(f"{live.url}/dashboard")


def test_dashboard_and_login_have_no_axe_violations(
    live: LiveServer, browser: Any, password_hash: str, tmp_path: Path
) -> None:
    seed_analytics(live.storage, shared_assessor(), tmp_path)
    live.storage.create_user("analista", password_hash=password_hash, role="analyst")
    for width in (1280, 390):
        page = _page(browser, width)
        page.goto(f"{live.url}/login")
        _axe(page, f"login {width}")
        _fits(page, width)
        page.fill("#username", "analista")
        page.fill("#password", "equivocada-1")
        page.click("#entrar")
        # the error is tied to both fields and announced
        assert page.get_attribute("#username", "aria-invalid") == "true"
        assert page.get_attribute("#password", "aria-describedby") == "login-error"
        _axe(page, f"login with its error {width}")
        _login(page, live)
        page.eval_on_selector_all("details", "els => els.forEach(e => e.open = true)")  # the tables too
        _axe(page, f"dashboard {width}")
        _fits(page, width)
        page.screenshot(path=str(OUTPUT / f"dashboard-tablas-{width}.png"), full_page=True)


def test_handoff_pages_have_no_axe_violations_and_errors_point_at_their_fields(live: LiveServer, browser: Any) -> None:
    h = make_handoff(live.storage, live.settings, shared_assessor())
    page = _page(browser, 390)
    page.goto(f"{live.url}/solicitud/{h.token}")
    _axe(page, "handoff form")
    _fits(page, 390)
    page.fill("#phone", "12")
    page.click("#enviar")
    page.wait_for_selector("#errores")
    for field in ("vehicle_brand", "phone", "contact_consent"):
        assert page.get_attribute(f"#{field}", "aria-invalid") == "true", field
        described = page.get_attribute(f"#{field}", "aria-describedby")
        assert described == f"{field}-error" and page.inner_text(f"#{described}").strip(), field
    assert page.get_attribute("#email", "aria-invalid") is None  # a field without an error is not marked
    # the summary links to each field
    page.click("#errores a[href='#vehicle_brand']")
    assert page.evaluate("document.activeElement.id") == "vehicle_brand"
    _axe(page, "handoff form with its errors")
    _fits(page, 390)


@pytest.mark.parametrize("live", [{"ASESOR_HANDOFF_REDIRECT_SECONDS": 4}], indirect=True)
def test_result_page_redirect_can_be_paused_and_continued(live: LiveServer, browser: Any) -> None:
    """WCAG 2.2.1 (timing adjustable): the automatic move to the form has a pause/continue control."""
    h = make_handoff(live.storage, live.settings, shared_assessor())
    page = _page(browser, 390)
    page.clock.install()  # the page's timers on a controlled clock (time still flows unless moved on)
    page.goto(f"{live.url}/resultado/{h.token}")
    _axe(page, "result page")
    _fits(page, 390)
    toggle = page.locator("#pausar")
    assert toggle.inner_text().strip() == "Pausar" and toggle.get_attribute("aria-pressed") == "false"
    toggle.click()
    assert toggle.inner_text().strip() == "Continuar" and toggle.get_attribute("aria-pressed") == "true"
    assert "pausa" in page.inner_text("#cuenta-estado").lower()
    wait_ms = int((live.settings.handoff_redirect_seconds + 1.5) * 1000)
    page.clock.run_for(wait_ms)  # past the redirect, at once: every timer due meanwhile fires
    assert page.url == f"{live.url}/resultado/{h.token}"  # paused: still here
    _axe(page, "result page paused")
    toggle.click()
    page.clock.run_for(wait_ms)
    page.wait_for_url(f"{live.url}/solicitud/{h.token}", timeout=15_000)


def test_docs_have_no_axe_violations(live: LiveServer, browser: Any) -> None:
    page = _page(browser, 1280)
    page.goto(f"{live.url}/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    _axe(page, "/docs")
    page.locator(".opblock-summary").first.click()  # an operation opened
    _axe(page, "/docs with an operation open")
    small = _page(browser, 390)
    small.goto(f"{live.url}/docs")
    small.wait_for_selector(".opblock", timeout=20_000)
    _axe(small, "/docs 390")


@pytest.fixture(autouse=True)
def _output() -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
