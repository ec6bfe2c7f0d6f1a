"""The SQLite writer connection (server/kernel/sqlite_writer.py): errors reach the caller, a
failed transaction leaves nothing behind, and the writer goes on."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from server.kernel.sqlite_writer import SqliteWriter, transaction


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

    def create(connection: sqlite3.Connection) -> None:
        connection.execute("CREATE TABLE note (body TEXT NOT NULL UNIQUE)")

    def add(*notes: str) -> Callable[[sqlite3.Connection], None]:
        def work(connection: sqlite3.Connection) -> None:
            with transaction(connection):
                for body in notes:
                    connection.execute("INSERT INTO note (body) VALUES (?)", (body,))

        return work

    def bodies(connection: sqlite3.Connection) -> list[str]:
        return [row[0] for row in connection.execute("SELECT body FROM note ORDER BY body")]

    try:
        await writer.run(create)
        await writer.run(add("a", "b"))
        with pytest.raises(sqlite3.IntegrityError):
            await writer.run(add("c", "b"))  # "c" goes in, then "b" breaks the unique rule
        assert await writer.run(bodies) == ["a", "b"]
        assert not await writer.run(lambda connection: connection.in_transaction)
    finally:
        await writer.close()
