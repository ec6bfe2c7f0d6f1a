"""The SQLite connection for the busiest write (a message's insert), and the read before it.

Through SQLAlchemy's async session each step of a transaction (check out a pooled connection,
execute, commit, return it and roll back) is a separate hop to aiosqlite's thread through
greenlets; measured on `send`, that machinery cost more CPU than the statements. Even one hop
to a thread of our own per statement (a queue, a wake-up, the GIL handed back and forth) cost
several times the statements themselves.

So a transaction is one plain function, run on the event loop's own thread with a connection
that never waits for a lock (busy timeout 0) and never checkpoints (copying the log into the
database waits for the disk). In WAL mode with synchronous=NORMAL a commit appends to the log
without waiting for the disk, so the statements take tens of microseconds.

When the lock is held (a session's write in this process, another process on the same file),
the work waits in line, in the order it came, and the head of the line tries again every
millisecond or so, while the event loop goes on; once it gets the lock the line drains at
once. (It used to wait on a thread with SQLite's busy timeout, which sleeps up to 100 ms
between tries and took one transaction at a time: with crisis alerts written through pooled
sessions beside 500 sends a second, sends queued on that thread faster than it took them,
and the server stopped answering in time.) Nothing waits longer than BUSY_TIMEOUT_MS, as a
pooled connection would not.

Every `checkpoint_every` runs the thread copies the log into the database while this writer's
work waits (on the event loop, not on SQLite's lock). A checkpoint that writes go on beside
never catches up with them, and the log would grow for as long as they do; with the writes
held off it completes, and the next write starts the log from its beginning. Writes are held
for at most `checkpoint_hold_s`: a checkpoint usually takes a few milliseconds, but one that
waits on a slow disk must not hold every message back; it goes on beside the writes, and a
later one catches up.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from server.kernel.db import BUSY_TIMEOUT_MS, tune_sqlite_connection
from server.kernel.hotpath.driver_errors import is_sqlite_locked

T = TypeVar("T")

# About SQLite's own default (a checkpoint per 1,000 pages of log): a send's read and its
# insert are two runs, and an insert logs a few pages.
CHECKPOINT_EVERY_RUNS = 500
CHECKPOINT_HOLD_S = 0.03
# How often the head of the line tries for a lock held elsewhere: at first, and at most.
RETRY_FIRST_S = 0.0005
RETRY_MOST_S = 0.004


class SqliteWriter:
    def __init__(
        self,
        path: str,
        *,
        checkpoint_every: int = CHECKPOINT_EVERY_RUNS,
        checkpoint_hold_s: float = CHECKPOINT_HOLD_S,
    ) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._thread = _WriterThread(path)
        self._checkpoint_every = checkpoint_every
        self._checkpoint_hold_s = checkpoint_hold_s
        self._runs_since_checkpoint = 0
        self._checkpoint: asyncio.Task[None] | None = None
        self._hold_until = 0.0
        # Work that found the lock held, waiting in the order it came.
        self._line: deque[_Waiting[Any]] = deque()
        self._draining: asyncio.Task[None] | None = None

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` run with a connection in autocommit mode (`in_transaction` makes it a
        transaction). It may run several times: work that fails because the database is
        locked must have changed nothing (as `in_transaction` ensures), and waits in line to
        run again."""
        await self._checkpoint_hold()
        if not self._line:
            try:
                result = work(self._connection_here())
            except Exception as error:
                if not is_sqlite_locked(error):
                    raise
            else:
                self._count_run()
                return result
        return await self._wait_in_line(work)

    async def _wait_in_line(self, work: Callable[[sqlite3.Connection], T]) -> T:
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        waiting = _Waiting(work, done)
        self._line.append(waiting)
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain_line())
        return await done

    async def _drain_line(self) -> None:
        """Run the line's work in order, trying again while the lock is held elsewhere; the
        head fails with SQLite's own error once it has waited BUSY_TIMEOUT_MS."""
        loop = asyncio.get_running_loop()
        pause, since = RETRY_FIRST_S, loop.time()
        while self._line:
            head = self._line[0]
            if head.done.cancelled():
                self._line.popleft()
                continue
            try:
                result = head.work(self._connection_here())
            except Exception as error:
                if is_sqlite_locked(error) and loop.time() - since < BUSY_TIMEOUT_MS / 1000:
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, RETRY_MOST_S)
                    continue
                self._line.popleft()
                head.fail(error)
            else:
                self._line.popleft()
                self._count_run()
                head.succeed(result)
            pause, since = RETRY_FIRST_S, loop.time()

    async def close(self) -> None:
        if self._draining is not None:
            await asyncio.wait({self._draining})
        if self._checkpoint is not None:
            await asyncio.wait({self._checkpoint})
        await self._thread.close()
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connection_here(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = open_connection(self._path)
            # Never wait on the event loop's thread: a lock held elsewhere sends the work to
            # the thread. And leave checkpoints (which wait for the disk) to the thread.
            connection.execute("PRAGMA busy_timeout=0")
            connection.execute("PRAGMA wal_autocheckpoint=0")
            self._connection = connection
        return self._connection

    async def _checkpoint_hold(self) -> None:
        """Waits while a checkpoint runs, up to the hold's end."""
        if self._checkpoint is None:
            return
        remaining = self._hold_until - asyncio.get_running_loop().time()
        if remaining > 0:
            # asyncio.wait, not shield: a waiter's cancellation is its own, not the checkpoint's.
            await asyncio.wait({self._checkpoint}, timeout=remaining)

    def _count_run(self) -> None:
        self._runs_since_checkpoint += 1
        if self._runs_since_checkpoint >= self._checkpoint_every and self._checkpoint is None:
            self._runs_since_checkpoint = 0
            self._hold_until = asyncio.get_running_loop().time() + self._checkpoint_hold_s
            self._checkpoint = asyncio.create_task(self._checkpoint_on_thread())

    async def _checkpoint_on_thread(self) -> None:
        try:
            await self._thread.run(checkpoint)
        except sqlite3.Error:
            pass  # the next one tries again; meanwhile the log grows, nothing is lost
        finally:
            self._checkpoint = None


def checkpoint(connection: sqlite3.Connection) -> None:
    """Copies the log into the database as far as no reader still needs it (PASSIVE: it
    waits for nobody)."""
    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def open_connection(path: str) -> sqlite3.Connection:
    # isolation_level=None: no implicit BEGIN; transactions are the explicit ones below.
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    tune_sqlite_connection(connection)
    return connection


@dataclass(frozen=True)
class _Waiting(Generic[T]):
    work: Callable[[sqlite3.Connection], T]
    done: asyncio.Future[T]

    def succeed(self, result: T) -> None:
        if not self.done.done():
            self.done.set_result(result)

    def fail(self, error: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(error)


class _WriterThread:
    """A connection on a thread of its own, for checkpoints (they wait for the disk), which
    waits for SQLite's lock as long as its busy timeout allows, while the event loop goes on."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._jobs: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="sqlite-writer", daemon=True)
            self._thread.start()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(_Waiting(work, done), loop))
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
                    connection = open_connection(self._path)
                except sqlite3.Error as error:
                    job.fail(error)  # and try again for the next one
                    continue
            job.run_on(connection)
        if connection is not None:
            connection.close()


@dataclass(frozen=True)
class _Job(Generic[T]):
    """Work waiting on the writer thread: its answer is handed back on the loop's thread."""

    waiting: _Waiting[T]
    loop: asyncio.AbstractEventLoop

    def run_on(self, connection: sqlite3.Connection) -> None:
        try:
            result = self.waiting.work(connection)
        except BaseException as error:  # handed to the awaiting coroutine, which raises it
            self.fail(error)
        else:
            self.loop.call_soon_threadsafe(self.waiting.succeed, result)

    def fail(self, error: BaseException) -> None:
        self.loop.call_soon_threadsafe(self.waiting.fail, error)


def in_transaction(connection: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """`work` between BEGIN IMMEDIATE (the write lock now, not at the first write) and
    COMMIT, or ROLLBACK on any error. A plain call, not a generator-based context manager,
    whose machinery took 1.9 µs against 0.15 on every message."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        result = work(connection)
        connection.execute("COMMIT")
    except BaseException:
        # Also when COMMIT itself failed: a transaction left open would refuse every later one.
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return result
