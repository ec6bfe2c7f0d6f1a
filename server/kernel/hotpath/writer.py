"""The writer contract: a turn on a key, then one transaction that commits or stores nothing.

A `send` takes its room's turn before its gates run and keeps it until its message is
committed, so sends to one room are stored one at a time and commit in id order, while sends
to other rooms go ahead. A gate that reads what the turn protects (slow mode reads the
author's latest post) first asks for the turn to be `hold`-en across processes. Both databases
keep that contract, on connections of their own (the hot path, see this package's docstring):

- PostgreSQL: a lock per key in this process, and the key's row locked on the database by the
  commit. A turn that is not held commits a lone write in one statement that locks the row
  first (`Write.taking_turn`: the row is locked before the new id is drawn, and freed when
  the statement commits), one round trip where a transaction took four. A held turn, or one
  with several writes, opens a transaction on a pooled asyncpg connection and runs the
  caller's turn statement on the key (for rooms, FOR NO KEY UPDATE on the room's row), so
  from then on the turn holds across processes; `commit` runs the writes in it.
- An SQLite file: a lock per key in this process, and `commit` runs the writes between BEGIN
  IMMEDIATE and COMMIT on the writer connection (sqlite_writer.py). SQLite takes one write at
  a time for the whole file, so ids still commit in order across processes sharing a file;
  the turn itself (what slow mode relies on) holds within a process, and `hold` adds nothing.

SQLite in memory is not supported: each pooled connection would see a database of its own.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, TypeVar

import asyncpg
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.kernel.db import DEFAULT_DEADLINES, Deadlines
from server.kernel.errors import AppError
from server.kernel.hotpath.pg_connections import PgConnections
from server.kernel.hotpath.sqlite_writer import SqliteWriter, in_transaction
from server.kernel.hotpath.statements import HotStatement

T = TypeVar("T")
Rows = list[tuple[Any, ...]]
# The parameters of a write, given the rows of the writes before it in the same transaction
# (a row that refers to the message just inserted, for one).
Params = Mapping[str, Any] | Callable[[Sequence[Rows]], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Write:
    statement: HotStatement
    params: Params
    # The same write taking its key's turn itself (PostgreSQL): it locks the key's row before
    # it writes and answers no rows when the key has none. A lone write of a turn not held
    # runs as this one statement instead of a transaction around `statement`.
    taking_turn: HotStatement | None = None

    def params_after(self, earlier: Sequence[Rows]) -> Mapping[str, Any]:
        return self.params(earlier) if callable(self.params) else self.params


class Turn(Protocol):
    async def hold(self) -> None:
        """From now until the commit no other process's turn on the key commits, so what is
        read meanwhile stays as read. Without it the turn holds within this process, and
        across processes from the commit's first statement. Idempotent."""
        ...

    async def commit(self, writes: Sequence[Write]) -> list[Rows]:
        """Runs the writes in order in one transaction and commits; answers each one's rows.
        All or nothing: on any error nothing is stored and the error is raised as SQLAlchemy
        raises it (an `IntegrityError` for a repeated unique key). Once per turn."""
        ...


class TurnScope(Protocol):
    """What `HotWriter.turn` answers: entered, the turn is held; left, it is given up, and a
    turn left without `commit` has stored nothing."""

    async def __aenter__(self) -> Turn: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class HotWriter(Protocol):
    def turn(self, key: int) -> TurnScope: ...

    async def close(self) -> None: ...


# PostgreSQL connections kept for commits, beside the pool; a commit holds one for its
# statement, or a held turn from `hold` to its commit.
TURN_CONNECTIONS = 8


def hot_writer_for(
    engine: AsyncEngine,
    turn_statement: HotStatement,
    *,
    connections: int = TURN_CONNECTIONS,
    deadlines: Deadlines = DEFAULT_DEADLINES,
) -> HotWriter:
    """The writer for the engine's database. `turn_statement` takes the turn on PostgreSQL:
    run with {"key": key} inside the turn's transaction, it must lock until the commit."""
    url = engine.url
    backend = url.get_backend_name()
    if backend == "postgresql":
        pool = PgConnections(
            url,
            size=connections,
            application_name="peerrooms sends",
            deadlines=deadlines,
        )
        return PostgresHotWriter(pool, engine.dialect, turn_statement)
    if backend == "sqlite":
        return SqliteHotWriter(SqliteWriter(sqlite_file(url)), engine.dialect)
    raise ValueError(f"peerrooms stores in PostgreSQL or an SQLite file, not {backend}")


def sqlite_file(url: URL) -> str:
    if not url.database or url.database == ":memory:" or url.query.get("mode") == "memory":
        raise ValueError(
            "SQLite in memory is not supported (each connection would see its own database):"
            " name a file, as the default sqlite+aiosqlite:///./data/peerrooms.db does"
        )
    return url.database


class KeyLocks:
    """A lock per key, for turns within this process. Kept, not made per turn: one made per
    send cost more than taking it."""

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}

    def of(self, key: int) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock


