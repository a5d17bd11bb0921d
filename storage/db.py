"""Engines, sessions and migrations.

- `make_engine(url)`: SQLite (WAL, foreign keys, busy timeout, parent dir created) or PostgreSQL (psycopg 3,
  pool pre-ping so a restarted server does not hand out dead connections); both with `hide_parameters`, so no
  error message or log line carries a statement's values.
- `default_url()`: `DATABASE_URL`, else the SQLite file under the data directory (core.config).
- `migrate(url)`: `alembic upgrade head` programmatically; the app, the CLI (`asesor db upgrade`) and the
  tests create the schema this way, never with `create_all`.
- `InvalidText`: what every engine raises instead of a driver error when a value cannot be stored as text (NUL,
  a lone surrogate; `core.text` checks input before it gets here, this is the guard for whatever slips through).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random

ALEMBIC_DIR = Path(__file__).resolve().parent / "alembic"
ALEMBIC_INI = Path(__file__).resolve().parent / "alembic.ini"


def default_url() -> str:
    from core.config import get_settings

    return get_settings().resolved_database_url


def normalize_url(url: str) -> str:
    """Accept `postgresql://` / `postgres://` and use the psycopg 3 driver (the one installed)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def check_url(url: str | None = None) -> None:
    """Raise ValueError when SQLAlchemy cannot parse `url` (default DATABASE_URL) or has no driver for it."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(normalize_url(url or default_url())).get_dialect()
    except (ArgumentError, NoSuchModuleError) as exc:
        raise ValueError(str(exc)) from exc


def is_sqlite(url_or_engine: str | Engine) -> bool:
    if isinstance(url_or_engine, Engine):
        return url_or_engine.dialect.name == "sqlite"
    return make_url(normalize_url(url_or_engine)).get_backend_name() == "sqlite"


class InvalidText(ValueError):
    """A value holds text no database stores alike: NUL (PostgreSQL refuses it in text and JSON, SQLite keeps
    it) or a lone surrogate (no driver can encode it). Raised in place of the driver's error, so callers
    answer bad input (the API: 422) rather than a server error; the value itself is never in the message."""


_INVALID_TEXT_MARKERS = ("NUL (0x00)", "\\u0000 cannot be converted", "surrogate")


def _refuse_invalid_text(context: Any) -> None:
    """`handle_error` hook: the driver's complaint about NUL or surrogates becomes InvalidText."""
    exc = context.original_exception
    if isinstance(exc, UnicodeEncodeError) and "surrogate" in str(exc):
        raise InvalidText("a text value holds a lone surrogate (invalid Unicode)") from None
    if isinstance(context.sqlalchemy_exception, sa_exc.DataError):
        message = str(exc)
        if any(marker in message for marker in _INVALID_TEXT_MARKERS):
            raise InvalidText("a text or JSON value holds NUL or invalid Unicode") from None


def _sqlite_refuse_nul(_conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, _many: bool) -> None:
    """SQLite stores NUL where PostgreSQL refuses it: refuse it here too, so both backends behave alike.
    (`'\\x00' in s` runs in C; JSON values arrive serialised, with NUL escaped, and are not affected.)"""
    if _holds_nul(parameters):
        raise InvalidText("a text value holds NUL")


def _holds_nul(parameters: Any) -> bool:
    """NUL in any str of a DBAPI parameter set: a sequence or mapping of values, or (executemany, the
    insertmanyvalues batches) a sequence of those."""
    if isinstance(parameters, str):
        return "\x00" in parameters
    if isinstance(parameters, dict):
        parameters = parameters.values()
    elif not isinstance(parameters, list | tuple):
        return False
    return any(_holds_nul(v) for v in parameters if isinstance(v, str | dict | list | tuple))


# The database is unreachable (refused, lost mid-query, restarting) or the pool cannot hand out a connection in
# time: callers answer "try again shortly" (the API: 503 with Retry-After) rather than a server error.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
)


PG_CONNECT_TIMEOUT_S = 5

# How long a write transaction waits for SQLite's write lock before it fails with "database is locked".
SQLITE_LOCK_TIMEOUT_S = 10.0


_BUSY_MS = int(SQLITE_LOCK_TIMEOUT_S * 1000)
# in the pooled connection's `info`: the busy timeout it has now (0 while _begin_immediate does the waiting)
_BUSY_INFO = "asesor_busy_timeout_ms"


def _set_busy_timeout(dbapi_conn: Any, info: dict[Any, Any], ms: int) -> None:
    """Only when it changes: every sqlite3 call lets go of the GIL, and a storage thread must then wait for a
    busy event loop to give it back (up to 5 ms, the switch interval), so a transaction's latency under load
    counts its statements; writes in a row (the hot path) keep the timeout at 0 without a PRAGMA each."""
    if info.get(_BUSY_INFO) != ms:
        dbapi_conn.execute(f"PRAGMA busy_timeout={ms}")
        info[_BUSY_INFO] = ms


