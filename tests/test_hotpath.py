"""The send path's statements run straight on SQLite's driver (server/kernel/hotpath.py); what
they store and read must be exactly what the ORM stores and reads, on every database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from server.app import CORE
from server.rooms import store
from server.rooms.models import Message
from tests.support import Community, RunningServer

pytestmark = pytest.mark.persistence

MOMENT = datetime(2026, 11, 23, 18, 5, 9, 123456, tzinfo=UTC)


async def test_the_hot_path_stores_and_reads_what_the_orm_does(
    server: RunningServer, community: Community
) -> None:
    sessions = server.app[CORE].sessions
    fields = {"room_id": community.group_a, "author_id": community.pat_ana.id, "body": "héllo"}
    async with sessions() as session:
        fast = Message(**fields, client_id="by-the-hot-path", created_at=MOMENT)
        fast.id = await store.insert_message(session, fast)
        slow = Message(**fields, client_id="by-the-orm", created_at=MOMENT)
        session.add(slow)
        await session.commit()

    async with sessions() as session:
        stored = await session.execute(
            text("SELECT created_at, deleted, body FROM message WHERE id IN (:a, :b) ORDER BY id"),
            {"a": fast.id, "b": slow.id},
        )
        rows = stored.all()
        assert rows[0] == rows[1]  # the same bytes in the database
        read = await store.get_message(session, fast.id or 0)
        assert read is not None
        assert (read.created_at, read.deleted, read.edited_at) == (MOMENT, False, None)

        room, earlier = await store.room_for_post(
            session,
            room_id=community.group_a,
            author_id=community.pat_ana.id,
            client_id="by-the-orm",
        )
        assert room is not None and earlier == slow.id
        orm_room = await store.get_room(session, community.group_a)
        assert orm_room is not None
        assert room.model_dump() == orm_room.model_dump()
        assert isinstance(room.locked, bool) and room.created_at.tzinfo is not None
        assert await store.room_for_post(
            session, room_id=987654, author_id=community.pat_ana.id, client_id="x"
        ) == (None, None)


async def test_a_repeated_client_id_raises_what_the_orm_raises(
    server: RunningServer, community: Community
) -> None:
    """`send` settles a race between two connections of one user on this error."""
    sessions = server.app[CORE].sessions
    fields = {"room_id": community.group_a, "author_id": community.pat_ana.id, "body": "once"}
    async with sessions() as session:
        await store.insert_message(session, Message(**fields, client_id="twice", created_at=MOMENT))
        with pytest.raises(IntegrityError):
            await store.insert_message(
                session, Message(**fields, client_id="twice", created_at=MOMENT)
            )
        await session.rollback()