class SqliteHotWriter:
    def __init__(self, writer: SqliteWriter, dialect: Dialect) -> None:
        self._writer = writer
        self._dialect = dialect
        self._turns = KeyLocks()

    def turn(self, key: int) -> _SqliteTurn:
        return _SqliteTurn(self._writer, self._dialect, self._turns.of(key))

    async def transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` in a write transaction of its own on the writer connection, in line with
        the sends (the search index's batches: rooms/search_indexing.py)."""
        return await self._writer.run(lambda connection: in_transaction(connection, work))

    async def close(self) -> None:
        await self._writer.close()


class _SqliteTurn:
    """A turn, and its own context manager: a plain one, entered on every message
    (asynccontextmanager's generator took 2.8 µs to enter and leave, this 0.6)."""

    def __init__(self, writer: SqliteWriter, dialect: Dialect, lock: asyncio.Lock) -> None:
        self._writer = writer
        self._dialect = dialect
        self._lock = lock

    async def __aenter__(self) -> _SqliteTurn:
        await self._lock.acquire()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._lock.release()

    async def hold(self) -> None:
        return None  # SQLite's turn holds within this process only (the module docstring)

    async def commit(self, writes: Sequence[Write]) -> list[Rows]:
        def run_all(connection: sqlite3.Connection) -> list[Rows]:
            done: list[Rows] = []
            for write in writes:
                params = write.params_after(done)
                done.append(write.statement.rows_on(connection, self._dialect, params))
            return done

        return await self._writer.run(lambda connection: in_transaction(connection, run_all))


class PostgresHotWriter:
    def __init__(
        self, connections: PgConnections, dialect: Dialect, turn_statement: HotStatement
    ) -> None:
        self._connections = connections
        self._dialect = dialect
        self._turn_statement = turn_statement
        self._turns = KeyLocks()

    def turn(self, key: int) -> _PostgresTurn:
        return _PostgresTurn(
            self._connections, self._dialect, self._turn_statement, key, self._turns.of(key)
        )

    async def close(self) -> None:
        await self._connections.close()


class _PostgresTurn:
    def __init__(
        self,
        connections: PgConnections,
        dialect: Dialect,
        turn_statement: HotStatement,
        key: int,
        lock: asyncio.Lock,
    ) -> None:
        self._connections = connections
        self._dialect = dialect
        self._turn_statement = turn_statement
        self._key = key
        self._lock = lock
        # The pooled connection and its transaction, once held (`hold`).
        self._held: AbstractAsyncContextManager[asyncpg.Connection] | None = None
        self._connection: asyncpg.Connection | None = None
        # Committed, rolled back, or its connection closed.
        self._ended = False

    async def __aenter__(self) -> _PostgresTurn:
        await self._lock.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        held, self._held = self._held, None
        try:
            if connection is not None and not self._ended:
                await self._end_uncommitted(connection, exc_type)
        finally:
            try:
                if held is not None:
                    await held.__aexit__(exc_type, exc, traceback)
            finally:
                self._lock.release()

    async def hold(self) -> None:
        await self._transaction()

    async def _transaction(self) -> asyncpg.Connection:
        """The connection of the turn's transaction, the key's row locked in it."""
        if self._connection is not None:
            return self._connection
        if self._ended:
            raise RuntimeError("a turn is held before it commits")
        held = self._connections.connection()
        connection = await held.__aenter__()
        try:
            await connection.execute("BEGIN")
            await self._turn_statement.rows_on_asyncpg(
                connection, self._dialect, {"key": self._key}
            )
        except BaseException as error:
            # Where the transaction stands is not known (a cancelled BEGIN leaves a cancel
            # request on its way to the server, which would hit whatever runs next on this
            # connection): it is closed, never handed on.
            connection.terminate()
            await held.__aexit__(type(error), error, error.__traceback__)
            raise
        self._held, self._connection = held, connection
        return connection

    async def _end_uncommitted(
        self, connection: asyncpg.Connection, exc_type: type[BaseException] | None
    ) -> None:
        """What `commit` did not commit is rolled back after a gate's refusal or an error the
        server answered with (a repeated client_id, say). After anything else (a timeout, a
        cancellation) where the transaction stands is not known, and the server may not be
        answering: the connection is closed instead, which rolls back on the server."""
        self._ended = True
        if exc_type is not None and not issubclass(exc_type, (AppError, DBAPIError)):
            connection.terminate()
            return
        try:
            await connection.execute("ROLLBACK")
        except (asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            connection.terminate()

    async def commit(self, writes: Sequence[Write]) -> list[Rows]:
        if self._ended:
            raise RuntimeError("a turn commits once")
        alone = writes[0].taking_turn if len(writes) == 1 else None
        if self._connection is None and alone is not None:
            return [await self._commit_taking_turn(alone, writes[0])]
        connection = await self._transaction()
        done: list[Rows] = []
        try:
            for write in writes:
                params = write.params_after(done)
                done.append(
                    await write.statement.rows_on_asyncpg(connection, self._dialect, params)
                )
            status = await connection.execute("COMMIT")
        except BaseException as error:
            await self._end_uncommitted(connection, type(error))
            raise
        self._ended = True
        if status != "COMMIT":
            # PostgreSQL answers COMMIT of a transaction that failed with ROLLBACK, and no
            # error: a failure that reached no one (a cancel request arriving late, say)
            # would otherwise be acknowledged as stored.
            connection.terminate()
            raise OperationalError("COMMIT", None, RuntimeError(f"COMMIT answered {status}"))
        return done

    async def _commit_taking_turn(self, statement: HotStatement, write: Write) -> Rows:
        """One statement outside a transaction block: PostgreSQL commits it as it ends."""
        self._ended = True
        async with self._connections.connection() as connection:
            try:
                rows = await statement.rows_on_asyncpg(
                    connection, self._dialect, write.params_after([])
                )
            except BaseException as error:
                if not isinstance(error, DBAPIError):
                    # Cancelled or timed out: whether it committed is not known, and a cancel
                    # request may still be on its way; the connection is not handed on.
                    connection.terminate()
                raise
        if not rows:
            # As the write itself would fail on a key with no row (its foreign key).
            raise IntegrityError(
                "taking the turn", None, LookupError(f"no row to lock for key {self._key}")
            )
        return rows
