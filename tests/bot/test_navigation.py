"""Back, edit from the summary, restart, cancel, help, resume (also after a day), stale buttons, consent
refusal, erasure and versioned state."""

from __future__ import annotations

import asyncio

from bot_harness import GOOD_ANSWERS, BotHarness, label, run_to_summary, step_of
from fake_telegram import TestUser

from dialogs import texts
from dialogs.state import DIALOG_VERSION, ORDER


async def _to_question(h: BotHarness, user: TestUser, k: int) -> None:
    """Consent + profile + the first k-1 questions."""
    await h.feed(user.text("/start"))
    await h.feed(user.press("Acepto"))
    await h.feed(user.text("Luis Pérez"))
    await h.feed(user.text("1985"))
    await h.feed(user.press("Prefiero no darlo"))
    for q, code in list(GOOD_ANSWERS.items())[: k - 1]:
        await h.feed(user.press(label(q, code)))


async def test_back_walks_every_step_in_reverse(harness: BotHarness) -> None:
    h = harness
    u = TestUser(h.tg, 7101)
    await run_to_summary(h, u)
    assert await step_of(h, u.chat_id) == "summary"
    # from the summary back to the first profile question, one step at a time, then forward again
    expected = list(ORDER[ORDER.index("summary") - 1 : 0 : -1])
    for want in expected:
        await h.feed(u.press("Atrás"))
        assert await step_of(h, u.chat_id) == want
    await h.feed(u.press("Atrás"))  # from the name back to the privacy notice
    assert await step_of(h, u.chat_id) == "consent"
    assert "Aviso de privacidad" in h.tg.last_bot_message(u.chat_id).body
    await h.feed(u.press("Acepto"))
    assert await step_of(h, u.chat_id) == "name"
    dialog = await h.dialog(u.chat_id)
    assert dialog is not None
    assert dialog["answers"] == GOOD_ANSWERS  # going back loses nothing


async def test_edit_from_summary_returns_to_summary(harness: BotHarness) -> None:
    h = harness
    u = TestUser(h.tg, 7102)
    await run_to_summary(h, u)
    await h.feed(u.press("Enganche"))
    msg = h.tg.last_bot_message(u.chat_id)
    assert "Cambiar: Enganche" in msg.body and "Tu respuesta actual" in msg.body
    await h.feed(u.press(label("enganche", "menos_15")))
    summary = h.tg.last_bot_message(u.chat_id).body
    assert "Revisa tus respuestas" in summary and label("enganche", "menos_15") in summary
    await h.feed(u.press("Precio del auto"))
    await h.feed(u.text("abc"))  # garbage while editing: re-prompt, still editing
    assert await step_of(h, u.chat_id) == "vehicle_price"
    await h.feed(u.text("420,000"))
    assert "$420,000" in h.tg.last_bot_message(u.chat_id).body
    # back while editing: to the summary, the value untouched
    await h.feed(u.press("Nombre"))
    await h.feed(u.press("Atrás"))
    assert await step_of(h, u.chat_id) == "summary"
    dialog = await h.dialog(u.chat_id)
    assert dialog is not None
    assert dialog["name"] == "María López"
    await h.feed(u.press("Ver mi resultado"))
    assert "Tu resultado" in h.tg.last_bot_message(u.chat_id).body


async def test_restart_cancel_help_privacy(harness: BotHarness) -> None:
    h = harness
    u = TestUser(h.tg, 7103)
    await _to_question(h, u, 4)
    assert await step_of(h, u.chat_id) == "q:creditos_vigentes"
    for cmd, marker in (("/ayuda", "Comandos"), ("/privacidad", "ARCO")):
        await h.feed(u.text(cmd))
        texts = [m.body for m in h.tg.bot_messages(u.chat_id)[-2:]]
        assert marker in texts[0] and "Pregunta 4 de 8" in texts[1]
        assert await step_of(h, u.chat_id) == "q:creditos_vigentes"
    await h.feed(u.text("/reiniciar"))
    assert "Pregunta 1 de 8" in h.tg.last_bot_message(u.chat_id).body
    dialog = await h.dialog(u.chat_id)
    assert dialog is not None
    assert dialog["answers"] == {}
    await h.feed(u.text("/cancelar"))
    assert await h.dialog(u.chat_id) is None
    assert "terminé la conversación" in h.tg.last_bot_message(u.chat_id).body
    await h.feed(u.text("/start"))
    assert await step_of(h, u.chat_id) == "consent"


async def test_start_mid_dialog_offers_resume_or_restart(harness: BotHarness) -> None:
    h = harness
    u = TestUser(h.tg, 7104)
    await _to_question(h, u, 6)
    await h.feed(u.text("/start"))
    offer = h.tg.last_bot_message(u.chat_id).body
    assert "pregunta 6 de 8" in offer
    await h.feed(u.text("hola"))  # text instead of a choice: asked again
    assert "continuar" in h.tg.last_bot_message(u.chat_id).body.lower()
    await h.feed(u.press("Continuar"))
    assert "Pregunta 6 de 8" in h.tg.last_bot_message(u.chat_id).body
    await h.feed(u.text("/start"))
    await h.feed(u.press("Empezar de nuevo"))
    assert "Pregunta 1 de 8" in h.tg.last_bot_message(u.chat_id).body


