"""What training and monitoring read from the database outside a running service (`asesor train … --from-db`):
the loan outcomes of one source, and the assessments of a period counted per bin of a model's reference.

Each call opens its own engine on `database_url` (default DATABASE_URL) and disposes it; a database that cannot
be read (missing tables, no server) raises `ReadError` naming the driver's error, never a SQLAlchemy type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from storage.analytics import Analytics, Filters
from storage.db import make_engine
from storage.models import LoanOutcome

T = TypeVar("T")


class ReadError(RuntimeError):
    """The database could not be read; `str()` is the SQLAlchemy error's class name (no URL, no values)."""


@contextmanager
def _engine(database_url: str | None) -> Iterator[Engine]:
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _read(database_url: str | None, work: Callable[[Engine], T]) -> T:
    with _engine(database_url) as engine:
        try:
            return work(engine)
        except SQLAlchemyError as exc:
            raise ReadError(type(exc).__name__) from exc


def loan_outcomes(source: str, database_url: str | None = None) -> list[tuple[dict[str, Any], bool]]:
    """(validated source row, defaulted) of every `loan_outcomes` row of `source`, in load order."""

    def work(engine: Engine) -> list[tuple[dict[str, Any], bool]]:
        with engine.connect() as conn:
            rows = conn.execute(
                select(LoanOutcome.features, LoanOutcome.defaulted)
                .where(LoanOutcome.source == source)
                .order_by(LoanOutcome.id)
            ).all()
        return [(dict(features), bool(defaulted)) for features, defaulted in rows]

    return _read(database_url, work)


def population_counts(
    reference: dict[str, Any],
    model_version: str,
    since: datetime | None,
    until: datetime | None,
    database_url: str | None = None,
) -> dict[str, Any]:
    """`Analytics.population_counts` of [since, until) for `model_version` (the query the dashboard uses)."""
    return _read(
        database_url,
        lambda engine: Analytics(engine).population_counts(reference, Filters(start=since, end=until), model_version),
    )
