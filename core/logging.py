"""The one logging set-up of every process (the API and its workers, the bot and its workers, lab jobs, the CLI).

    configure_logging(level="INFO", fmt="json")        # or configure_logging(settings=get_settings())

- **One stderr handler on the root logger**, formatted by structlog's `ProcessorFormatter`: `json` is one object
  per line (`timestamp`, `level`, `logger`, `event`, `request_id` when a request is being served, `exception`),
  for shipping; `console` is readable text for a terminal; `auto` (the default) is console on a terminal, JSON
  otherwise. The standard library's loggers (ours, uvicorn's, aiogram's, Alembic's) all end in it: uvicorn runs
  with `log_config=None` and Alembic's `fileConfig` is skipped (storage.db), so neither replaces the format.
- **Redaction on the handler** (`RedactingFilter`, core.redaction): the message, its arguments and the traceback
  are scrubbed of tokens, secrets, hashes, phones and cookies before any formatter sees them, and the rendered
  event's values once more (a structlog caller's key-value pairs).
- **Repeated lines rate-limited on the handler** (`RepeatFilter`): a WARNING or worse line is written at most
  once per key every `interval` seconds; the next one written says how many were suppressed. The key is
  `extra={"throttle": "database"}` when given, else the logger, level and message *template* (never the
  formatted message: keys stay a small fixed set). An outage writes a few lines, not one per request.
- **Context**: `bind(request_id=…)` (structlog.contextvars) adds fields to every line of the current task or
  thread (asyncio tasks and `to_thread` copy the context); the API's RequestId middleware binds `request_id`.
- Our packages' loggers (and uvicorn's) at the chosen level; every library's (Alembic's plugin lines, aiogram's
  per-update lines, HTTP clients, experta's line per fact) only from WARNING, from INFO when the level is DEBUG.

Idempotent: a second call changes the level and format, never adds a second handler.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, TextIO

import orjson
import structlog
from structlog.contextvars import (
    bind_contextvars,
    bound_contextvars,
    clear_contextvars,
    get_contextvars,
    merge_contextvars,
)

from core.redaction import REDACTOR, register_secrets, secrets_of

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("auto", "json", "console")
# the loggers of our packages (getLogger(__name__) or "asesor.…") and uvicorn's, which speak for the server
OURS = ("asesor", "api", "bot", "dialogs", "storage", "core", "cli", "lab", "engine", "uvicorn")
# libraries whose own level a previous set-up may have lowered
_NOISY = ("alembic", "aiogram", "httpx", "httpcore", "urllib3", "matplotlib", "asyncio", "multipart")
REPEAT_INTERVAL_S = 10.0

__all__ = [
    "FORMATS",
    "LEVELS",
    "RedactingFilter",
    "RepeatFilter",
    "bind",
    "bound",
    "clear_context",
    "configure_logging",
    "current_request_id",
]


def current_request_id() -> str | None:
    """The id the API's RequestId middleware bound for the request being served (None outside a request)."""
    value = get_contextvars().get("request_id")
    return value if isinstance(value, str) else None


bind = bind_contextvars
bound = bound_contextvars
clear_context = clear_contextvars


class RedactingFilter(logging.Filter):
    """Scrubs a record in place (message with its arguments, and the traceback) before it is formatted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_asesor_redacted", False):  # a record passing a second handler
            return True
        if isinstance(record.msg, dict):  # structlog's event dict: its values are redacted by _redact_event
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad %-format: keep the template, drop the arguments
            message = str(record.msg)
        record.msg, record.args = REDACTOR(message), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = REDACTOR(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None  # formatters print exc_text instead of formatting the raw exception again
        elif record.exc_text:
            record.exc_text = REDACTOR(record.exc_text)
        if record.stack_info:
            record.stack_info = REDACTOR(record.stack_info)
        record._asesor_redacted = True
        return True


class RepeatFilter(logging.Filter):
    """At most one WARNING-or-worse line per key and `interval`; the next written counts the suppressed ones."""

    def __init__(self, interval: float = REPEAT_INTERVAL_S, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval, self._clock = interval, clock
        self._last: dict[Any, float] = {}
        self._suppressed: dict[Any, int] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key_of(record: logging.LogRecord) -> Any:
        return getattr(record, "throttle", None) or (record.name, record.levelno, str(record.msg))

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key, now = self.key_of(record), self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return False
            suppressed = self._suppressed.pop(key, 0)
            self._last[key] = now
        if suppressed:
            record.msg = f"{record.msg} (%d similar lines suppressed in the last %.0f s)"
            record.args = (*(record.args or ()), suppressed, self.interval)
            record.suppressed = suppressed
        return True

    def suppressed(self, key: Any) -> int:
        with self._lock:
            return self._suppressed.get(key, 0)


def _redact_event(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> dict[str, Any]:
    return {k: REDACTOR.value(v) for k, v in event.items()}


def _exc_text(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The traceback RedactingFilter already formatted (and scrubbed), under `exception`."""
    record = event.get("_record")  # ProcessorFormatter's copy of the record: the original keeps its exc_text
    text = getattr(record, "exc_text", None)
    if text and record is not None:
        event.setdefault("exception", text)
        record.exc_text = None  # or logging.Formatter appends it after the JSON
    return event


