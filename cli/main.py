"""`asesor`: one command-line entry point; each area registers its own sub-command module here."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="asesor",
    help="Asesor: motor de evaluación de crédito automotriz, bot, API y herramientas de analistas.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Sub-command modules (each exposes `app: typer.Typer` or a `register(app)` function), one line each.
# -- registered sub-commands --
from cli import assess as _assess  # noqa: E402
from cli import policy as _policy  # noqa: E402

app.command("assess")(_assess.assess_command)
app.add_typer(_policy.app, name="policy")
from cli import db as _db  # noqa: E402

app.add_typer(_db.app, name="db")
from cli import etl as _etl  # noqa: E402

app.add_typer(_etl.app, name="etl")
from cli import api as _api  # noqa: E402

app.add_typer(_api.app, name="api")
from cli import train as _train  # noqa: E402

app.add_typer(_train.app, name="train")
from cli import bot as _bot  # noqa: E402

app.add_typer(_bot.app, name="bot")
