"""`asesor etl …`: load historical clients (with their observed default) into `loan_outcomes`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.errors import fail
from core import copy_es as copy

app = typer.Typer(help=copy.ETL, no_args_is_help=True)


@app.command("load", help=copy.ETL_LOAD)
def load(
    file: Path = typer.Argument(..., help=copy.ETL_LOAD_FILE),
    source: str = typer.Option(..., "--source", help=copy.ETL_LOAD_SOURCE),
    url: str | None = typer.Option(None, "--url", help=copy.DB_URL),
    batch_size: int = typer.Option(2000, "--batch-size", min=1, help=copy.ETL_LOAD_BATCH_SIZE),
    rejects: Path | None = typer.Option(None, "--rejects", help=copy.ETL_LOAD_REJECTS),
    report: Path | None = typer.Option(None, "--report", help=copy.ETL_LOAD_REPORT),
    progress: bool = typer.Option(True, "--progress/--no-progress", help=copy.PROGRESS),
    migrate: bool = typer.Option(True, "--migrate/--no-migrate", help=copy.ETL_LOAD_MIGRATE),
) -> None:
    """Validate, de-duplicate and load FILE; print the quality report as JSON on stdout.

    Exit 0 when the file was processed (even with rejected rows: they are in the report), 2 when the file
    cannot be loaded at all (unknown source, missing file, wrong columns), with a JSON error on stderr."""
    from storage.db import make_engine
    from storage.db import migrate as _migrate
    from storage.etl import EtlError, load_file

    try:
        if migrate:
            _migrate(url)
        engine = make_engine(url)
        try:
            result = load_file(engine, file, source, batch_size=batch_size, progress=progress, rejects_path=rejects)
        finally:
            engine.dispose()
    except EtlError as exc:
        details = {k: v for k, v in exc.payload.items() if k not in ("error", "detail")}  # detail: pydantic's English
        message = copy.etl_message(exc.code, details)
        field = (
            "file" if "file" in details else "--source" if exc.code in ("unknown_source", "invalid_mapping") else None
        )
        fail("invalid_etl_input", message, field=field, kind=exc.code, **details)
    # a database that cannot be reached: cli.errors classifies it (exit 4), never a traceback
    text = json.dumps(result, ensure_ascii=False, indent=2, default=str)
    if report:
        report.write_text(text + "\n", encoding="utf-8")
    typer.echo(text)


@app.command("sources", help=copy.ETL_SOURCES)
def sources() -> None:
    """List the built-in source mappings."""
    from storage.etl import BUILTIN_SOURCES, load_mapping

    out = []
    for name in BUILTIN_SOURCES:
        m = load_mapping(name)
        out.append(
            {"source": name, "description": m.source.description, "columns": list(m.columns), "target": m.target.column}
        )
    typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
