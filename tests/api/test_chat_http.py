"""The web chat's `POST /chat` over real HTTP (uvicorn, the test Redis, the real engine): a form posted twice is
handled once, what the page never sends is refused politely and changes nothing, a NUL byte is an answer like
any other, and a foreign site or a missing cookie gets no turn. The page itself is driven in Chromium
(test_chat_browser.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dialogs import texts
from tests.api.conftest import LiveServer

SCRIPT = {"X-Asesor-Chat": "1"}
NAME_PROMPT = "¿Cómo te llamas?"


@pytest.fixture
def client(chat_live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=chat_live.url, timeout=30) as c:
        yield c


def _group(pattern: str, html: str) -> str:
    found = re.search(pattern, html)
    assert found, f"{pattern!r} not in the page"
    return found.group(1)


def page(c: httpx.Client) -> dict[str, Any]:
    """GET /chat: what the page's forms carry (last entry, revision, turn id) and its text."""
    r = c.get("/chat")
    assert r.status_code == 200
    seq = int(_group(r'data-seq="(\d+)"', r.text))
    rev = int(_group(r'data-rev="(\d*)"', r.text) or 0)
    turn = _group(r'name="turn" value="(\w+)"', r.text)
    return {"seq": seq, "rev": rev, "turn": turn, "html": r.text}


def consent(c: httpx.Client) -> dict[str, Any]:
    """The first visit, then «Acepto»: the dialog asks for the name."""
    p = page(c)
    r = c.post("/chat", data={"turn": p["turn"], "seen": p["seq"], "press": f"{p['rev']}:ok"}, headers=SCRIPT)
    assert r.status_code == 200 and NAME_PROMPT in r.json()["html"]
    return page(c)


def test_a_form_posted_twice_is_handled_once(client: httpx.Client) -> None:
    p = page(client)
    form = {"turn": p["turn"], "seen": str(p["seq"]), "press": f"{p['rev']}:ok"}
    first = client.post("/chat", data=form, headers=SCRIPT).json()
    again = client.post("/chat", data=form, headers=SCRIPT).json()
    assert NAME_PROMPT in first["html"] and first["seq"] > p["seq"]
    assert again["seq"] == first["seq"]  # nothing was added: the second post changed nothing
    assert page(client)["html"].count(NAME_PROMPT) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"seen=-1&text=Ana",
        b"seen=abc&text=Ana",
        b"seen=%EF%BC%93&text=Ana",  # a full-width digit is not a sequence number
        b"text=Ana&text=Luis",  # a field twice
        b"text=Ana&debug=1",  # a field the page does not have
        b"text=" + b"a" * 2001,
        b"text=\xff\xfe",  # not UTF-8
    ],
    ids=["negative-seen", "text-seen", "unicode-digit", "repeated", "unknown-field", "too-long", "not-utf8"],
)
def test_what_the_page_never_sends_is_refused_and_changes_nothing(client: httpx.Client, body: bytes) -> None:
    before = consent(client)
    urlencoded = {"Content-Type": "application/x-www-form-urlencoded"}
    r = client.post("/chat", content=body, headers={**SCRIPT, **urlencoded})
    assert r.status_code == 422 and r.json() == {"error": texts.CHAT_BAD_FORM}
    plain = client.post("/chat", content=body, headers=urlencoded)  # a form without the page's script
    assert plain.status_code == 303 and plain.headers["location"] == "/chat"
    after = page(client)
    assert after["seq"] == before["seq"] and after["rev"] == before["rev"]


def test_a_nul_byte_is_an_answer_like_any_other(client: httpx.Client) -> None:
    p = consent(client)
    r = client.post("/chat", data={"turn": p["turn"], "seen": str(p["seq"]), "text": "\x00"}, headers=SCRIPT)
    assert r.status_code == 200
    reply = r.json()["html"]
    assert "\x00" not in reply and "nombre" in reply.lower()  # asked again, politely
    p = page(client)
    r = client.post("/chat", data={"turn": p["turn"], "seen": str(p["seq"]), "text": "Ana López"}, headers=SCRIPT)
    assert r.status_code == 200 and "¿En qué año naciste?" in r.json()["html"]


def test_the_multipart_form_of_an_older_script_still_works(client: httpx.Client) -> None:
    p = consent(client)
    fields = {"turn": (None, p["turn"]), "seen": (None, str(p["seq"])), "text": (None, "Ana López")}
    r = client.post("/chat", files=fields, headers=SCRIPT)
    assert r.status_code == 200 and "¿En qué año naciste?" in r.json()["html"]
    bad = client.post("/chat", files={"text": (None, "Ana"), "extra": (None, "1")}, headers=SCRIPT)
    assert bad.status_code == 422


def test_a_foreign_site_or_a_missing_cookie_gets_no_turn(chat_live: LiveServer, client: httpx.Client) -> None:
    p = consent(client)
    form = {"turn": p["turn"], "seen": str(p["seq"]), "text": "Ana López"}
    foreign = client.post("/chat", data=form, headers={**SCRIPT, "Origin": "https://otro.example"})
    assert foreign.status_code == 403
    assert page(client)["seq"] == p["seq"]
    with httpx.Client(base_url=chat_live.url, timeout=30) as stranger:  # no cookie, or a forged one
        assert stranger.post("/chat", data=form, headers=SCRIPT).json() == {"reload": True}
        stranger.cookies.set("asesor_chat", "forjada.abc", path="/chat")
        assert stranger.post("/chat", data=form, headers=SCRIPT).status_code == 409
        plain = stranger.post("/chat", data=form)
        assert plain.status_code == 303 and plain.headers["location"] == "/chat"
