"""Escalation: the case reaches the advisors' chat, an advisor takes it, messages flow both ways through the
bot, only the taker may write or resolve, and resolving closes the relay."""

from __future__ import annotations

from pathlib import Path

from bot_harness import ADVISORS_CHAT, GOOD_ANSWERS, BotHarness, build_harness, run_to_summary
from fake_telegram import StoredMessage, TestUser

from storage.case_store import CaseDeskStore
from storage.models import Escalation

LOW = {
    **GOOD_ANSWERS,
    "historial_crediticio": "malo",  # every bank rejects: seed 002 case 1, low_score
    "atrasos_12_meses": "varios_sin_regularizar",
}


async def _card(h: BotHarness) -> StoredMessage:
    cards = [m for m in h.tg.bot_messages(ADVISORS_CHAT) if m.text and "Caso #" in m.text]
    assert len(cards) == 1, [m.text for m in h.tg.bot_messages(ADVISORS_CHAT)]
    return cards[0]


def _status(h: BotHarness, case_id: int) -> str:
    esc = h.storage.get_escalation(case_id)
    assert esc is not None, case_id
    return esc.status


async def test_low_score_escalates_and_relays_both_ways(harness: BotHarness) -> None:
    h = harness
    ana = TestUser(h.tg, 7501, "Ana")
    await run_to_summary(h, ana, LOW, name="Ana Torres", phone="5598765432")
    await h.feed(ana.press("Ver mi resultado"))
    card_text = [m.body for m in h.tg.bot_messages(ana.chat_id) if "Tu resultado" in (m.text or "")][-1]
    assert "Ningún banco es elegible" in card_text  # seed 002's warning
    assert "un asesor revisará tu caso" in h.tg.last_bot_message(ana.chat_id).body

    card = await _card(h)
    assert "Ana Torres" in card.body and "+525598765432" in card.body and "puntaje bajo" in card.body
    # the same explanation as the page, in short: the top fired rules and the knock-out answers
    assert "Reglas: K1 " in card.body and "Eliminatorias: historial crediticio «Malo»" in card.body
    # no bank is eligible: the closest is named as such, without a band beside the knock-outs
    assert "Resultado: ningún banco elegible · el más cercano <b>" in card.body and "Excelente" not in card.body
    assert "abierto" in card.body
    assert card.thread_id is not None  # one forum topic per case
    assert [b["text"] for b in card.buttons()] == ["🙋 Tomar", "✅ Resolver"]
    key = h.storage.user_key(ana.user_id)
    esc = h.storage.list_escalations(status="open")[0]
    assert esc.user_key == key and "low_score" in esc.reason

    # the applicant writes before anyone took the case: it already reaches the case's thread
    await h.feed(ana.text("¿Hay alguna opción para mí?"))
    assert "se envió al asesor" in h.tg.last_bot_message(ana.chat_id).body
    relayed = h.tg.bot_messages(ADVISORS_CHAT)[-1]
    assert relayed.thread_id == card.thread_id and "¿Hay alguna opción para mí?" in relayed.body

    # an advisor writing before taking it is told to take it first; nothing reaches the applicant
    beto = TestUser(h.tg, 9001, "Beto", chat_id=ADVISORS_CHAT)
    n_ana = len(h.tg.bot_messages(ana.chat_id))
    await h.feed(beto.text("Hola", thread_id=card.thread_id))
    assert "Tomar" in h.tg.last_bot_message(ADVISORS_CHAT).body
    assert len(h.tg.bot_messages(ana.chat_id)) == n_ana

    await h.feed(beto.press("Tomar", message_id=card.message_id))
    assert "atendido por Beto" in h.tg.messages[ADVISORS_CHAT][card.message_id].body
    assert "tomó tu caso" in h.tg.last_bot_message(ana.chat_id).body
    assert _status(h, esc.id) == "claimed"

    # advisor -> applicant
    await h.feed(beto.text("Hola Ana, con un aval podríamos intentarlo.", thread_id=card.thread_id))
    assert h.tg.last_bot_message(ana.chat_id).text == "💬 <b>Tu asesor:</b> Hola Ana, con un aval podríamos intentarlo."
    # applicant -> advisor, text and a photo
    await h.feed(ana.text("Sí, tengo un aval."))
    assert "Sí, tengo un aval." in h.tg.last_bot_message(ADVISORS_CHAT).body
    await h.feed(ana.photo())
    copy = h.tg.calls_of("copyMessage")[-1].params
    assert copy["chat_id"] == ADVISORS_CHAT and copy["message_thread_id"] == card.thread_id

    # another advisor can neither take, write nor resolve it
    caro = TestUser(h.tg, 9002, "Caro", chat_id=ADVISORS_CHAT)
    n_ana = len(h.tg.bot_messages(ana.chat_id))
    await h.feed(caro.text("yo lo atiendo", thread_id=card.thread_id))
    assert "lo atiende Beto" in h.tg.last_bot_message(ADVISORS_CHAT).body
    await h.feed(caro.press("Resolver", message_id=card.message_id))
    assert _status(h, esc.id) == "claimed"
    assert len(h.tg.bot_messages(ana.chat_id)) == n_ana

    # *Resolver* asks how it ended (the page's outcomes); *Volver* puts the card back as it was
    await h.feed(beto.press("Resolver", message_id=card.message_id))
    shown = h.tg.messages[ADVISORS_CHAT][card.message_id]
    assert [b["text"] for b in shown.buttons()] == [
        "Contactado", "Solicitud enviada", "No interesado", "Sin respuesta", "↩️ Volver"
    ]  # fmt: skip
    assert _status(h, esc.id) == "claimed"
    await h.feed(beto.press("Volver", message_id=card.message_id))
    assert [b["text"] for b in h.tg.messages[ADVISORS_CHAT][card.message_id].buttons()] == ["✅ Resolver"]
    await h.feed(beto.press("Resolver", message_id=card.message_id))
    outcome = beto.press("Contactado", message_id=card.message_id)
    await h.feed(outcome)
    resolved = h.storage.get_escalation(esc.id)
    assert resolved is not None
    assert resolved.status == "resolved" and resolved.outcome == "contactado"
    final = h.tg.messages[ADVISORS_CHAT][card.message_id]
    assert "resuelto</b> por Beto — contactado" in final.body and final.buttons() == []
    assert "cerró la conversación" in h.tg.last_bot_message(ana.chat_id).body
    # the same outcome tapped again (a second tap, a redelivery with a new update id) changes nothing
    await h.feed(beto.press_data(final, f"esc:out:{esc.id}:contactado"))
    assert "ya no está disponible" in h.tg.calls_of("answerCallbackQuery")[-1].params["text"]
    # after resolution the applicant's text is dialog input again, not relayed
    n_adv = len(h.tg.bot_messages(ADVISORS_CHAT))
    await h.feed(ana.text("gracias"))
    assert len(h.tg.bot_messages(ADVISORS_CHAT)) == n_adv
    names = [n for n, _, _ in h.events()]
    assert names.count("EscalationCreated") == 1 and names.count("EscalationResolved") == 1
    resolved_props = next(p for n, _, p in h.events() if n == "EscalationResolved")
    assert resolved_props == {"escalation_id": esc.id, "reason": esc.reason, "outcome": "contactado"}
    # the stored conversation has both sides and what the applicant was told, each delivered
    store = h.parts.desk.store
    assert isinstance(store, CaseDeskStore)
    entries = store.log.entries(esc.id)
    assert [(e.author, e.state) for e in entries] == [
        ("applicant", "received"), ("system", "delivered"), ("advisor", "delivered"), ("applicant", "received"),
        ("applicant", "received"), ("system", "delivered"),
    ]  # fmt: skip
    assert entries[2].text == "💬 <b>Tu asesor:</b> Hola Ana, con un aval podríamos intentarlo."


