"""`asesor etl …`: load historical clients (with their observed default) into `loan_outcomes`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.errors import fail

app = typer.Typer(help="ETL de clientes históricos (loan_outcomes) con reporte de calidad.", no_args_is_help=True)


@app.command("load")
def load(
    file: Path = typer.Argument(..., help="CSV file to load"),
    source: str = typer.Option(..., "--source", help="scoring_bancario | german | taiwan | asesor | MAPPING.toml"),
    url: str | None = typer.Option(None, "--url", help="Database URL (default: DATABASE_URL or var/ SQLite)"),
    batch_size: int = typer.Option(2000, "--batch-size", min=1),
    rejects: Path | None = typer.Option(None, "--rejects", help="Also write every rejected line (JSON lines)"),
    report: Path | None = typer.Option(None, "--report", help="Also write the quality report to this file"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr (only on a terminal)"),
    migrate: bool = typer.Option(True, "--migrate/--no-migrate", help="Bring the schema up to date first"),
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
        details = {k: v for k, v in exc.payload.items() if k != "error"}
        fail("invalid_etl_input", str(exc), field="file" if "file" in details else None, **details)
    # a database that cannot be reached: cli.errors classifies it (exit 4), never a traceback
    text = json.dumps(result, ensure_ascii=False, indent=2, default=str)
    if report:
        report.write_text(text + "\n", encoding="utf-8")
    typer.echo(text)


@app.command("sources")
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
