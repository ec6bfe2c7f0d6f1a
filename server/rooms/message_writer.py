"""Where `send` stores its message, sends to one room taking turns.

Through SQLAlchemy's async session each step of a send's transaction (check out and ping a
pooled connection, execute, commit, return it and roll back) passes through greenlets, and on
SQLite through aiosqlite's thread several times; measured, that machinery cost more CPU than
the statements. So the send's statements run on connections of their own, straight on the
driver, while the statements themselves stay SQLAlchemy statements (kernel/hotpath.py):

- PostgreSQL: a plain asyncpg connection and transaction. The room's row is locked (FOR NO
  KEY UPDATE) from the posting's start to the commit, so sends to one room commit in id
  order and slow mode holds across processes.
- SQLite file: one writer connection, used on the event loop's thread while SQLite's write
  lock is free and handed to a thread of its own when it is not (kernel/sqlite_writer.py),
  so this process's sends never wait for each other in SQLite's busy handler. Sends to one
  room take turns from the posting's start to the commit, as on PostgreSQL.
- Anything else (SQLite in memory): the request's session, as every other write.

The room itself comes from memory (rooms/kept.py). The request's session stays for the gates
that read (slow mode, meeting windows) and for a repeated send; it is only made if one does
(kernel/db.py: session_on_first_use).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from typing import Protocol

import asyncpg
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from server.kernel.pg_connections import PgConnections
from server.kernel.sqlite_writer import SqliteWriter, in_transaction
from server.rooms import store


class Posting(Protocol):
    """One send's write of its message, while sends to its room wait their turn."""

    async def store(self, values: store.NewMessage) -> int:
        """Inserts and commits; answers the new id. Raises IntegrityError on a repeated
        client_id, having stored nothing."""
        ...


class MessageWriter(Protocol):
    def posting(
        self, session: AsyncSession, room_id: int
    ) -> contextlib.AbstractAsyncContextManager[Posting]:
        """A send's posting to a room; leaving it without `store` stores nothing."""
        ...

    async def close(self) -> None: ...


class SessionMessageWriter:
    """Everything in the request's session."""

    @contextlib.asynccontextmanager
    async def posting(self, session: AsyncSession, room_id: int) -> AsyncIterator[Posting]:
        yield _SessionPosting(session)

    async def close(self) -> None:
        return None


class _SessionPosting:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def store(self, values: store.NewMessage) -> int:
        try:
            message_id = await store.insert_message(self._session, values)
        except BaseException:
            await self._session.rollback()
            raise
        await self._session.commit()
        return message_id


class SqliteMessageWriter:
    def __init__(self, writer: SqliteWriter, dialect: Dialect) -> None:
        self._writer = writer
        self._dialect = dialect
        # One lock per room, held from the posting's start to its commit, as PostgreSQL's row
        # lock is: sends to one room are stored one at a time (slow mode holds), sends to
        # different rooms overlap. Kept as rooms are (rooms/kept.py): one made per send cost
        # more than taking it.
        self._rooms: dict[int, asyncio.Lock] = {}

    def posting(self, session: AsyncSession, room_id: int) -> _SqlitePosting:
        lock = self._rooms.get(room_id)
        if lock is None:
            lock = self._rooms[room_id] = asyncio.Lock()
        return _SqlitePosting(self._writer, self._dialect, lock)

    async def close(self) -> None:
        await self._writer.close()


class _SqlitePosting:
    """A posting, and its own context manager: a plain one, entered on every message
    (asynccontextmanager's generator took 2.8 µs to enter and leave, this 0.6)."""

    def __init__(self, writer: SqliteWriter, dialect: Dialect, room_lock: asyncio.Lock) -> None:
        self._writer = writer
        self._dialect = dialect
        self._room_lock = room_lock

    async def __aenter__(self) -> _SqlitePosting:
        await self._room_lock.acquire()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._room_lock.release()

    async def store(self, values: store.NewMessage) -> int:
        def insert(connection: sqlite3.Connection) -> int:
            return store.insert_message_on(connection, self._dialect, values)

        return await self._writer.run(lambda connection: in_transaction(connection, insert))


class PostgresMessageWriter:
    def __init__(self, connections: PgConnections, dialect: Dialect) -> None:
        self._connections = connections
        self._dialect = dialect

    @contextlib.asynccontextmanager
    async def posting(self, session: AsyncSession, room_id: int) -> AsyncIterator[Posting]:
        async with self._connections.connection() as connection:
            posting = _PostgresPosting(connection, self._dialect)
            await posting.begin(room_id)
            try:
                yield posting
            finally:
                await posting.end()

    async def close(self) -> None:
        await self._connections.close()


class _PostgresPosting:
    def __init__(self, connection: asyncpg.Connection, dialect: Dialect) -> None:
        self._connection = connection
        self._dialect = dialect
        self._transaction = connection.transaction()

    async def begin(self, room_id: int) -> None:
        await self._transaction.start()
        await store.lock_room_on_asyncpg(self._connection, self._dialect, room_id)

    async def end(self) -> None:
        """Rolls back whatever `store` did not commit (a refusal, an error)."""
        if self._connection.is_in_transaction():
            await self._transaction.rollback()

    async def store(self, values: store.NewMessage) -> int:
        try:
            message_id = await store.insert_message_on_asyncpg(
                self._connection, self._dialect, values
            )
        except BaseException:
            await self._transaction.rollback()
            raise
        await self._transaction.commit()
        return message_id
