"""The schema is created by the Alembic migration on both backends and matches the ORM models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from storage.db import current_revision, downgrade, make_engine, migrate
from storage.models import Base


def test_migration_matches_models(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is not None
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
    finally:
        engine.dispose()


def test_downgrade_then_upgrade_round_trip(sqlite_url: str) -> None:
    downgrade(sqlite_url, "base")
    engine = make_engine(sqlite_url)
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    migrate(sqlite_url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_db_cli_upgrade_reports_the_revision(tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from cli.main import app

    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    res = CliRunner().invoke(app, ["db", "upgrade", "--url", url])
    assert res.exit_code == 0, res.output
    head = json.loads(res.stdout)["revision"]
    assert head is not None
    cur = CliRunner().invoke(app, ["db", "current", "--url", url])
    assert json.loads(cur.stdout)["revision"] == head