async def test_plain_group_relays_by_reply(redis_url: str, sqlite_url: str, tmp_path: Path) -> None:
    """Without forum topics the advisor answers by replying to the case card or a relayed message."""
    h = await build_harness(redis_url=redis_url, db_url=sqlite_url, data_dir=tmp_path, forum=False)
    try:
        ana = TestUser(h.tg, 7502)
        await run_to_summary(h, ana)
        await h.feed(ana.press("Ver mi resultado"))
        await h.feed(ana.press("Hablar con un asesor"))
        await h.feed(ana.press("Hablar con un asesor"))  # a second tap does not open a second case
        card = await _card(h)
        assert card.thread_id is None and "el cliente pidió un asesor" in card.body
        with h.storage.session() as s:
            assert s.query(Escalation).count() == 1
        beto = TestUser(h.tg, 9003, "Beto", chat_id=ADVISORS_CHAT)
        await h.feed(beto.press("Tomar", message_id=card.message_id))
        await h.feed(beto.text("¿En qué te ayudo?", reply_to=card.message_id))
        assert "¿En qué te ayudo?" in h.tg.last_bot_message(ana.chat_id).body
        await h.feed(ana.text("Quiero otra tasa"))
        relayed = h.tg.last_bot_message(ADVISORS_CHAT)
        assert "Quiero otra tasa" in relayed.body
        await h.feed(beto.text("Claro", reply_to=relayed.message_id))  # replying to the relayed message
        assert "Claro" in h.tg.last_bot_message(ana.chat_id).body
        # advisors chatting among themselves are not relayed
        n = len(h.tg.bot_messages(ana.chat_id))
        await h.feed(beto.text("café?"))
        assert len(h.tg.bot_messages(ana.chat_id)) == n
    finally:
        await h.close()
        await h.tg.stop()


async def test_erasure_closes_the_case(harness: BotHarness) -> None:
    h = harness
    ana = TestUser(h.tg, 7503)
    await run_to_summary(h, ana, LOW)
    await h.feed(ana.press("Ver mi resultado"))
    card = await _card(h)
    await h.feed(ana.text("/borrar_mis_datos"))
    assert "borró sus datos" in h.tg.messages[ADVISORS_CHAT][card.message_id].body
    assert "María" not in h.tg.messages[ADVISORS_CHAT][card.message_id].body
    beto = TestUser(h.tg, 9004, "Beto", chat_id=ADVISORS_CHAT)
    await h.feed(beto.press_data(card, f"esc:take:{h.storage.list_escalations()[0].id}"))
    toast = h.tg.calls_of("answerCallbackQuery")[-1].params["text"]
    assert "ya no está disponible" in toast
