"""bot/ptb_request.py: PTB's calls leave as JSON bodies (nested objects as objects, as the Bot API documents),
over a real HTTP server."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.ptb_request import AiohttpRequest


async def test_a_call_without_files_is_one_json_body() -> None:
    seen: list[tuple[str, bytes]] = []

    async def method(request: web.Request) -> web.Response:
        seen.append((request.content_type, await request.read()))
        return web.json_response({"ok": True, "result": True})

    app = web.Application()
    app.router.add_post("/bot1:x/sendMessage", method)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Sí", callback_data="3:a:si")]])
    data = RequestData(
        [
            RequestParameter.from_input("chat_id", 42),
            RequestParameter.from_input("text", "¿Tienes nómina? <b>ñ</b>"),
            RequestParameter.from_input("reply_markup", keyboard),
        ]
    )
    request = AiohttpRequest()
    await request.initialize()
    try:
        status, body = await request.do_request(f"http://127.0.0.1:{port}/bot1:x/sendMessage", "POST", data)
    finally:
        await request.shutdown()
        await runner.cleanup()
    assert status == 200 and orjson.loads(body)["ok"] is True
    ((content_type, raw),) = seen
    sent: dict[str, Any] = orjson.loads(raw)
    assert content_type == "application/json"
    assert sent == {
        "chat_id": 42,
        "text": "¿Tienes nómina? <b>ñ</b>",
        "reply_markup": {"inline_keyboard": [[{"text": "Sí", "callback_data": "3:a:si"}]]},
    }