async def test_stale_buttons_are_answered_not_applied(harness: BotHarness) -> None:
    h = harness
    u = TestUser(h.tg, 7105)
    await _to_question(h, u, 1)
    q1 = h.tg.last_bot_message(u.chat_id)
    old_button = next(b for b in q1.buttons() if b["text"] == label("trabajo_tiempo", "menos_6m"))
    await h.feed(u.press(label("trabajo_tiempo", "mas_2a")))  # answers q1: the message now shows q2
    await h.feed(u.text("/reiniciar"))
    before = await h.dialog(u.chat_id)
    n_calls = len(h.tg.calls)
    await h.feed(u.press_data(q1, old_button["callback_data"]))  # a button of a message edited since
    assert await h.dialog(u.chat_id) == before
    answers = [c for c in h.tg.calls[n_calls:] if c.method == "answerCallbackQuery"]
    assert answers and "anterior" in answers[0].params["text"]
    assert not [c for c in h.tg.calls[n_calls:] if c.method in ("sendMessage", "editMessageText")]
    # a button from a conversation that no longer exists: a sensible answer, never an error
    await h.feed(u.text("/cancelar"))
    await h.feed(u.press_data(q1, old_button["callback_data"]))
    assert "/start" in h.tg.last_bot_message(u.chat_id).body


async def test_no_consent_no_data(harness: BotHarness) -> None:
    h = harness
    u = TestUser(h.tg, 7106)
    await h.feed(u.text("/start"))
    await h.feed(u.press("No acepto"))
    assert "no guardamos ningún dato" in h.tg.last_bot_message(u.chat_id).body
    assert await h.dialog(u.chat_id) is None
    assert h.storage.get_applicant(h.storage.user_key(u.user_id)) is None
    assert [n for n, _, _ in h.events()] == ["BotStarted"]


async def test_borrar_mis_datos_deletes(harness: BotHarness) -> None:
    h = harness
    u = TestUser(h.tg, 7107)
    await run_to_summary(h, u)
    await h.feed(u.press("Ver mi resultado"))
    key = h.storage.user_key(u.user_id)
    assert h.storage.get_applicant(key) is not None
    assert h.parts.store._opened.cache_info().currsize > 0  # the sealed name, opened on every turn, is memoised
    await h.feed(u.text("/borrar_mis_datos"))
    assert h.parts.store._opened.cache_info().currsize == 0  # and nothing opened outlives the erasure
    reply = h.tg.last_bot_message(u.chat_id).text
    # the reply says what is deleted and what is kept, anonymised, as storage's erasure does it
    assert reply == texts.DELETED
    for deleted in ("nombre", "teléfono", "perfil bancario", "notas de los asesores", "datos de contacto"):
        assert deleted in reply.split("Conservamos")[0]
    for kept in ("evaluaciones", "respuestas a las 8 preguntas", "ingreso declarado", "solicitudes"):
        assert kept in reply.split("Conservamos")[1]
    assert h.storage.get_applicant(key) is None
    assert h.storage.get_bank_profile(key) is None
    assert h.storage.latest_assessment(key) is None  # unlinked from the person
    assert await h.dialog(u.chat_id) is None
    # and what it says is kept is kept: the assessment with the answers, under a tombstone key
    from sqlalchemy import select

    from storage.models import Assessment

    with h.storage.read() as s:
        rows = list(s.scalars(select(Assessment)))
    assert len(rows) == 1 and rows[0].user_key.startswith("erased-")
    assert rows[0].request["answers"] == GOOD_ANSWERS and rows[0].request["applicant"]["birth_year"] == 1988


async def test_resume_after_a_day_and_expiry_by_ttl(harness: BotHarness) -> None:
    h = harness
    u = TestUser(h.tg, 7108)
    await _to_question(h, u, 3)
    key = h.state_key(u.chat_id)
    ttl = await h.redis.pttl(key)
    assert ttl > 2 * 86_400_000  # the dialog outlives a day away
    # a day later: the key has a day less to live
    await h.redis.pexpire(key, ttl - 86_400_000)
    await h.feed(u.text("/start"))
    await h.feed(u.press("Continuar"))
    assert "Pregunta 3 de 8" in h.tg.last_bot_message(u.chat_id).body
    assert await h.redis.pttl(key) > ttl - 60_000  # activity renews the TTL
    # past the TTL the dialog is gone and /start begins afresh
    await h.redis.pexpire(key, 1)
    await asyncio.sleep(0.01)
    await h.feed(u.text("/start"))
    assert await step_of(h, u.chat_id) == "consent"


async def test_state_of_another_version_is_repaired_not_stranded(harness: BotHarness) -> None:
    h = harness
    u = TestUser(h.tg, 7109)
    await _to_question(h, u, 5)
    stored = await h.stored(u.chat_id)
    assert stored is not None
    old = dict(stored)
    # as a previous deploy might have left it: another version, a renamed step, an answer code since removed
    old.update(v=DIALOG_VERSION + 7, step="q:old_step_name")
    old["answers"] = {**old["answers"], "banco_nomina": "banco_desaparecido"}
    await h.set_dialog(u.chat_id, old)
    await h.feed(u.text("hola"))
    texts = [m.body for m in h.tg.bot_messages(u.chat_id)[-2:]]
    assert "Actualizamos el asistente" in texts[0]
    assert "Pregunta 2 de 8" in texts[1]  # banco_nomina became the first missing answer
    dialog = await h.dialog(u.chat_id)
    assert dialog is not None
    assert dialog["v"] == DIALOG_VERSION and dialog["name"] == "Luis Pérez"
    assert dialog["answers"]["trabajo_tiempo"] == GOOD_ANSWERS["trabajo_tiempo"]
