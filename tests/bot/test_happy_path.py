"""From /start to the result card and each of its actions, through the production dispatcher, real Redis,
real storage and the real engine; the bot talks HTTP to the fake Bot API server."""

from __future__ import annotations

import pytest
from bot_harness import ADVISORS_CHAT, GOOD_ANSWERS, SECRET, BotHarness, label, run_to_summary, step_of
from fake_telegram import TestUser

from core.config import Settings
from core.handoff import verify_handoff_token
from dialogs.card import DECISION_LABELS
from engine.types import AssessmentRequest


async def test_start_to_result_card(harness: BotHarness) -> None:
    h = harness
    ana = TestUser(h.tg, 7001)
    await h.feed(ana.text("/start"))
    assert "Aviso de privacidad" in h.tg.last_bot_message(ana.chat_id).body
    await run_to_summary(h, ana, income="23,500", price="350 mil", term=48)
    summary = h.tg.last_bot_message(ana.chat_id).body
    assert "Revisa tus respuestas" in summary
    assert "María López" in summary and "$350,000" in summary and "$23,500" in summary and "48 meses" in summary
    for q, code in GOOD_ANSWERS.items():
        assert label(q, code) in summary

    await h.feed(ana.press("Ver mi resultado"))
    card = h.tg.last_bot_message(ana.chat_id).body
    # the card shows what the engine says for exactly these answers
    request = AssessmentRequest.model_validate(
        {
            "answers": GOOD_ANSWERS,
            "loan": {"vehicle_price": 350000, "term_months": 48},
            "applicant": {"birth_year": 1988, "monthly_income": 23500},
        }
    )
    expected = h.assess(request)
    policy = h.policy
    assert f"Banco recomendado: <b>{policy.banks[expected.bank_fit.recommended]}</b>" in card
    second = expected.bank_fit.second
    assert f"Segunda opción: {policy.banks[second] if second else 'ninguna'}" in card
    assert expected.bank_fit.band in card
    assert DECISION_LABELS[expected.expert.decision] in card
    assert f"{expected.pd.probability * 100:.1f} %" in card and f"puntaje crediticio {expected.credit_score}" in card
    assert "Lo que más pesó" in card and card.count("\n• ") >= 2
    assert "no es una oferta" in card.replace("no una oferta", "no es una oferta")
    for action in ("Solicitar financiamiento", "Hablar con un asesor", "Editar respuestas", "Empezar de nuevo"):
        ana.find_button(action)
    assert await step_of(h, ana.chat_id) == "result"

    # in flight, Redis holds the name and the phone sealed with the database's keys, never readable
    raw = await h.redis.get(h.state_key(ana.chat_id))
    assert isinstance(raw, bytes)
    assert b"Mar" not in raw and b"L\xc3\xb3pez" not in raw and b"1234" not in raw and b"5678" not in raw
    stored_dialog = await h.stored(ana.chat_id)
    assert stored_dialog is not None
    assert stored_dialog["name"].startswith("enc:") and stored_dialog["phone"].startswith("enc:")
    dialog = await h.dialog(ana.chat_id)
    assert dialog is not None
    assert dialog["name"] == "María López"

    # stored: consent, encrypted profile, the assessment and the seed-002 bank profile
    key = h.storage.user_key(ana.user_id)
    applicant = h.storage.get_applicant(key)
    assert applicant is not None and applicant.consent_given and applicant.name == "María López"
    assert applicant.phone == "+525512345678" and applicant.birth_year == 1988
    stored = h.storage.latest_assessment(key)
    assert stored is not None and stored.recommended_bank == expected.bank_fit.recommended
    profile = h.storage.get_bank_profile(key)
    assert profile is not None and profile.is_complete and profile.respuestas == GOOD_ANSWERS

    # the funnel of SPEC §8, under the pseudonymous key only
    events = h.events()
    names = [n for n, _, _ in events]
    for name in ("BotStarted", "ConsentGiven", "ProfileCompleted", "PerfilacionBancariaComplete", "ResultShown"):
        assert names.count(name) == 1, name
    answered = [p["step"] for n, _, p in events if n == "QuestionAnswered"]
    assert answered == list(range(1, 9))
    from sqlalchemy import select

    from storage.models import Event

    with h.storage.session() as s:
        keys = set(s.scalars(select(Event.user_key)))
    assert keys == {key} and str(ana.user_id) not in key


