"""The advisors' page in Chromium (Playwright) against the API under uvicorn, beside the bot (the harness, the
fake Bot API) on one Redis and one database: one case worked from each surface.

- from the page alone: log in, the queue, the case, *Tomar*, reply, the applicant's answer appearing without a
  reload, *Resolver* with an outcome, while the fake Bot API records what the applicant and the advisors' chat get;
- from Telegram: a claim and an answer in the advisors' chat appear on the open page without a reload (SSE);
- from the API: claim, message and resolve, seen by a page whose browser has no EventSource (polling);
- 390 px: nothing wider than the screen.

It writes what each side received (the fake Bot API's record and the page's text) for the three cases to
test-output/advisors/transcripts.md.
"""

from __future__ import annotations

import asyncio
import html
import random
import re
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bot"))

from advisors_harness import FAST_BACKOFF, PASSWORD, api_settings, until
from bot_harness import ADVISORS_CHAT, GOOD_ANSWERS, BotHarness, build_harness, run_to_summary
from fake_telegram import TestUser

from api.main import create_app
from api.security import hash_password
from dialogs.delivery import TELEGRAM, WEB
from storage.case_log import CaseLog
from tests.api.test_browser import CHROMIUM, CHROMIUM_ARGS

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "advisors"
LOW = {**GOOD_ANSWERS, "historial_crediticio": "malo", "atrasos_12_meses": "varios_sin_regularizar"}
REDIS = __import__("os").environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _plain(text: str | None) -> str:
    return html.unescape(re.sub(r"</?[a-z]+>", "", text or ""))


class World:
    def __init__(self, h: BotHarness, url: str, storage: Any) -> None:
        self.h, self.url, self.storage = h, url, storage
        self.log: list[str] = []
        self.since: dict[int, int] = {}

    async def until(self, cond: Any, timeout: float = 20.0) -> Any:
        return await until(cond, timeout)

    def all_sent(self, case_id: int) -> bool:
        return all(e.state == "delivered" for e in CaseLog(self.storage).entries(case_id) if e.author != "applicant")

    def card(self, case_id: int) -> Any:
        return next(m for m in self.h.tg.bot_messages(ADVISORS_CHAT) if m.text and f"Caso #{case_id}</b>" in m.text)

    async def open_case(self, user: TestUser, name: str) -> int:
        await run_to_summary(self.h, user, LOW, name=name, phone="5598765432")
        self.since[user.chat_id] = self.h.tg.new_message_id()  # the transcript starts at the result
        await self.h.feed(user.press("Ver mi resultado"))
        esc = self.storage.list_escalations(status="open")[-1]
        await self.until(lambda: any(f"Caso #{esc.id}</b>" in (m.text or "") for m in self.h.tg.bot_messages(
            ADVISORS_CHAT)))  # fmt: skip
        return int(esc.id)

    def transcript(self, title: str, case_id: int, user: TestUser, page_text: str) -> None:
        """What each side received, from the fake Bot API's record and the page's text."""
        card = self.card(case_id)
        out = [f"## {title} (caso #{case_id})", "", "### Lo que recibió el cliente (Telegram, registro del Bot API)"]
        for m in self.h.tg.chat(user.chat_id):
            if m.message_id < self.since[user.chat_id]:
                continue
            who = "bot → cliente" if m.from_bot else "cliente → bot"
            out.append(f"- {who}: {_plain(m.text) if m.text else '[' + m.kind + ']'}")
        out += ["", "### Chat de asesores (tarjeta: cada edición; mensajes del hilo del caso)"]
        posted = [c for c in self.h.tg.calls_of("sendMessage") if c.params.get("chat_id") == ADVISORS_CHAT
                  and not c.failed]  # fmt: skip
        edits = [
            c
            for c in self.h.tg.calls_of("editMessageText")
            if c.params.get("chat_id") == ADVISORS_CHAT and c.params.get("message_id") == card.message_id
        ]
        first = next(c for c in posted if f"Caso #{case_id}</b>" in c.params.get("text", ""))
        out.append("- tarjeta publicada: " + _plain(first.params["text"]).replace("\n", " ⏎ "))
        for c in edits:
            rows = (c.params.get("reply_markup") or {}).get("inline_keyboard", [])
            buttons = [b["text"] for row in rows for b in row]
            state = _plain(c.params["text"]).splitlines()[-1]
            out.append(f"- tarjeta editada: {state}" + (f" [botones: {', '.join(buttons)}]" if buttons else ""))
        for m in self.h.tg.chat(ADVISORS_CHAT):
            if m.thread_id == card.thread_id and m.message_id != card.message_id:
                who = "bot (relevo)" if m.from_bot else f"asesor {m.raw.get('from', {}).get('first_name', '')}"
                out.append(f"- {who}: {_plain(m.text) if m.text else '[' + m.kind + ']'}")
        out += ["", "### La página /asesores (texto del estado y la conversación)", "", "```", page_text.strip(),
                "```", ""]  # fmt: skip
        self.log.append("\n".join(out))


