"""The web chat (`/chat`) in Chromium (Playwright, Debian's chromium), over real HTTP through uvicorn, on the
real engine, SQLite and Redis: the whole dialog to the financing form, a bad answer, a reload, two tabs, a
390 px screen, and plain forms without JavaScript. Screenshots go to test-output/api/."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from engine.policy import default_policy
from storage.models import Escalation, FinancingRequest
from tests.api.conftest import LiveServer
from tests.api.test_browser import CHROMIUM, CHROMIUM_ARGS, OUTPUT, _watch
from tests.samples import strong_answers

POLICY = default_policy()
ANSWERS = strong_answers()  # in the dialog's order


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def last_bot(page: Any) -> Any:
    return page.locator("li.msg.bot").last


def until(cond: Any, timeout: float = 15.0) -> None:
    """Poll from here: the page's CSP (no eval) rules out Playwright's wait_for_function with an expression."""
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, "timed out"
        time.sleep(0.02)


def seq(page: Any) -> int:
    return int(page.locator("#log").get_attribute("data-seq"))


def press(page: Any, label: str) -> None:
    """Tap a current button (only the current screen's buttons are on the page)."""
    before = seq(page)
    page.locator("form.kb button", has_text=label).first.click()
    until(lambda: seq(page) > before)


def say(page: Any, text: str) -> None:
    before = seq(page)
    page.fill("#answer", text)
    page.click("#send")
    until(lambda: seq(page) > before)


def focused_text(page: Any) -> str:
    return page.evaluate("document.activeElement && document.activeElement.innerText || ''")


def label(question: str) -> str:
    return POLICY.answers[question][ANSWERS[question]]


def to_question(page: Any, k: int) -> None:
    """Consent, the profile, and the first k-1 questions."""
    press(page, "Acepto")
    say(page, "María López")
    say(page, "1988")
    say(page, "55 1234 5678")
    for q in list(ANSWERS)[: k - 1]:
        press(page, label(q))


def test_the_whole_dialog_to_the_financing_form(chat_live: LiveServer, browser: Any) -> None:
    page = browser.new_page(locale="es-MX", viewport={"width": 390, "height": 844})
    seen = _watch(page, chat_live.url)
    page.goto(f"{chat_live.url}/chat")
    assert "Aviso de privacidad" in last_bot(page).inner_text()
    assert page.locator("#log").get_attribute("aria-live") == "polite"
    assert page.locator("label[for=answer]").inner_text() == "Escribe tu respuesta"
    cookie = next(c for c in page.context.cookies() if c["name"] == "asesor_chat")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/chat"

    press(page, "Acepto")
    assert "¿Cómo te llamas?" in last_bot(page).inner_text()
    assert "Empecemos" in focused_text(page)  # focus moves to the first new message
    say(page, "María López")
    say(page, "1988")
    say(page, "55 1234 5678")
    for k, q in enumerate(ANSWERS, start=1):
        text = last_bot(page).inner_text()
        assert f"Pregunta {k} de 8" in text
        shown = page.locator("form.kb button").all_inner_texts()
        assert shown[:-1] == list(POLICY.answers[q].values()) and shown[-1] == "⬅️ Atrás"
        press(page, label(q))
    assert page.locator("form.kb").count() == 1  # only the current screen's buttons
    press(page, "Prefiero no decir")
    say(page, "abc")  # a bad answer: explained, and the same step again
    bot = page.locator("li.msg.bot").all_inner_texts()
    assert "No entendí la cantidad" in bot[-2] and "precio del auto" in bot[-1]
    say(page, "350 mil")
    press(page, "48 meses")
    assert "Revisa tus respuestas" in last_bot(page).inner_text()
    page.screenshot(path=str(OUTPUT / "chat-resumen-390.png"), full_page=True)
    # usable at 390 px: nothing wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    press(page, "Ver mi resultado")
    card = last_bot(page).inner_text()
    assert "Tu resultado" in card and "Banco recomendado" in card and "no una oferta" in card
    for action in ("Solicitar financiamiento", "Hablar con un asesor", "Editar respuestas", "Empezar de nuevo"):
        assert page.locator("form.kb button", has_text=action).count() == 1
    page.screenshot(path=str(OUTPUT / "chat-resultado-390.png"), full_page=True)

    press(page, "Solicitar financiamiento")
    link = page.locator("li.msg.bot").last.locator("a.button", has_text="Abrir solicitud")
    assert re.match(rf"{re.escape(chat_live.url)}/solicitud/[\w.-]+$", link.get_attribute("href"))
    link.click()
    page.wait_for_selector("#solicitud")
    assert page.input_value("#full_name") == "María López"
    page.fill("#vehicle_brand", "Mazda")
    page.fill("#vehicle_model", "CX-30")
    page.fill("#vehicle_year", str(time.gmtime().tm_year))
    page.check("#contact_consent")
    page.click("#enviar")
    page.wait_for_selector("#confirmacion")
    folio = page.inner_text("#folio")
    with chat_live.storage.read() as s:
        fr = s.scalars(select(FinancingRequest)).one()
    assert fr.folio == folio and fr.details["channel"] == "web"
    assert seen["foreign"] == [] and seen["errors"] == [], seen


def test_reload_resumes_and_two_tabs_stay_consistent(chat_live: LiveServer, browser: Any) -> None:
    context = browser.new_context(locale="es-MX")
    first = context.new_page()
    seen = _watch(first, chat_live.url)
    first.goto(f"{chat_live.url}/chat")
    to_question(first, 3)
    assert "Pregunta 3 de 8" in last_bot(first).inner_text()
    first.reload()  # the state is in Redis under the session cookie: the same step, its buttons
    assert "Pregunta 3 de 8" in last_bot(first).inner_text()
    assert first.locator("form.kb button", has_text=label("historial_crediticio")).count() == 1

    second = context.new_page()  # the same session in another tab
    second.goto(f"{chat_live.url}/chat")
    assert "Pregunta 3 de 8" in last_bot(second).inner_text()
    press(first, label("historial_crediticio"))
    assert "Pregunta 4 de 8" in last_bot(first).inner_text()
    # the other tab catches up by itself (it polls the transcript) and keeps only the current buttons
    until(lambda: "Pregunta 4 de 8" in last_bot(second).inner_text())
    assert second.locator("form.kb").count() == 1
    assert second.locator("form.kb button", has_text=label("creditos_vigentes")).count() == 1
    press(second, label("creditos_vigentes"))
    until(lambda: "Pregunta 5 de 8" in last_bot(first).inner_text())
    assert first.locator("form.kb button", has_text=label("atrasos_12_meses")).count() == 1
    assert seen["errors"] == [], seen


def test_stale_tab_and_plain_forms_without_javascript(chat_live: LiveServer, browser: Any) -> None:
    context = browser.new_context(locale="es-MX", java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{chat_live.url}/chat")
    page.get_by_role("button", name="✅ Acepto", exact=True).click()  # a plain post, then the page again
    page.wait_for_load_state()
    assert "¿Cómo te llamas?" in last_bot(page).inner_text()
    page.fill("#answer", "Luis Pérez")
    page.click("#send")
    page.wait_for_load_state()
    assert "¿En qué año naciste?" in last_bot(page).inner_text()
    # an old copy of the page (another tab left behind): its button is stale and changes nothing
    old = context.new_page()
    old.goto(f"{chat_live.url}/chat")
    page.fill("#answer", "1990")
    page.click("#send")
    page.wait_for_load_state()
    old.locator("form.kb button", has_text="Atrás").click()
    old.wait_for_load_state()
    assert "anterior" in last_bot(old).inner_text()
    assert "teléfono" in old.locator("li.msg.bot").nth(-2).inner_text()  # still the phone step


def test_talk_to_an_advisor_opens_a_case_in_the_queue(chat_live: LiveServer, browser: Any) -> None:
    page = browser.new_page(locale="es-MX")
    page.goto(f"{chat_live.url}/chat")
    to_question(page, 1)
    for q in ANSWERS:
        press(page, label(q))
    press(page, "Prefiero no decir")
    say(page, "350000")
    press(page, "48 meses")
    press(page, "Ver mi resultado")
    press(page, "Hablar con un asesor")
    assert "un asesor revisará tu caso" in last_bot(page).inner_text()
    with chat_live.storage.read() as s:
        cases = list(s.scalars(select(Escalation)))
    assert len(cases) == 1 and cases[0].reason == "applicant_request" and cases[0].status == "open"
