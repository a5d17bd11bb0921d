"""`python -m cli` = the `asesor` command."""

from cli.main import app

app()
