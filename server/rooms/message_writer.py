"""Where `send` reads its room and stores the message: the request's own session, or on SQLite
a writer connection of its own.

PostgreSQL locks the room's row in the request's transaction (FOR NO KEY UPDATE), so sends to
one room commit in id order and slow mode holds across processes; everything goes through
the session. SQLite has one write lock for the whole file, so this process's sends already
take turns; there the read and the insert-and-commit each take one hop to a dedicated
connection (kernel/sqlite_writer.py) instead of several through the session's machinery, and
the session stays unconnected unless a gate reads through it.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Protocol

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from server.kernel.sqlite_writer import SqliteWriter, transaction
from server.rooms import store
from server.rooms.models import Room


class MessageWriter(Protocol):
    def turn(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Held from reading the room to storing the message."""
        ...

    async def room_for_post(
        self, session: AsyncSession, *, room_id: int, author_id: int, client_id: str
    ) -> tuple[Room | None, int | None]: ...

    async def store(self, session: AsyncSession, values: store.NewMessage) -> int:
        """Inserts and commits; answers the new id. Raises IntegrityError on a repeated
        client_id, with the session ready for `rollback`."""
        ...

    async def close(self) -> None: ...


class SessionMessageWriter:
    """Everything in the request's session (PostgreSQL, or SQLite held in memory)."""

    def turn(self) -> contextlib.AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()

    async def room_for_post(
        self, session: AsyncSession, *, room_id: int, author_id: int, client_id: str
    ) -> tuple[Room | None, int | None]:
        return await store.room_for_post(
            session, room_id=room_id, author_id=author_id, client_id=client_id
        )

    async def store(self, session: AsyncSession, values: store.NewMessage) -> int:
        message_id = await store.insert_message(session, values)
        await session.commit()
        return message_id

    async def close(self) -> None:
        return None


class SqliteMessageWriter:
    """The room read and the insert-and-commit on a writer connection of their own."""

    def __init__(self, writer: SqliteWriter, dialect: Dialect) -> None:
        self._writer = writer
        self._dialect = dialect

    def turn(self) -> contextlib.AbstractAsyncContextManager[None]:
        return self._writer.turn()

    async def room_for_post(
        self, session: AsyncSession, *, room_id: int, author_id: int, client_id: str
    ) -> tuple[Room | None, int | None]:
        return await self._writer.run(
            lambda connection: store.room_for_post_on(
                connection,
                self._dialect,
                room_id=room_id,
                author_id=author_id,
                client_id=client_id,
            )
        )

    async def store(self, session: AsyncSession, values: store.NewMessage) -> int:
        def insert_and_commit(connection: sqlite3.Connection) -> int:
            with transaction(connection) as writing:
                return store.insert_message_on(writing, self._dialect, values)

        return await self._writer.run(insert_and_commit)

    async def close(self) -> None:
        await self._writer.close()
