"""The writer contract: a turn on a key, then one transaction that commits or stores nothing.

A `send` takes its room's turn before its gates read (slow mode reads the room's latest post)
and keeps it until its message is committed, so sends to one room are stored one at a time
and commit in id order, while sends to other rooms go ahead. Both databases keep that
contract, on connections of their own (the hot path, see this package's docstring):

- PostgreSQL: a pooled asyncpg connection per turn. The turn opens a transaction and runs the
  caller's turn statement on the key (for rooms, FOR NO KEY UPDATE on the room's row), so
  the turn holds across processes; `commit` runs the writes in that transaction.
- An SQLite file: a lock per key in this process, and `commit` runs the writes between BEGIN
  IMMEDIATE and COMMIT on the writer connection (sqlite_writer.py). SQLite takes one write at
  a time for the whole file, so ids still commit in order across processes sharing a file;
  the turn itself (what slow mode relies on) holds within a process.

SQLite in memory is not supported: each pooled connection would see a database of its own.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

import asyncpg
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.kernel.db import DEFAULT_DEADLINES, Deadlines
from server.kernel.errors import AppError
from server.kernel.hotpath.pg_connections import PgConnections
from server.kernel.hotpath.sqlite_writer import SqliteWriter, in_transaction
from server.kernel.hotpath.statements import HotStatement

Rows = list[tuple[Any, ...]]
# The parameters of a write, given the rows of the writes before it in the same transaction
# (a row that refers to the message just inserted, for one).
Params = Mapping[str, Any] | Callable[[Sequence[Rows]], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Write:
    statement: HotStatement
    params: Params

    def params_after(self, earlier: Sequence[Rows]) -> Mapping[str, Any]:
        return self.params(earlier) if callable(self.params) else self.params


class Turn(Protocol):
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


# PostgreSQL connections kept for turns, beside the pool; a turn holds one from taking the
# turn to its commit, about a millisecond.
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


class SqliteHotWriter:
    def __init__(self, writer: SqliteWriter, dialect: Dialect) -> None:
        self._writer = writer
        self._dialect = dialect
        # Kept, not made per turn: one made per send cost more than taking it.
        self._turns: dict[int, asyncio.Lock] = {}

    def turn(self, key: int) -> _SqliteTurn:
        lock = self._turns.get(key)
        if lock is None:
            lock = self._turns[key] = asyncio.Lock()
        return _SqliteTurn(self._writer, self._dialect, lock)

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

    def turn(self, key: int) -> _PostgresTurn:
        return _PostgresTurn(self._connections, self._dialect, self._turn_statement, key)

    async def close(self) -> None:
        await self._connections.close()


class _PostgresTurn:
    def __init__(
        self, connections: PgConnections, dialect: Dialect, turn_statement: HotStatement, key: int
    ) -> None:
        self._connections = connections
        self._dialect = dialect
        self._turn_statement = turn_statement
        self._key = key
        self._held = connections.connection()
        self._connection: asyncpg.Connection | None = None
        # The transaction committed, rolled back, or its connection closed.
        self._ended = False

    async def __aenter__(self) -> _PostgresTurn:
        connection = await self._held.__aenter__()
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
            await self._held.__aexit__(type(error), error, error.__traceback__)
            raise
        self._connection = connection
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        try:
            if connection is not None and not self._ended:
                await self._end_uncommitted(connection, exc_type)
        finally:
            await self._held.__aexit__(exc_type, exc, traceback)

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
        connection = self._connection
        if connection is None or self._ended:
            raise RuntimeError("a turn commits while it is held, and once")
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
