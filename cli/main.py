"""`asesor`: one command-line entry point; each area registers its own sub-command module here.

Failures: cli/errors.py (one JSON shape on stderr, exit 2 bad input, 3 configuration, 4 dependency unreachable).
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli.errors import AsesorGroup, state
from core import copy_es as copy
from core.logging import FORMATS, LEVELS, configure_logging

app = typer.Typer(
    name="asesor",
    cls=AsesorGroup,
    help=copy.ROOT,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["--help", "-h"]},
)


@app.callback()
def root(
    debug: Annotated[bool, typer.Option("--debug", help=copy.ROOT_DEBUG)] = False,
    log_level: Annotated[str, typer.Option("--log-level", help=copy.LOG_LEVEL)] = "WARNING",
    log_format: Annotated[str, typer.Option("--log-format", help=copy.LOG_FORMAT)] = "auto",
) -> None:
    """Asesor: motor de evaluación de crédito automotriz, bot, API y herramientas de analistas."""
    state.debug = debug
    level, fmt = log_level.upper(), log_format.lower()
    if level not in LEVELS:
        raise typer.BadParameter(
            copy.ROOT_LOG_LEVEL_CHOICES.format(choices=", ".join(LEVELS)), param_hint="--log-level"
        )
    if fmt not in FORMATS:
        raise typer.BadParameter(
            copy.ROOT_LOG_LEVEL_CHOICES.format(choices=", ".join(FORMATS)), param_hint="--log-format"
        )
    configure_logging(level, fmt)


# Sub-command modules (each exposes `app: typer.Typer` or a `register(app)` function), one line each.
# -- registered sub-commands --
from cli import assess as _assess  # noqa: E402
from cli import policy as _policy  # noqa: E402

app.command("assess", help=copy.ASSESS)(_assess.assess_command)
app.add_typer(_policy.app, name="policy")
from cli import policy_replay as _policy_replay  # noqa: E402

_policy.app.command("replay", help=copy.POLICY_REPLAY)(_policy_replay.replay_command)
from cli import db as _db  # noqa: E402

app.add_typer(_db.app, name="db")
from cli import etl as _etl  # noqa: E402

app.add_typer(_etl.app, name="etl")
from cli import api as _api  # noqa: E402

app.add_typer(_api.app, name="api")
from cli import train as _train  # noqa: E402

app.add_typer(_train.app, name="train")
from cli import bot as _bot  # noqa: E402

app.command("bot", help=copy.BOT)(_bot.run)
from cli import chat as _chat  # noqa: E402

app.command("chat", help=copy.CHAT)(_chat.run)
