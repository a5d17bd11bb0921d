"""`asesor chat`: the applicant's conversation in a terminal, through the same conversation service as the bot
and the web chat (for developers and scripted checks, as `rasa shell` is for a Rasa bot).

Each reply is printed as plain text with its buttons numbered; type a number to press one, or write the answer
(`/ayuda`, `/reiniciar`… work as on Telegram; `/salir` or end of input leaves). When standard input is not a
terminal the answers are read from it line by line and echoed, so a script can drive a whole dialog:

    printf '1\\nAna López\\n1990\\n2\\n…' | asesor chat

The dialog lives in Redis like every other surface's (`--session NAME` resumes one), and everything it does is
stored as the bot's would be (consent, profile, the assessment with channel `terminal`, funnel events).
"""

from __future__ import annotations

import asyncio
import html
import re
import sys
import uuid
from typing import IO, Any

import typer

from core import copy_es as copy

QUIT = ("/salir", "/exit", "/quit")
_TAG = re.compile(r"</?[bi]>")


def plain(text: str) -> str:
    """The dialog's Telegram HTML as terminal text (bold and italics dropped, entities read)."""
    return html.unescape(_TAG.sub("", text))


def render(replies: list[Any], out: IO[str]) -> list[str]:
    """Print the replies; returns the payloads of the buttons, numbered from 1 in the order shown."""
    payloads: list[str] = []
    for reply in replies:
        out.write("\n" + plain(reply.text) + "\n")
        for row in reply.keyboard:
            for b in row:
                if b.url:
                    out.write(f"   → {plain(b.label)}: {b.url}\n")
                else:
                    payloads.append(b.payload)
                    out.write(f"  {len(payloads)}) {plain(b.label)}\n")
    out.flush()
    return payloads


def event_of(line: str, payloads: list[str]) -> Any:
    from dialogs.flow import Command, Press, Text

    line = line.strip()
    if line.isdigit() and 1 <= int(line) <= len(payloads):
        return Press(payloads[int(line) - 1])
    if line.startswith("/") and len(line) > 1:
        return Command(line[1:].split(maxsplit=1)[0].lower())
    return Text(line)


def run(
    session: str | None = typer.Option(None, "--session", help=copy.CHAT_SESSION),
) -> None:
    """Conversación del solicitante en la terminal. Usa REDIS_URL (un Redis local si falta) y DATABASE_URL."""
    from core.config import get_settings

    code = asyncio.run(_main(get_settings(), session or uuid.uuid4().hex, sys.stdin, sys.stdout))
    raise typer.Exit(code)


async def _main(settings: Any, session: str, stdin: IO[str], out: IO[str]) -> int:
    from cli.local_redis import reachable_redis
    from core.conversation import conversation_parts, conversation_service
    from dialogs.delivery import TERMINAL, Address
    from dialogs.flow import Command
    from dialogs.service import Conversation
    from dialogs.ui import Reply
    from engine.assess import get_assessor
    from storage.db import is_sqlite, migrate
    from storage.dialog_state import DialogKey
    from storage.events import EventSink
    from storage.repositories import Storage

    redis, redis_url = await reachable_redis(
        settings,
        "Desde el repositorio, `bash scripts/run.sh chat` usa el Redis de este checkout (lo inicia si hace falta); "
        "si no, define REDIS_URL.",
    )
    db_url = settings.resolved_database_url
    if is_sqlite(db_url):
        await asyncio.to_thread(migrate, db_url)
    storage = Storage(
        db_url,
        pseudonym_key=settings.pseudonym_key.get_secret_value(),
        fernet_keys=settings.fernet_key.get_secret_value() if settings.fernet_key else None,
        data_dir=settings.data_dir,
    )
    sink = EventSink.from_settings(storage.engine, settings, redis_url=redis_url)
    interactive = stdin.isatty()
    try:
        assessor = await asyncio.to_thread(get_assessor, settings.policy_file, settings.resolved_model_dir)
        parts = conversation_parts(assessor.policy, storage, sink, redis)
        service = conversation_service(parts, engine=assessor, courier=parts.mail, settings=settings)
        conv = Conversation(Address(TERMINAL, session), service.user_key(TERMINAL, session))
        key = DialogKey(TERMINAL, session, session)
        if interactive:
            out.write("Asesor en la terminal: escribe el número de una opción o tu respuesta; /salir para terminar.\n")
        event: Any = Command("start")
        while event is not None:
            async with parts.dialogs.turn(key) as held:
                result = await service.handle(conv, event, held)
            notes = [Reply(result.toast)] if not result.replies and result.toast else []
            payloads = render(result.replies or notes, out)
            event = await _next_event(stdin, out, payloads, interactive)
        await service.settle()
        sink.flush()
    finally:
        await redis.aclose()
        storage.dispose()
    return 0


async def _next_event(stdin: IO[str], out: IO[str], payloads: list[str], interactive: bool) -> Any:
    """The next answer, or None at the end of input or on /salir (empty lines are skipped)."""
    while True:
        if interactive:
            out.write("> ")
            out.flush()
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            return None
        if not interactive:
            out.write(f"> {line.rstrip()}\n")
        if line.strip().lower() in QUIT:
            return None
        if line.strip():
            return event_of(line, payloads)
