"""The SQLite writer (server/kernel/hotpath/sqlite_writer.py): errors reach the caller, a failed
transaction leaves nothing behind and the writer goes on, a lock held elsewhere is waited for
off the event loop, and the log is checkpointed."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from server.kernel.db import BUSY_TIMEOUT_MS
from server.kernel.hotpath.sqlite_writer import SqliteWriter, in_transaction


def create(connection: sqlite3.Connection) -> None:
    connection.execute("CREATE TABLE note (body TEXT NOT NULL UNIQUE)")


def add(*notes: str) -> Callable[[sqlite3.Connection], None]:
    def insert(connection: sqlite3.Connection) -> None:
        for body in notes:
            connection.execute("INSERT INTO note (body) VALUES (?)", (body,))

    return lambda connection: in_transaction(connection, insert)


def bodies(connection: sqlite3.Connection) -> list[str]:
    return [row[0] for row in connection.execute("SELECT body FROM note ORDER BY body")]


async def test_a_database_that_cannot_be_opened_is_an_error_not_a_hang(tmp_path: Path) -> None:
    writer = SqliteWriter(str(tmp_path / "no-such-directory" / "peerrooms.db"))
    try:
        for _ in range(2):
            with pytest.raises(sqlite3.OperationalError):
                await asyncio.wait_for(writer.run(lambda c: c.execute("SELECT 1")), timeout=5)
    finally:
        await writer.close()


async def test_a_failed_transaction_is_rolled_back_and_the_writer_goes_on(tmp_path: Path) -> None:
    writer = SqliteWriter(str(tmp_path / "writer.db"))

    try:
        await writer.run(create)
        await writer.run(add("a", "b"))
        with pytest.raises(sqlite3.IntegrityError):
            await writer.run(add("c", "b"))  # "c" goes in, then "b" breaks the unique rule
        assert await writer.run(bodies) == ["a", "b"]
        assert not await writer.run(lambda connection: connection.in_transaction)
    finally:
        await writer.close()


@contextlib.asynccontextmanager
async def writer_and_another(
    tmp_path: Path,
) -> AsyncIterator[tuple[SqliteWriter, sqlite3.Connection]]:
    """The writer, and another connection to its file (as a session of this process or
    another process would be), with which a test holds the lock."""
    path = str(tmp_path / "writer.db")
    writer = SqliteWriter(path)
    another = sqlite3.connect(path, isolation_level=None)
    try:
        await writer.run(create)
        yield writer, another
    finally:
        another.close()
        await writer.close()


async def test_a_lock_held_elsewhere_is_waited_for_off_the_event_loop(tmp_path: Path) -> None:
    async with writer_and_another(tmp_path) as (writer, holder):
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("INSERT INTO note (body) VALUES ('first')")
        waiting = asyncio.create_task(writer.run(add("second")))
        # The event loop goes on meanwhile. Had the write waited on the loop's thread, this
        # sleep would have ended only when SQLite's busy timeout (10 s) ran out.
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.sleep(0.2)
        assert loop.time() - started < BUSY_TIMEOUT_MS / 1000 / 2
        assert not waiting.done()
        holder.execute("COMMIT")
        await asyncio.wait_for(waiting, timeout=5)
        assert await writer.run(bodies) == ["first", "second"]


async def test_work_that_found_the_lock_held_runs_in_the_order_it_came(tmp_path: Path) -> None:
    """It waits in line, and work that comes while others wait goes behind them, not ahead
    (the lock may be free by then)."""
    async with writer_and_another(tmp_path) as (writer, holder):
        holder.execute("BEGIN IMMEDIATE")
        first = [asyncio.create_task(writer.run(add(f"waited {n}"))) for n in range(3)]
        await asyncio.sleep(0.05)
        assert not any(task.done() for task in first)
        holder.execute("COMMIT")
        later = asyncio.create_task(writer.run(add("came after")))
        await asyncio.wait_for(asyncio.gather(*first, later), timeout=5)
        in_order = [row[0] for row in holder.execute("SELECT body FROM note ORDER BY rowid")]
        assert in_order == ["waited 0", "waited 1", "waited 2", "came after"]


async def test_the_log_is_checkpointed_as_writes_go_on(tmp_path: Path) -> None:
    path = tmp_path / "writer.db"
    # Writes held for as long as each checkpoint takes, however slow this machine's disk.
    writer = SqliteWriter(str(path), checkpoint_every=20, checkpoint_hold_s=30)
    page = "x" * 4096
    try:
        await writer.run(create)
        for n in range(400):
            await writer.run(add(f"{n} {page}"))
            await asyncio.sleep(0.001)  # as a server's loop does, between sends
        written = 400 * len(page)
        # Without checkpoints the log holds every body written (and their index entries).
        assert Path(f"{path}-wal").stat().st_size < written
        assert len(await writer.run(bodies)) == 400
    finally:
        await writer.close()
