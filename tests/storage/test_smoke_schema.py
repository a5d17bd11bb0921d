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