async def test_question_counter_and_keyboards(harness: BotHarness) -> None:
    h = harness
    ana = TestUser(h.tg, 7002)
    await h.feed(ana.text("/start"))
    await h.feed(ana.press("Acepto"))
    await h.feed(ana.text("Ana"))
    await h.feed(ana.text("1990"))
    await h.feed(ana.press("Prefiero no darlo"))
    for k, (q, code) in enumerate(GOOD_ANSWERS.items(), start=1):
        msg = h.tg.last_bot_message(ana.chat_id)
        assert f"Pregunta {k} de 8" in msg.body
        labels = [b["text"] for b in msg.buttons()]
        assert labels[:-1] == list(h.policy.answers[q].values()) and labels[-1] == "⬅️ Atrás"
        await h.feed(ana.press(label(q, code)))
    assert await step_of(h, ana.chat_id) == "income_exact"


async def test_result_actions(harness: BotHarness) -> None:
    h = harness
    ana = TestUser(h.tg, 7003)
    await run_to_summary(h, ana)
    await h.feed(ana.press("Ver mi resultado"))
    key = h.storage.user_key(ana.user_id)

    # Solicitar financiamiento: a signed link to the web form for this very assessment
    await h.feed(ana.press("Solicitar financiamiento"))
    msg = h.tg.last_bot_message(ana.chat_id)
    url = msg.buttons()[0]["url"]
    assert url.startswith("https://asesor.example.mx/solicitud/")
    claims = verify_handoff_token(url.rsplit("/", 1)[1], settings=Settings(ASESOR_HANDOFF_SECRET=SECRET))
    assert claims.applicant_key == key
    latest = h.storage.latest_assessment(key)
    assert latest is not None
    assert claims.assessment_id == latest.id

    # Hablar con un asesor: the case reaches the advisors' chat
    await h.feed(ana.press("Hablar con un asesor"))
    assert any("Caso #" in (m.text or "") for m in h.tg.bot_messages(ADVISORS_CHAT))

    # Editar respuestas: back to the summary
    await h.feed(ana.press("Editar respuestas"))
    assert "Revisa tus respuestas" in h.tg.last_bot_message(ana.chat_id).body
    assert await step_of(h, ana.chat_id) == "summary"

    # Empezar de nuevo (from a fresh card): the questions again, the profile kept
    await h.feed(ana.press("Ver mi resultado"))
    await h.feed(ana.press("Empezar de nuevo"))
    assert "Pregunta 1 de 8" in h.tg.last_bot_message(ana.chat_id).body
    dialog = await h.dialog(ana.chat_id)
    assert dialog is not None
    assert dialog["answers"] == {} and dialog["name"] == "María López"


async def test_a_turns_log_lines_carry_its_update_id(harness: BotHarness) -> None:
    """#13: the lines one update causes carry its update_id (Telegram's counter, no person's id), so an
    operator can put a turn's lines together; lines outside any update carry none."""
    import json
    import logging

    from core.logging import captured

    h = harness
    ana = TestUser(h.tg, 7004322)
    start = ana.text("/start")
    with captured("INFO", "json") as lines:
        await h.feed(start)
        await h.feed(start)  # Telegram delivers it again: "duplicate update … dropped"
        logging.getLogger("asesor.test").info("between updates")
    records = [json.loads(line) for line in lines]
    dropped = [r for r in records if r["event"].startswith("duplicate update")]
    assert len(dropped) == 1 and dropped[0]["update_id"] == start["update_id"], records
    between = next(r for r in records if r["event"] == "between updates")
    assert "update_id" not in between


async def test_logs_carry_no_ids_names_or_answers(harness: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    h = harness
    caplog.set_level(logging.DEBUG)
    ana = TestUser(h.tg, 7004321)
    await run_to_summary(h, ana, name="Zacarías Quintero", phone="5511112222", price="$432,109")
    await h.feed(ana.press("Ver mi resultado"))
    await h.feed(ana.press("Hablar con un asesor"))
    await h.feed(ana.text("Mi RFC es QUZA800101XXX"))
    logged = caplog.text
    assert logged  # something was logged, so the check below means something
    for secret in ("7004321", "Zacarías", "Quintero", "5511112222", "432109", "432,109", "QUZA800101XXX"):
        assert secret not in logged, secret