def _sqlite_pragmas(dbapi_conn: Any, record: Any) -> None:
    # WAL: readers do not block the writer; foreign keys are off by default in SQLite;
    # busy_timeout: concurrent writers wait instead of failing with "database is locked".
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
    record.info[_BUSY_INFO] = _BUSY_MS


def _is_locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _begin_immediate(dbapi_conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, retried every millisecond or two while another writer holds the lock (the caller has set
    the connection's busy timeout to 0, so that each try fails at once).

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25, … 100 ms between tries: a writer that started
    waiting early sleeps on while the lock is free, and a newer one takes it first. With steady writes from
    several threads and processes (the bot's storage threads, the event flusher) a few waits then run to
    hundreds of milliseconds (benchmarks/surfaces.py saw 0.6 s). Short, jittered retries keep each wait about as
    long as the lock is actually held."""
    try:
        dbapi_conn.execute("BEGIN IMMEDIATE")  # the common case: nobody is writing
        return
    except sqlite3.OperationalError as exc:
        if not _is_locked(exc):
            raise
    for attempt in Retrying(
        retry=retry_if_exception(_is_locked),
        wait=wait_random(0.0005, 0.002),
        stop=stop_after_delay(SQLITE_LOCK_TIMEOUT_S),
        reraise=True,
    ):
        with attempt:
            dbapi_conn.execute("BEGIN IMMEDIATE")


def _sqlite_begin(conn: Any) -> None:
    # `engine.execution_options(sqlite_begin="IMMEDIATE")` (see write_engine) takes the write lock at BEGIN:
    # a deferred transaction that reads and then writes cannot upgrade its lock while another writer
    # commits, and SQLite fails it at once with "database is locked" instead of waiting. Inside a transaction
    # that holds the write lock no statement waits for it, so the busy timeout stays 0 until a deferred
    # transaction (which may have to wait) sets it back.
    pooled = conn.connection
    if conn.get_execution_options().get("sqlite_begin") == "IMMEDIATE":
        _set_busy_timeout(pooled.driver_connection, pooled.info, 0)
        _begin_immediate(pooled.driver_connection)
    else:
        _set_busy_timeout(pooled.driver_connection, pooled.info, _BUSY_MS)
        conn.exec_driver_sql("BEGIN")


def write_engine(engine: Engine) -> Engine:
    """The engine for read-then-write transactions (BEGIN IMMEDIATE on SQLite; unchanged elsewhere)."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(sqlite_begin="IMMEDIATE")
    return engine


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    url = normalize_url(url or default_url())
    u = make_url(url)
    # a database error's message must not carry the statement's values (a note, a username, an argon2 hash):
    # it ends in logs and tracebacks (issue #13 item 3); the statement itself stays, to see what failed
    kwargs.setdefault("hide_parameters", True)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": SQLITE_LOCK_TIMEOUT_S})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # SQLAlchemy's recipe: let it own transactions. pysqlite's legacy mode starts a transaction only
        # before DML, so a SELECT-then-INSERT would not be one transaction (and SAVEPOINTs break).
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "handle_error", _refuse_invalid_text)
        event.listen(engine, "before_cursor_execute", _sqlite_refuse_nul)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # a server that does not answer (a host gone, a blackholed port) fails a connect in seconds instead of hanging
    kwargs.setdefault("connect_args", {}).setdefault("connect_timeout", PG_CONNECT_TIMEOUT_S)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "handle_error", _refuse_invalid_text)
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: repositories return ORM objects that stay readable after their session closes
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any exception."""
    with factory() as session, session.begin():
        yield session


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config(str(ALEMBIC_INI))
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    # '%' must be escaped for configparser (passwords may contain it)
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    # called from the app, the bot or the CLI, whose logging is already set up: alembic.ini's fileConfig would
    # replace its handlers and format (the bot's lines turned into `WARNI [...]`)
    cfg.attributes["skip_logging"] = True
    return cfg


def migrate(url: str | None = None, revision: str = "head") -> None:
    """Bring the database at `url` (default: the configured one) to `revision` with Alembic."""
    from alembic import command

    url = normalize_url(url or default_url())
    if is_sqlite(url):
        db = make_url(url).database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(normalize_url(url or default_url())), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


__all__ = [
    "DATABASE_UNAVAILABLE",
    "InvalidText",
    "current_revision",
    "default_url",
    "downgrade",
    "is_sqlite",
    "make_engine",
    "make_sessionmaker",
    "migrate",
    "normalize_url",
    "session_scope",
    "write_engine",
]
