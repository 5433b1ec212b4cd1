"""Engines, sessions and migrations for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool
from sqlmodel import Session, SQLModel

import storage.models  # noqa: F401  (the tables schema_drift compares against)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
# Any constant works; it only has to be the same in every replica running upgrades.
MIGRATION_LOCK_KEY = 4_242_001

SessionFactory = sessionmaker[Session]


def create_db_engine(url: str, *, pool_size: int = 8) -> Engine:
    """An engine tuned for a server: WAL and busy_timeout on SQLite, a sized pool on PostgreSQL."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        # One connection per process: SQLite has a single writer anyway, and threads queue for
        # the pool (woken at once) instead of polling SQLite's lock with its busy handler,
        # which sleeps up to 100 ms between tries. Other processes still wait on busy_timeout.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            poolclass=TakeTurnsPool,
            pool_timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
        )
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    return create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, pool_recycle=1800
    )


class _TakeTurns:
    """A lock handed over in arrival order. A plain lock or queue lets the thread that just let
    go take it straight back, so under steady load a waiter can starve for seconds."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._waiting: deque[threading.Event] = deque()
        self._held = False

    def acquire(self, timeout: float) -> bool:
        with self._guard:
            if not self._held:
                self._held = True
                return True
            turn = threading.Event()
            self._waiting.append(turn)
        if turn.wait(timeout):
            return True
        with self._guard:
            if turn.is_set():  # handed over just as the wait ran out
                return True
            self._waiting.remove(turn)
            return False

    def release(self) -> None:
        with self._guard:
            if self._waiting:
                self._waiting.popleft().set()  # the next in line holds it now
            else:
                self._held = False


class TakeTurnsPool(QueuePool):
    """SQLite's one connection per process, lent to threads first come, first served."""

    def __init__(self, creator: Any, **kwargs: Any) -> None:
        kwargs.update(pool_size=1, max_overflow=0)
        super().__init__(creator, **kwargs)
        self._turns = _TakeTurns()

    def _do_get(self) -> Any:
        if not self._turns.acquire(self._timeout):
            raise PoolTimeoutError(
                f"no SQLite connection free after {self._timeout} s: a transaction is too long"
            )
        try:
            return super()._do_get()
        except BaseException:
            self._turns.release()
            raise

    def _do_return_conn(self, record: Any) -> None:
        super()._do_return_conn(record)
        self._turns.release()


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, open transactions (see _begin_immediate); this also makes
    # SAVEPOINTs work as documented.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL with synchronous=NORMAL is durable against application crashes (what an ack promises)
    # and avoids an fsync per commit.
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Learned expertise fades with power() in SQL (storage.experts.evidence); SQLite has it
    # only when built with its math functions (3.35 on, the default), so others get Python's.
    try:
        cursor.execute("SELECT power(2, 1)")
    except sqlite3.OperationalError:
        dbapi_connection.create_function("power", 2, math.pow, deterministic=True)
    cursor.close()


def _begin_immediate(connection: Connection) -> None:
    """Take SQLite's write lock when a transaction starts, waiting up to busy_timeout.

    A deferred transaction that reads and then writes fails at once with "database is locked"
    when another connection wrote in between; starting IMMEDIATE makes it wait its turn instead.
    """
    driver_execute(connection, "BEGIN IMMEDIATE")


