"""The logging options of the long-running commands (`asesor api serve`, `asesor bot`): `--log-level` and
`--log-format`, else ASESOR_LOG_LEVEL / ASESOR_LOG_FORMAT. The set-up itself is core.logging's."""

from __future__ import annotations

from typing import Any

from cli.errors import fail
from core import copy_es as copy


def service_logging(settings: Any, level: str | None, fmt: str | None) -> tuple[str, str]:
    """Configure the process's logging from the options, else the settings; return the (level, format) used.
    A bad value is the caller's (JSON error, exit 2), said before anything starts."""
    from core.logging import FORMATS, LEVELS, configure_logging

    level, fmt = (level or settings.log_level).upper(), (fmt or settings.log_format).lower()
    if level not in LEVELS:
        fail(
            "invalid_option",
            copy.OPTION_ONE_OF.format(option="--log-level", choices=", ".join(LEVELS)),
            field="--log-level",
        )
    if fmt not in FORMATS:
        fail(
            "invalid_option",
            copy.OPTION_ONE_OF.format(option="--log-format", choices=", ".join(FORMATS)),
            field="--log-format",
        )
    configure_logging(level, fmt, settings=settings)
    return level, fmt
