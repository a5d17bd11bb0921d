"""`asesor db …`: schema migrations (Alembic) of the configured database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from cli.errors import ExitCode, fail
from core import copy_es as copy

app = typer.Typer(help=copy.DB, no_args_is_help=True)


def _check_url(url: str | None) -> None:
    """A URL SQLAlchemy cannot parse or has no driver for: bad input (--url) or configuration (DATABASE_URL)."""
    from pydantic import ValidationError

    from storage.db import check_url

    try:
        check_url(url)
    except ValidationError:  # another setting is invalid (reading DATABASE_URL reads them all): cli.errors says which
        raise
    except ValueError as exc:
        if url:
            fail("invalid_database_url", f"URL de base de datos inválida: {exc}", field="--url")
        fail("invalid_setting", f"DATABASE_URL inválida: {exc}", field="DATABASE_URL", exit_code=ExitCode.CONFIG)


@contextmanager
def _revision_errors(revision: str) -> Iterator[None]:
    from alembic.util import CommandError

    try:
        yield
    except CommandError as exc:
        fail("invalid_revision", f"Revisión de Alembic desconocida o imposible: {exc}", field="revision")


@app.command("upgrade", help=copy.DB_UPGRADE)
def upgrade(
    revision: str = typer.Argument("head", help=copy.DB_UPGRADE_REVISION),
    url: str | None = typer.Option(None, "--url", help=copy.DB_URL),
) -> None:
    """Create or migrate the schema up to REVISION."""
    from storage.db import current_revision, make_engine, migrate

    _check_url(url)
    with _revision_errors(revision):
        migrate(url, revision)
    engine = make_engine(url)
    typer.echo(
        json.dumps({"database": engine.url.render_as_string(hide_password=True), "revision": current_revision(engine)})
    )
    engine.dispose()


@app.command("downgrade", help=copy.DB_DOWNGRADE)
def downgrade(
    revision: str = typer.Argument(..., help=copy.DB_DOWNGRADE_REVISION),
    url: str | None = typer.Option(None, "--url", help=copy.DB_URL),
) -> None:
    """Migrate the schema down to REVISION."""
    from storage.db import downgrade as _down

    _check_url(url)
    with _revision_errors(revision):
        _down(url, revision)
    typer.echo(json.dumps({"revision": revision}))


@app.command("current", help=copy.DB_CURRENT)
def current(url: str | None = typer.Option(None, "--url", help=copy.DB_URL)) -> None:
    """Print the schema revision of the database."""
    from storage.db import current_revision, make_engine

    _check_url(url)
    engine = make_engine(url)
    typer.echo(json.dumps({"revision": current_revision(engine)}))
    engine.dispose()
