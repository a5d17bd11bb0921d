"""The web chat's applicant for the tests that drive it over HTTP (tests/bot/test_web_escalation.py,
test_surfaces_parse_alike.py)."""

from __future__ import annotations

import html
import re

import httpx


class WebApplicant:
    """A browser without JavaScript's reloads: posts the chat's forms as its script does (JSON back)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client, self.seq, self.turn, self.html = client, 0, "", ""

    async def open(self) -> None:
        r = await self.client.get("/chat")
        assert r.status_code == 200, r.text
        seq = re.search(r'data-seq="(\d+)"', r.text)
        turn = re.search(r'name="turn" value="(\w+)"', r.text)
        assert seq and turn, r.text
        self.seq, self.turn = int(seq.group(1)), turn.group(1)
        self.html = r.text

    async def _post(self, **fields: str) -> str:
        r = await self.client.post(
            "/chat", data={"turn": self.turn, "seen": str(self.seq), **fields}, headers={"X-Asesor-Chat": "1"}
        )
        assert r.status_code == 200, r.text
        data = r.json()
        self.seq, self.turn = data["seq"], data["turn"]
        self.html += data["html"]
        return html.unescape(data["html"])

    async def press(self, text: str) -> str:
        buttons = re.findall(r'name="press" value="([^"]+)">([^<]+)</button>', self.html)
        payload = next(p for p, lab in reversed(buttons) if text in html.unescape(lab))
        return await self._post(press=html.unescape(payload))

    async def say(self, text: str) -> str:
        return await self._post(text=text)

    async def new_messages(self) -> str:
        r = await self.client.get("/chat/log", params={"after": self.seq})
        if r.status_code == 204:
            return ""
        data = r.json()
        self.seq = data["seq"]
        self.html += data["html"]
        return html.unescape(data["html"])