def _dumps(obj: Any, **_: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


_PRE_CHAIN: list[Any] = [
    merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _formatter(fmt: str, stream: TextIO) -> logging.Formatter:
    if fmt == "auto":
        fmt = "console" if getattr(stream, "isatty", lambda: False)() else "json"
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_dumps)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_PRE_CHAIN,
        keep_exc_info=True,  # other handlers (pytest's caplog) still see the scrubbed traceback
        processors=[
            _exc_text,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact_event,
            renderer,
        ],
    )


class AsesorHandler(logging.StreamHandler[TextIO]):
    """The one handler configure_logging adds, told apart from a library's or pytest's (`_asesor` marks it too)."""

    _asesor = True


def configure_logging(
    level: str | None = None,
    fmt: str | None = None,
    *,
    settings: Any | None = None,
    stream: TextIO | None = None,
) -> None:
    """Set up (or re-set) the process's logging. `level`/`fmt` win over `settings.log_level`/`log_format`; the
    settings' secrets are registered with the redactor so their values never appear in a line."""
    if settings is not None:
        register_secrets(secrets_of(settings))
        level = level or settings.log_level
        fmt = fmt or settings.log_format
    level = (level or "WARNING").upper()
    fmt = (fmt or "auto").lower()
    if level not in LEVELS:
        raise ValueError(f"log level {level!r}: use one of {', '.join(LEVELS)}")
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: use one of {', '.join(FORMATS)}")
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, AsesorHandler)), None)
    if handler is None:
        handler = AsesorHandler(stream or sys.stderr)
        handler.addFilter(RepeatFilter())  # first: its key is the message template, before redaction formats it
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
    else:  # stderr as it is now: a test runner (typer's CliRunner) swaps it, and closes it, per invocation
        if getattr(handler.stream, "closed", False):
            handler.stream = stream or sys.stderr  # setStream would flush the closed one first
        else:
            handler.setStream(stream or sys.stderr)
    handler.setFormatter(_formatter(fmt, handler.stream))
    # ours at the level; every other library from WARNING (INFO at DEBUG): experta alone writes a line per fact
    third_party = level if level in ("ERROR", "CRITICAL") else "INFO" if level == "DEBUG" else "WARNING"
    root.setLevel(third_party)
    for name in OURS:
        logging.getLogger(name).setLevel(level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(third_party)
    logging.getLogger("experta").setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # uvicorn's own loggers propagate to the root handler (it is started with log_config=None); its access log
    # stays as uvicorn leaves it (`asesor api serve` turns it off: paths carry handoff tokens)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    structlog.configure(
        processors=[*_PRE_CHAIN, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


@contextmanager
def captured(level: str = "DEBUG", fmt: str = "json") -> Iterator[list[str]]:
    """Tests: the lines this set-up writes while the block runs (the real handler, filters and format)."""
    import io

    buffer = io.StringIO()
    root = logging.getLogger()
    previous = next((h for h in root.handlers if isinstance(h, AsesorHandler)), None)
    old = (previous.stream, previous.formatter, root.level) if previous is not None else None
    configure_logging(level, fmt, stream=buffer)
    lines: list[str] = []
    try:
        yield lines
    finally:
        lines.extend(buffer.getvalue().splitlines())
        handler = next(h for h in root.handlers if isinstance(h, AsesorHandler))
        if old is None:
            root.removeHandler(handler)
        else:
            handler.setStream(old[0])
            handler.setFormatter(old[1])
            root.setLevel(old[2])
