"""Logging of the `asesor` processes, set up once: records on stderr, ours at the chosen level, third-party chatter
(Alembic's plugin and context lines, aiogram's per-update lines, HTTP clients) only from WARNING."""

from __future__ import annotations

import logging
import sys

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_NOISY = ("alembic", "aiogram.event", "httpx", "httpcore", "urllib3", "matplotlib", "asyncio")


def configure_logging(level: str = "WARNING") -> None:
    """Idempotent: a second call changes the level, never adds a second handler or another format."""
    level = level.upper()
    root = logging.getLogger()
    if not any(getattr(h, "_asesor", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        handler._asesor = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    quiet = level if level == "DEBUG" else "WARNING" if level != "ERROR" else "ERROR"
    for name in _NOISY:
        logging.getLogger(name).setLevel(quiet)
