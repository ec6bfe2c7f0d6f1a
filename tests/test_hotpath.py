"""The send path's statements run straight on SQLite's driver (server/kernel/hotpath.py), and
on an SQLite file on a writer connection of their own (rooms/message_writer.py); what they
store and read must be exactly what the ORM stores and reads, on every database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from server.app import CORE
from server.rooms import store
from server.rooms.http import MESSAGES
from server.rooms.models import Message
from tests.support import Community, RunningServer

pytestmark = pytest.mark.persistence

MOMENT = datetime(2026, 11, 23, 18, 5, 9, 123456, tzinfo=UTC)


def new_message(community: Community, client_id: str, body: str = "héllo") -> store.NewMessage:
    return {
        "room_id": community.group_a,
        "author_id": community.pat_ana.id,
        "body": body,
        "client_id": client_id,
        "created_at": MOMENT,
        "deleted": False,
    }


async def test_the_hot_path_stores_and_reads_what_the_orm_does(
    server: RunningServer, community: Community
) -> None:
    sessions = server.app[CORE].sessions
    writer = server.app[MESSAGES].writer
    async with sessions() as session:
        by_session = await store.insert_message(session, new_message(community, "by-session"))
        await session.commit()
    async with sessions() as session:
        by_writer = await writer.store(session, new_message(community, "by-the-writer"))
    async with sessions() as session:
        by_orm = Message(**new_message(community, "by-the-orm"))
        session.add(by_orm)
        await session.commit()

    async with sessions() as session:
        stored = await session.execute(
            text("SELECT created_at, deleted, body FROM message WHERE id IN (:a, :b, :c)"),
            {"a": by_session, "b": by_writer, "c": by_orm.id},
        )
        rows = stored.all()
        assert len(rows) == 3 and rows[0] == rows[1] == rows[2]  # the same bytes
        read = await store.get_message(session, by_writer)
        assert read is not None
        assert (read.created_at, read.deleted, read.edited_at) == (MOMENT, False, None)

        orm_room = await store.get_room(session, community.group_a)
        assert orm_room is not None
        for read_room in (store.room_for_post, writer.room_for_post):
            room, earlier = await read_room(
                session,
                room_id=community.group_a,
                author_id=community.pat_ana.id,
                client_id="by-the-orm",
            )
            assert room is not None and earlier == by_orm.id
            assert room.model_dump() == orm_room.model_dump()
            assert isinstance(room.locked, bool) and room.created_at.tzinfo is not None
            assert await read_room(
                session, room_id=987654, author_id=community.pat_ana.id, client_id="x"
            ) == (None, None)


async def test_a_repeated_client_id_raises_what_the_orm_raises_and_stores_nothing(
    server: RunningServer, community: Community
) -> None:
    """`send` settles a race between two connections of one user on this error."""
    sessions = server.app[CORE].sessions
    writer = server.app[MESSAGES].writer
    async with sessions() as session:
        await store.insert_message(session, new_message(community, "twice", "once"))
        with pytest.raises(IntegrityError):
            await store.insert_message(session, new_message(community, "twice", "again"))
        await session.rollback()
    async with sessions() as session:
        await writer.store(session, new_message(community, "twice by the writer", "once"))
        with pytest.raises(IntegrityError):
            await writer.store(session, new_message(community, "twice by the writer", "again"))
        await session.rollback()
        # The failed insert was rolled back, and the writer goes on.
        assert await writer.store(session, new_message(community, "after the race", "fine"))
        bodies = await session.execute(
            text("SELECT body FROM message WHERE client_id = 'twice by the writer'")
        )
        assert bodies.scalars().all() == ["once"]
