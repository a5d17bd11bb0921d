"""Garbage at every step -> a polite Spanish re-prompt of the same step, and the dialog still completes."""

from __future__ import annotations

from datetime import date

from bot_harness import GOOD_ANSWERS, BotHarness, label, step_of
from fake_telegram import TestUser

from dialogs.parsing import money

YEAR = date.today().year

# step -> (what the prompt of that step says, garbage texts, the valid action that moves on)
COMMON = ["", "🤷", "DROP TABLE applicants;", "x" * 3000]


def plan() -> list[tuple[str, str, list[str], tuple[str, str]]]:
    steps: list[tuple[str, str, list[str], tuple[str, str]]] = [
        ("consent", "¿Aceptas el aviso", ["sí", "acepto"], ("press", "Acepto")),
        ("name", "¿Cómo te llamas", ["1234", "x", "<b>Ana</b>"], ("text", "Ana Ruiz")),
        ("birth_year", "¿En qué año naciste", ["abc", str(YEAR - 12), str(YEAR - 110), "88"], ("text", "1990")),
        ("phone", "teléfono de 10 dígitos", ["123", "llámame"], ("text", "+52 (81) 1234-5678")),
    ]
    for k, (q, code) in enumerate(GOOD_ANSWERS.items(), start=1):
        steps.append((f"q:{q}", f"Pregunta {k} de 8", ["no sé", "3"], ("press", label(q, code))))
    steps += [
        ("income_exact", "ingreso mensual exacto", ["abc", "0", "-5"], ("text", "$25,000")),
        ("vehicle_price", "precio del auto", ["abc", "5", "$5", "5 pesos", "99999999999"], ("text", "350000")),
        ("term", "cuántos meses", ["muchos", "100"], ("press", "48 meses")),
        ("summary", "Revisa tus respuestas", ["ok", "listo"], ("press", "Ver mi resultado")),
        ("result", "Qué quieres hacer ahora", ["gracias"], ("none", "")),
    ]
    return steps


async def test_garbage_at_every_step_reprompts_the_same_step(harness: BotHarness) -> None:
    h = harness
    u = TestUser(h.tg, 7201)
    await h.feed(u.text("/start"))
    for step, marker, garbage, (kind, value) in plan():
        assert await step_of(h, u.chat_id) == step
        inputs = [u.text(g) for g in [*garbage, *COMMON] if g] + [u.photo(), u.sticker()]
        for update in inputs:
            before = len(h.tg.bot_messages(u.chat_id))
            await h.feed(update)
            sent = h.tg.bot_messages(u.chat_id)[before:]
            assert await step_of(h, u.chat_id) == step, (step, update)
            # an explanation, then the same question again
            assert len(sent) == 2, (step, [m.text for m in sent])
            assert marker in sent[1].body, (step, sent[1].body)
            assert sent[0].text and not sent[0].text.startswith("Traceback")
        if kind == "press":
            await h.feed(u.press(value))
        elif kind == "text":
            await h.feed(u.text(value))
    dialog = await h.dialog(u.chat_id)
    assert dialog is not None
    assert dialog["phone"] == "+528112345678" and dialog["income_exact"] == 25000
    assert dialog["vehicle_price"] == 350000 and dialog["birth_year"] == 1990


async def test_specific_explanations(harness: BotHarness) -> None:
    h = harness
    u = TestUser(h.tg, 7202)
    await h.feed(u.text("/start"))
    await h.feed(u.press("Acepto"))
    await h.feed(u.text("Ana"))
    await h.feed(u.text(str(YEAR - 12)))
    assert "tendrías 12 años" in h.tg.bot_messages(u.chat_id)[-2].body
    await h.feed(u.text(str(YEAR - 110)))
    assert "tendrías 110 años" in h.tg.bot_messages(u.chat_id)[-2].body
    await h.feed(u.text("1990"))
    await h.feed(u.sticker())
    assert "no puedo procesar fotos, stickers" in h.tg.bot_messages(u.chat_id)[-2].body
    await h.feed(u.press("Prefiero no darlo"))
    await h.feed(u.text("muy bien"))
    assert "elige una de las opciones" in h.tg.bot_messages(u.chat_id)[-2].body
    # typing an option's exact label is understood
    await h.feed(u.text(label("trabajo_tiempo", "1a_2a").upper()))
    dialog = await h.dialog(u.chat_id)
    assert dialog is not None
    assert dialog["answers"]["trabajo_tiempo"] == "1a_2a"
    for q, code in list(GOOD_ANSWERS.items())[1:]:
        await h.feed(u.press(label(q, code)))
    await h.feed(u.press("Prefiero no decir"))
    await h.feed(u.text("abc"))
    assert "No entendí la cantidad" in h.tg.bot_messages(u.chat_id)[-2].body
    await h.feed(u.text("5"))
    limits = h.policy.limits
    bounds = f"entre {money(limits.vehicle_price_min)} y {money(limits.vehicle_price_max)}"
    assert bounds in h.tg.bot_messages(u.chat_id)[-2].body
