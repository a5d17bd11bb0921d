"""`asesor db …`: schema migrations (Alembic) of the configured database."""

from __future__ import annotations

import json

import typer

app = typer.Typer(help="Base de datos: migraciones del esquema (Alembic).", no_args_is_help=True)


@app.command("upgrade")
def upgrade(
    revision: str = typer.Argument("head", help="Alembic revision"),
    url: str | None = typer.Option(None, "--url", help="Database URL (default: DATABASE_URL or var/ SQLite)"),
) -> None:
    """Create or migrate the schema up to REVISION."""
    from storage.db import current_revision, make_engine, migrate

    migrate(url, revision)
    engine = make_engine(url)
    typer.echo(json.dumps({"database": engine.url.render_as_string(hide_password=True),
                           "revision": current_revision(engine)}))
    engine.dispose()


@app.command("downgrade")
def downgrade(
    revision: str = typer.Argument(..., help="Alembic revision (e.g. base)"),
    url: str | None = typer.Option(None, "--url"),
) -> None:
    """Migrate the schema down to REVISION."""
    from storage.db import downgrade as _down

    _down(url, revision)
    typer.echo(json.dumps({"revision": revision}))


@app.command("current")
def current(url: str | None = typer.Option(None, "--url")) -> None:
    """Print the schema revision of the database."""
    from storage.db import current_revision, make_engine

    engine = make_engine(url)
    typer.echo(json.dumps({"revision": current_revision(engine)}))
    engine.dispose()