@pytest.fixture
async def world(sqlite_url: str, tmp_path: Path) -> AsyncIterator[World]:
    from cryptography.fernet import Fernet

    from storage.case_store import CaseDeskStore
    from storage.repositories import Storage
    from tests.api.conftest import shared_assessor

    bot_id = random.randint(10_000_000, 99_999_999)
    namespace = f"asesor-test-{bot_id}"
    storage = Storage(sqlite_url, pseudonym_key="test-pseudonym-key", fernet_keys=Fernet.generate_key().decode(),
                      data_dir=tmp_path)  # fmt: skip
    h = await build_harness(redis_url=REDIS, db_url=sqlite_url, data_dir=tmp_path, bot_id=bot_id, namespace=namespace,
                            storage=storage)  # fmt: skip
    store = h.parts.desk.store
    assert isinstance(store, CaseDeskStore)
    store.log.backoff = FAST_BACKOFF
    port = _free_port()
    settings = api_settings(sqlite_url, REDIS, tmp_path, API_PUBLIC_URL=f"http://127.0.0.1:{port}")
    app = create_app(settings, storage=storage, event_sink=h.sink, assessor_factory=shared_assessor,
                     warm_engine=True, chat_namespace=namespace)  # fmt: skip
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    end = time.monotonic() + 120
    while not server.started:
        assert time.monotonic() < end and thread.is_alive(), "uvicorn did not start"
        await asyncio.sleep(0.05)
    mail = asyncio.create_task(h.parts.mailbox.serve(TELEGRAM, h.app.courier.deliver))
    sweep = asyncio.create_task(h.parts.desk.serve_outbox(h.app.courier, (TELEGRAM, WEB), interval=0.05))
    w = World(h, f"http://127.0.0.1:{port}", storage)
    try:
        yield w
    finally:
        mail.cancel()
        sweep.cancel()
        await asyncio.wait([mail, sweep], timeout=10)
        server.should_exit = True
        await asyncio.to_thread(thread.join, 30)
        await h.close()
        await h.tg.stop()
        if w.log:
            OUTPUT.mkdir(parents=True, exist_ok=True)
            head = ("# Transcripts: one case worked from each advisors' surface\n\nGenerated by "
                    "tests/api/test_advisors_browser.py (fake Bot API record + the page's text).\n\n")  # fmt: skip
            (OUTPUT / "transcripts.md").write_text(head + "\n".join(w.log), encoding="utf-8")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test.sh does)")
    from playwright.async_api import async_playwright

    OUTPUT.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        await b.close()


def _watch(page: Any, origin: str) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {"foreign": [], "errors": []}
    page.on("request", lambda r: None if r.url.startswith((origin, "data:")) else seen["foreign"].append(r.url))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    return seen


async def _axe(page: Any, name: str) -> None:
    from tests.api.test_accessibility import AXE, TAGS

    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS)
    found = [
        f"{v['id']} ({v['impact']}): {v['help']} — " + "; ".join(n["target"][0] for n in v["nodes"][:5])
        for v in result["violations"]
    ]
    assert found == [], f"{name}: " + "\n".join(found)


async def _login(page: Any, url: str, username: str, target: str = "/asesores") -> None:
    await page.goto(f"{url}{target}")
    await page.wait_for_url(re.compile(r".*/login\?next=.*"))
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#entrar")
    await page.wait_for_url(f"{url}{target}")