def driver_execute(
    connection: Connection, statement: str, values: Sequence[Any] = (), *, fetch: bool = False
) -> list[tuple[Any, ...]]:
    """Run `statement` on the driver's own cursor, in the connection's transaction; its rows
    when `fetch`. Failures raise as if SQLAlchemy had run it (its exception types, a lost
    connection invalidated). For statements on every request's path: SQLAlchemy's execution
    context (result set-up, events) cost about 65 µs a statement, more than SQLite's own work
    on a batch's rows, and about 120 µs for SQLite's BEGIN."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(statement, values)
        return cast(list[tuple[Any, ...]], cursor.fetchall()) if fetch else []
    except Exception as error:
        connection._handle_dbapi_exception(error, statement, values, cursor, None)
        raise  # not reached: it raises SQLAlchemy's form of the error
    finally:
        cursor.close()


def create_session_factory(engine: Engine, *, info: dict[str, Any] | None = None) -> SessionFactory:
    """Sessions that keep loaded rows usable after commit; `info` is copied into each one's
    `Session.info` (what a process tells the code its sessions reach, e.g. bot.outbox.RUN_HERE)."""
    return sessionmaker(engine, class_=Session, expire_on_commit=False, info=info)


@contextmanager
def session_scope(factory: SessionFactory) -> Iterator[Session]:
    """A session that rolls back whatever its user did not commit."""
    session = factory()
    try:
        yield session
    finally:
        session.close()


class BulkInsert:
    """A multi-row INSERT of one table for the ingestion hot path (a batch of TILs, their tags,
    their follow-ups, questions), sent to the driver as plain SQL with the values as given.

    SQLAlchemy's compiled inserts run every value of every row through its parameter and type
    processing: on SQLite that cost more than SQLite's own work on the rows (in session 6, 250
    of a stored TIL's 350 µs). Rows here are tuples in `columns` order, of values the driver
    takes as they are (str, int, None); datetimes and other typed values go through `bind`,
    once per batch. The statement goes to the driver's cursor, not through SQLAlchemy's
    execution (its errors are still SQLAlchemy's). The columns are checked against the table
    when this is built: every column SQLAlchemy or the database would not fill must be given.
    """

    def __init__(
        self,
        table: Table,
        columns: Sequence[str],
        *,
        returning: Sequence[str] = (),
        unique: Sequence[str] = (),
    ) -> None:
        """`unique`: skip rows whose values there are already stored (ON CONFLICT DO NOTHING),
        which RETURNING then leaves out."""
        missing = [
            column.name
            for column in table.columns
            if column.name not in columns
            and column is not table.autoincrement_column
            and column.server_default is None
            and (column.default is not None or not column.nullable)
        ]
        if missing:
            raise ValueError(f"{table.name}: a bulk insert must give {', '.join(missing)}")
        self._table = table
        self._columns = tuple(columns)
        self._returning = tuple(returning)
        self._unique = tuple(unique)
        self._statements: dict[tuple[str, int], str] = {}
        self._binders: dict[tuple[str, str], Callable[[Any], Any] | None] = {}

    def bind(self, connection: Connection, column: str, value: Any) -> Any:
        """`value` as SQLAlchemy would send it to this driver for `column` (a UTC datetime as
        SQLite's text, say)."""
        key = (connection.dialect.name, column)
        if key not in self._binders:
            column_type = self._table.c[column].type.dialect_impl(connection.dialect)
            self._binders[key] = column_type.bind_processor(connection.dialect)
        processor = self._binders[key]
        return value if processor is None else processor(value)

    def run(self, connection: Connection, rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        """Insert `rows` in one statement; the RETURNING rows, in no particular order."""
        if not rows:
            return []
        dialect = connection.dialect
        # PostgreSQL takes the batch as one JSON document: the same statement whatever the
        # batch's size, which psycopg parses once and the server prepares once. Rows of values
        # made a new statement per size, which psycopg parsed again at every batch (it keeps no
        # parse of a statement with over 50 values): about 100 µs a TIL.
        as_json = dialect.name == "postgresql"
        key = (dialect.name, 0 if as_json else len(rows))
        statement = self._statements.get(key)
        if statement is None:
            statement = self._statements[key] = self._statement(dialect, len(rows), as_json)
        values = (
            (
                json.dumps(
                    [dict(zip(self._columns, row, strict=True)) for row in rows],
                    default=_json_value,
                ),
            )
            if as_json
            else tuple(value for row in rows for value in row)
        )
        return driver_execute(connection, statement, values, fetch=bool(self._returning))

    def ids(self, connection: Connection, rows: Sequence[Sequence[Any]]) -> list[int]:
        """Insert `rows` (none skipped: no `unique`) returning `id`: their ids in the order the
        rows were given. One statement numbers its rows in the order it inserts them (SQLite's
        rowids; PostgreSQL's sequence, rows taken in array order), whatever order RETURNING
        lists them in; SQLAlchemy's own guarantee (sort_by_parameter_order) costs one INSERT per
        row on SQLite."""
        assert self._returning == ("id",) and not self._unique
        return sorted(int(row_id) for (row_id,) in self.run(connection, rows))

    def _statement(self, dialect: Dialect, count: int, as_json: bool) -> str:
        quote = dialect.identifier_preparer.quote
        if dialect.paramstyle == "qmark":
            marker = "?"
        elif dialect.paramstyle in ("format", "pyformat"):
            marker = "%s"
        else:
            raise ValueError(f"no bulk insert for the {dialect.paramstyle} parameter style")
        table = dialect.identifier_preparer.format_table(self._table)
        columns = ", ".join(map(quote, self._columns))
        if as_json:  # each object's keys are columns, read as the table's own types
            rows = (
                f"SELECT {columns} FROM json_populate_recordset(NULL::{table}, {marker}::json)"
                " WITH ORDINALITY AS batch ORDER BY batch.ordinality"
            )
        else:
            row = f"({', '.join([marker] * len(self._columns))})"
            rows = f"VALUES {', '.join([row] * count)}"
        statement = f"INSERT INTO {table} ({columns}) {rows}"
        if self._unique:
            statement += f" ON CONFLICT ({', '.join(map(quote, self._unique))}) DO NOTHING"
        if self._returning:
            statement += f" RETURNING {', '.join(map(quote, self._returning))}"
        return statement


def _json_value(value: object) -> str:
    """What JSON has no type for, as PostgreSQL reads it: times in ISO 8601 with their zone."""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} has no JSON form for a bulk insert")


def insert_once(row: SQLModel, *, session: Session) -> bool:
    """Insert a row guarded by a unique key; False (and no error) when it is already there.

    Runs in a savepoint, so a duplicate leaves the caller's transaction usable.
    """
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True


def ping(engine: Engine) -> bool:
    """True when the database answers a trivial query."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


# Created by hand in the migrations, beside the models: full-text search (the FTS5 tables on
# SQLite, the tsvector columns and their indexes on PostgreSQL), APScheduler's job store and
# slack_sdk's OAuth installation and state stores (slack_bots, slack_installations, ...).
_UNMODELLED = (
    "apscheduler_jobs",
    "slack_",
    "ix_apscheduler_jobs",
    "til_fts",
    "help_request_fts",
    "search_vector",
    "ix_til_search_vector",
    "ix_help_request_search_vector",
)


def is_managed_by_models(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic's include_object: leave the hand-made search objects and the job and OAuth
    stores' tables (not SQLModel tables) out of autogenerate."""
    return not (reflected and name is not None and name.startswith(_UNMODELLED))


def schema_drift(connection: Connection) -> list[Any]:
    """What autogenerate would change: empty when the models and the migrations agree."""
    context = MigrationContext.configure(connection, opts={"include_object": is_managed_by_models})
    return list(compare_metadata(context, SQLModel.metadata))


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> None:
    """Migrate to head; idempotent, and safe when several replicas start at once."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        command.upgrade(alembic_config(connection), "head")
