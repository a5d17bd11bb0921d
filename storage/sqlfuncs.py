"""SQL functions that PostgreSQL and SQLite spell differently, one construct each (SQLAlchemy `@compiles`).

Analytics and the event flusher build their queries with these, so the same expression runs on both databases.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import String


class period_start(FunctionElement[str]):
    """'YYYY-MM-DD' of the UTC day, of the Monday of the ISO week, or of the first of the month, of a timestamp."""

    type = String()
    inherit_cache = True


@compiles(period_start, "postgresql")
def _period_start_pg(element: period_start, compiler: Any, **kw: Any) -> str:
    col, unit = list(element.clauses)
    # a DATE (cheap to group on; str() of it is 'YYYY-MM-DD'), not to_char() per row
    return f"CAST(date_trunc({compiler.process(unit, **kw)}, {compiler.process(col, **kw)} AT TIME ZONE 'UTC') AS DATE)"


@compiles(period_start, "sqlite")
def _period_start_sqlite(element: period_start, compiler: Any, **kw: Any) -> str:
    col, unit = list(element.clauses)
    c = compiler.process(col, **kw)
    u = compiler.process(unit, **kw)
    # 'weekday 0' moves forward to Sunday (or stays), '-6 days' lands on that week's Monday
    return (
        f"CASE WHEN {u} = 'week' THEN date({c}, 'weekday 0', '-6 days') "
        f"WHEN {u} = 'month' THEN date({c}, 'start of month') ELSE date({c}) END"
    )


class epoch_seconds(FunctionElement[float]):
    type = Float()
    inherit_cache = True


@compiles(epoch_seconds, "postgresql")
def _epoch_pg(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    # date_part is double precision; EXTRACT is numeric since PostgreSQL 14, several times slower to subtract
    # and to sort (the time-per-step percentiles sort one value per applicant and step)
    return f"date_part('epoch', {compiler.process(next(iter(element.clauses)), **kw)})"


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    return f"((julianday({compiler.process(next(iter(element.clauses)), **kw)}) - 2440587.5) * 86400.0)"


class floor_int(FunctionElement[int]):
    type = Integer()
    inherit_cache = True


@compiles(floor_int, "postgresql")
def _floor_pg(element: floor_int, compiler: Any, **kw: Any) -> str:
    return f"CAST(FLOOR({compiler.process(next(iter(element.clauses)), **kw)}) AS INTEGER)"


@compiles(floor_int, "sqlite")
def _floor_sqlite(element: floor_int, compiler: Any, **kw: Any) -> str:
    # CAST truncates toward zero, which is floor for the non-negative values bucketed here
    return f"CAST({compiler.process(next(iter(element.clauses)), **kw)} AS INTEGER)"


class least(FunctionElement[Any]):
    inherit_cache = True


@compiles(least, "postgresql")
def least_pg(element: least, compiler: Any, **kw: Any) -> str:
    return f"LEAST({compiler.process(element.clauses, **kw)})"


@compiles(least, "sqlite")
def least_sqlite(element: least, compiler: Any, **kw: Any) -> str:
    return f"MIN({compiler.process(element.clauses, **kw)})"


class greatest(FunctionElement[Any]):
    inherit_cache = True


@compiles(greatest, "postgresql")
def greatest_pg(element: greatest, compiler: Any, **kw: Any) -> str:
    return f"GREATEST({compiler.process(element.clauses, **kw)})"


@compiles(greatest, "sqlite")
def greatest_sqlite(element: greatest, compiler: Any, **kw: Any) -> str:
    return f"MAX({compiler.process(element.clauses, **kw)})"
