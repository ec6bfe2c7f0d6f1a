"""The database engine, sessions and the column types every feature shares."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

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


def _tune_sqlite(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while one writer commits; NORMAL sync is durable across a
    # process crash (only an OS crash can lose the last transactions).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Several writers (two processes on one file) wait for the lock instead of failing.
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(database_url: str, *, echo: bool = False) -> AsyncEngine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo)
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        return engine
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)


class WriterQueue:
    """Hands SQLite's one write lock to this process's busiest writers in turn.

    SQLite lets one transaction write at a time. When several pooled connections want it, the
    losers sleep in SQLite's busy handler (1, 2, 5 … 100 ms), and a transaction that read
    before it wrote fails outright once another has committed in between; a burst of sends
    becomes seconds of latency and errors. Queuing those transactions on an asyncio lock gives
    the database one writer at a time, in arrival order, with nobody sleeping. PostgreSQL locks
    rows, not the database, so there it lets everyone through."""

    def __init__(self, *, serialise: bool) -> None:
        self._lock = asyncio.Lock() if serialise else None

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        if self._lock is None:
            yield
            return
        async with self._lock:
            yield


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    """Raises when the database does not answer."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"