async def test_one_case_from_each_surface(world: World, browser: Any) -> None:
    w, tg = world, world.h.tg
    w.storage.create_user("asesora.web", password_hash=hash_password(PASSWORD), role="advisor",
                          display_name="Asesora Web")  # fmt: skip
    context = await browser.new_context(locale="es-MX", viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    seen = _watch(page, w.url)
    await _login(page, w.url, "asesora.web")

    # ------------------------------------------------------------------ 1. worked from the page alone
    ana = TestUser(tg, 7801, "Ana")
    case_a = await w.open_case(ana, "Ana Torres")
    # the open queue shows the new case without a reload (the case was opened by the bot's process)
    await page.wait_for_selector(f"#caso-{case_a}", timeout=15_000)
    assert await page.get_attribute("#vivo", "data-modo") == "eventos"
    await page.click(f"#caso-{case_a} a.caso")
    await page.wait_for_url(f"{w.url}/asesores/casos/{case_a}")
    assert "K1" in await page.inner_text("#reglas") and "«Malo»" in await page.inner_text("#eliminatorias")
    assert await page.locator("#que-pasaria").count() == 1
    await page.click("#tomar")
    await page.wait_for_selector("#aviso")
    assert "Caso tomado" in await page.inner_text("#aviso")
    assert await page.evaluate("document.activeElement.id") == "aviso"  # the notice takes the focus
    card_a = w.card(case_a)
    await w.until(lambda: "atendido por Asesora Web" in tg.messages[ADVISORS_CHAT][card_a.message_id].body)
    await w.until(lambda: "tomó tu caso" in (tg.last_bot_message(ana.chat_id).text or ""))

    await page.fill("#texto", "Hola Ana, soy tu asesora. ¿Tienes un aval?")
    await page.click("#enviar")
    await page.wait_for_selector("#aviso")
    sent = "💬 <b>Tu asesor:</b> Hola Ana, soy tu asesora. ¿Tienes un aval?"
    await w.until(lambda: tg.last_bot_message(ana.chat_id).text == sent)
    # the delivery state on the open page turns to «entregado» by itself
    advisor_msg = page.locator("#conversacion li[data-autor='advisor']").last
    await advisor_msg.locator(".entrega[data-estado='delivered']").wait_for(timeout=15_000)
    # the applicant answers on Telegram: it appears on the open page without a reload
    await w.h.feed(ana.text("Sí, mi hermano puede ser aval."))
    await page.locator("#conversacion li[data-autor='applicant']", has_text="mi hermano").wait_for(timeout=15_000)
    await page.set_viewport_size({"width": 390, "height": 844})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await page.screenshot(path=str(OUTPUT / "caso-390px.png"), full_page=True)
    await page.set_viewport_size({"width": 1200, "height": 900})
    await page.select_option("#resultado-select", "solicitud_enviada")
    await page.fill("#nota-cierre", "Enviamos solicitud a Banregio con aval.")
    await page.click("#resolver")
    await page.wait_for_selector("#aviso")
    assert "resuelto" in await page.inner_text("#estado")
    await w.until(lambda: "cerró la conversación" in (tg.last_bot_message(ana.chat_id).text or ""))
    card = tg.messages[ADVISORS_CHAT][w.card(case_a).message_id]
    assert "resuelto</b> por Asesora Web — solicitud enviada" in card.body and card.buttons() == []
    await w.until(lambda: w.all_sent(case_a))
    await page.reload()
    await page.screenshot(path=str(OUTPUT / "caso-pagina.png"), full_page=True)
    # the applicant's message, read back from storage, is in the page as it is in the advisors' chat
    assert "mi hermano puede ser aval" in await page.inner_text("#conversacion")
    text = await page.inner_text("#estado") + "\n" + await page.inner_text("#conversacion")
    w.transcript("Desde la página /asesores", case_a, ana, text)

    # ------------------------------------------------------------- 2. worked from the Telegram chat
    bea = TestUser(tg, 7802, "Bea")
    case_b = await w.open_case(bea, "Bea Ruiz")
    await page.goto(f"{w.url}/asesores/casos/{case_b}")
    assert "abierto" in await page.inner_text("#estado")
    beto = TestUser(tg, 9301, "Beto", chat_id=ADVISORS_CHAT)
    card_b = w.card(case_b)
    await w.h.feed(beto.press("Tomar", message_id=card_b.message_id))
    # the claim on Telegram appears on the open page without a reload
    await page.locator("#estado", has_text="lo atiende Beto").wait_for(timeout=15_000)
    assert await page.locator("#tomar").count() == 0 and "solo esa persona" in await page.inner_text("#acciones")
    await w.h.feed(beto.text("Hola Bea, te ayudo con otra opción.", thread_id=card_b.thread_id))
    await page.locator("#conversacion li[data-autor='advisor']", has_text="otra opción").wait_for(timeout=15_000)
    await w.h.feed(bea.text("¡Gracias!"))
    await page.locator("#conversacion li[data-autor='applicant']", has_text="Gracias").wait_for(timeout=15_000)
    await w.h.feed(beto.press("Resolver", message_id=card_b.message_id))
    await w.h.feed(beto.press("Contactado", message_id=card_b.message_id))
    await page.locator("#estado", has_text="resuelto").wait_for(timeout=15_000)
    assert "Contactado" in await page.inner_text("#estado")
    await w.until(lambda: w.all_sent(case_b))
    await page.reload()
    text = await page.inner_text("#estado") + "\n" + await page.inner_text("#conversacion")
    w.transcript("Desde el chat de asesores en Telegram", case_b, bea, text)

    # ------------------------------------------------- 3. worked through the API, seen by a polling page
    polling = await browser.new_context(locale="es-MX", viewport={"width": 390, "height": 844})
    await polling.add_init_script("delete window.EventSource;")  # a browser without server-sent events
    queue = await polling.new_page()
    seen_polling = _watch(queue, w.url)
    await _login(queue, w.url, "asesora.web")
    assert await queue.get_attribute("#vivo", "data-modo") == "consulta"
    w.storage.create_user("asesor.api", password_hash=hash_password(PASSWORD), role="advisor",
                          display_name="Asesor API")  # fmt: skip
    async with httpx.AsyncClient(base_url=w.url) as api:
        token = (await api.post("/v1/auth/token", data={"username": "asesor.api", "password": PASSWORD})).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        caro = TestUser(tg, 7803, "Caro")
        case_c = await w.open_case(caro, "Caro Díaz")
        await queue.wait_for_selector(f"#caso-{case_c}", timeout=15_000)  # polled in, no reload
        assert (await api.post(f"/v1/escalations/{case_c}/claim", headers=auth)).status_code == 200
        await queue.locator(f"#caso-{case_c}").wait_for(state="detached", timeout=15_000)  # left «Abiertos»
        r = await api.post(f"/v1/escalations/{case_c}/messages", json={"text": "Hola Caro, revisé tu caso."},
                           headers={**auth, "Idempotency-Key": "c1"})  # fmt: skip
        assert r.status_code == 201
        await w.until(lambda: "revisé tu caso" in (tg.last_bot_message(caro.chat_id).text or ""))
        await w.h.feed(caro.text("Perfecto, gracias."))
        r = await api.post(f"/v1/escalations/{case_c}/resolve", json={"outcome": "no_interesado"}, headers=auth)
        assert r.status_code == 200
        await w.until(lambda: "cerró la conversación" in (tg.last_bot_message(caro.chat_id).text or ""))
        await w.until(lambda: w.all_sent(case_c))
    await queue.goto(f"{w.url}/asesores/casos/{case_c}")
    assert await queue.evaluate("document.documentElement.scrollWidth") <= 390
    text = await queue.inner_text("#estado") + "\n" + await queue.inner_text("#conversacion")
    w.transcript("Desde la API /v1/escalations", case_c, caro, text)
    await queue.goto(f"{w.url}/asesores?vista=resueltos")
    await queue.screenshot(path=str(OUTPUT / "cola-resueltos-390px.png"), full_page=True)
    assert await queue.evaluate("document.documentElement.scrollWidth") <= 390
    # the queue's rows are not squeezed into a column of words at 390 px
    assert await queue.evaluate(f"document.querySelector('#caso-{case_a} div').offsetWidth") > 250
    for case_id in (case_a, case_b, case_c):
        assert await queue.locator(f"#caso-{case_id}").count() == 1

    # axe-core (vendored by the accessibility tests) finds no violation on the queue and on a case (open and
    # resolved), at 1280 and 390 px; axe is injected into a context that bypasses the page's CSP
    scan = await browser.new_context(locale="es-MX", viewport={"width": 1280, "height": 900}, bypass_csp=True)
    axe_page = await scan.new_page()
    await _login(axe_page, w.url, "asesora.web")
    dave = TestUser(tg, 7804, "Dave")
    case_d = await w.open_case(dave, "Dave Pérez")
    for width in (1280, 390):
        await axe_page.set_viewport_size({"width": width, "height": 900})
        for path in ("/asesores", f"/asesores/casos/{case_d}", f"/asesores/casos/{case_a}"):
            await axe_page.goto(f"{w.url}{path}")
            await _axe(axe_page, f"{path} at {width} px")

    assert seen["foreign"] == [] and seen["errors"] == [] and seen_polling["errors"] == []
    names = [n for n, _, _ in w.h.events()]
    assert names.count("EscalationCreated") == 4 and names.count("EscalationResolved") == 3
