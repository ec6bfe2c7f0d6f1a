"""One SQLite connection on a thread of its own, for the busiest write (a message's insert).

Through SQLAlchemy's async session each step of a transaction (check out a pooled connection,
execute, commit, return it and roll back) is a separate hop to aiosqlite's thread through
greenlets; measured on `send`, that machinery cost more CPU than the statements. Here a
transaction is one plain function run on the writer's thread in one hop: BEGIN IMMEDIATE,
its statements, COMMIT. The connection is tuned as every pooled one is (WAL, busy timeout), so
it waits for another process's write lock rather than failing.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from server.kernel.db import tune_sqlite_connection

T = TypeVar("T")


class SqliteWriter:
    def __init__(self, path: str) -> None:
        self._path = path
        self._jobs: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` run on the writer's thread with its connection (in autocommit mode: use
        `transaction` for a transaction)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="sqlite-writer", daemon=True)
            self._thread.start()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        # A queue and call_soon_threadsafe, not an executor: the hand-off is on every send,
        # and an executor's futures and bookkeeping cost several times the statements.
        self._jobs.put(_Job(work, done, loop))
        return await done

    async def close(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    def _serve(self) -> None:
        connection: sqlite3.Connection | None = None
        while (job := self._jobs.get()) is not None:
            if connection is None:
                try:
                    connection = self._connect()
                except sqlite3.Error as error:
                    job.fail(error)  # and try again for the next one
                    continue
            job.run_on(connection)
        if connection is not None:
            connection.close()

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit BEGIN; transactions are the explicit ones below.
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        tune_sqlite_connection(connection)
        return connection


@dataclass(frozen=True)
class _Job(Generic[T]):
    work: Callable[[sqlite3.Connection], T]
    done: asyncio.Future[T]
    loop: asyncio.AbstractEventLoop

    def run_on(self, connection: sqlite3.Connection) -> None:
        try:
            result = self.work(connection)
        except BaseException as error:  # handed to the awaiting coroutine, which raises it
            self.fail(error)
        else:
            self.loop.call_soon_threadsafe(self._succeed, result)

    def fail(self, error: BaseException) -> None:
        self.loop.call_soon_threadsafe(self._fail, error)

    def _succeed(self, result: T) -> None:
        if not self.done.cancelled():
            self.done.set_result(result)

    def _fail(self, error: BaseException) -> None:
        if not self.done.cancelled():
            self.done.set_exception(error)


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE (the write lock now, not at the first write) … COMMIT, or ROLLBACK on
    any error."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
        connection.execute("COMMIT")
    except BaseException:
        # Also when COMMIT itself failed: a transaction left open would refuse every later one.
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
