"""The database engine, sessions and the column types every feature shares."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import DateTime, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator
from sqlmodel import col
from sqlmodel.sql.expression import SelectOfScalar

SessionFactory = async_sessionmaker[AsyncSession]


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone, so without this a value written aware comes back naive.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


BUSY_TIMEOUT_MS = 10_000


# Each pooled connection keeps a page cache of its own, 2 MiB by default, and with five or
# more of them that was the largest part of the process's memory after the connection
# count. The file's pages stay in the OS's cache, so a page missed here costs a read()
# call, not a disk read.
POOLED_CACHE_KIB = 512


def tune_sqlite_connection(dbapi_connection: Any, *, cache_kib: int | None = None) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while one writer commits; NORMAL sync is durable across a
    # process crash (only an OS crash can lose the last transactions).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Several writers (two processes on one file) wait for the lock instead of failing.
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    if cache_kib is not None:
        cursor.execute(f"PRAGMA cache_size=-{cache_kib}")
    cursor.close()


def _tune_pooled_sqlite(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    tune_sqlite_connection(dbapi_connection, cache_kib=POOLED_CACHE_KIB)


@dataclass(frozen=True)
class Deadlines:
    """How long one step may wait on PostgreSQL (settings: DATABASE_*_TIMEOUT_S). A database
    that hangs (its connections open, nothing answering) must give an error in bounded time;
    Socket.IO events have a deadline of their own on top (realtime/router.py)."""

    # Opening a connection, and waiting for one from the pool.
    connect_s: float = 2.0
    # Any one statement through SQLAlchemy (None: no limit, for migrations).
    statement_s: float | None = 10.0


DEFAULT_DEADLINES = Deadlines()


def create_engine(
    database_url: str, *, echo: bool = False, deadlines: Deadlines = DEFAULT_DEADLINES
) -> AsyncEngine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo)
        event.listen(engine.sync_engine, "connect", _tune_pooled_sqlite)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        pool_timeout=deadlines.connect_s,
        # asyncpg's own: `timeout` for connecting, `command_timeout` for every statement
        # (the pre-ping's too).
        connect_args={"timeout": deadlines.connect_s, "command_timeout": deadlines.statement_s},
    )


class _SessionOnFirstUse:
    """Stands in for an AsyncSession that is made when something first uses it."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None

    def __getattr__(self, name: str) -> Any:
        if self._session is None:
            self._session = self._sessions()
        return getattr(self._session, name)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class _OnFirstUseScope:
    """What `session_on_first_use` answers: a plain async context manager, entered on every
    message (asynccontextmanager's generator took 2.8 µs to enter and leave, this 0.6)."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._stand_in = _SessionOnFirstUse(sessions)

    async def __aenter__(self) -> AsyncSession:
        return cast(AsyncSession, self._stand_in)

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stand_in.close()


def session_on_first_use(sessions: SessionFactory) -> _OnFirstUseScope:
    """A session, made only if used. A `send` on an SQLite file usually needs none (its
    statements go to the writer connection; mutes, bans and rooms come from memory), and
    making and closing one was a sixth of the send's CPU."""
    return _OnFirstUseScope(sessions)


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)


async def insert_once(session: AsyncSession, row: Any) -> bool:
    """Insert and commit a row whose key claims something (a notice to send, a reminder);
    False when the key was taken: another process, or an earlier turn, claimed it first."""
    session.add(row)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return True


async def ping(engine: AsyncEngine) -> None:
    """Raises when the database does not answer."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


Row = TypeVar("Row")


class PageQuery(Protocol):
    """A list's query: the page of rows with ids below `before` (None: the newest), `limit`
    rows long."""

    @property
    def before(self) -> int | None: ...

    @property
    def limit(self) -> int: ...


class TimeRangeQuery(Protocol):
    """A list's query for a time range: `since` inclusive, `until` exclusive (None: open)."""

    @property
    def since(self) -> datetime | None: ...

    @property
    def until(self) -> datetime | None: ...


def in_time_range(
    statement: SelectOfScalar[Row], column: Any, query: TimeRangeQuery
) -> SelectOfScalar[Row]:
    """The statement's rows whose `column` falls in the query's range."""
    if query.since is not None:
        statement = statement.where(col(column) >= query.since)
    if query.until is not None:
        statement = statement.where(col(column) < query.until)
    return statement


async def newest_first_page(
    session: AsyncSession, statement: SelectOfScalar[Row], id_column: Any, query: PageQuery
) -> list[Row]:
    """Newest first (by `id_column`), the query's page: one more row than its limit, to tell
    whether more follow."""
    if query.before is not None:
        statement = statement.where(col(id_column) < query.before)
    statement = statement.order_by(col(id_column).desc()).limit(query.limit + 1)
    return list((await session.execute(statement)).scalars())
