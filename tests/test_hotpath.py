"""The send path's statements run straight on the database driver (server/kernel/hotpath.py),
on connections of their own (rooms/message_writer.py); what they store and read must be
exactly what the ORM stores and reads, on every database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from server.app import CORE, SEND_CONNECTIONS
from server.rooms import store
from server.rooms.http import MESSAGES, ROOMS
from server.rooms.message_writer import MessageWriter, SessionMessageWriter
from server.rooms.messages import page_json, rows_json
from server.rooms.models import Message
from tests.conftest import PeerFactory
from tests.support import (
    Api,
    Community,
    RunningServer,
    joined,
    patch_room,
    refused,
    send,
    try_send,
)

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


def writers_of(server: RunningServer) -> list[MessageWriter]:
    """The app's own (straight on the driver) and the plain session one (SQLite in memory)."""
    return [server.app[MESSAGES].writer, SessionMessageWriter()]


async def test_every_send_path_stores_and_reads_what_the_orm_does(
    server: RunningServer, community: Community
) -> None:
    sessions = server.app[CORE].sessions
    stored_ids = []
    for n, writer in enumerate(writers_of(server)):
        async with sessions() as session, writer.posting(session, community.group_a) as posting:
            stored_ids.append(await posting.store(new_message(community, f"by writer {n}")))
    async with sessions() as session:
        by_orm = Message(**new_message(community, "by-the-orm"))
        session.add(by_orm)
        await session.commit()

    async with sessions() as session:
        stored = await session.execute(
            text("SELECT created_at, deleted, body FROM message WHERE id IN (:a, :b, :c)"),
            {"a": stored_ids[0], "b": stored_ids[1], "c": by_orm.id},
        )
        rows = stored.all()
        assert len(rows) == 3 and rows[0] == rows[1] == rows[2]  # the same bytes
        read = await store.get_message(session, stored_ids[0])
        assert read is not None
        assert (read.created_at, read.deleted, read.edited_at) == (MOMENT, False, None)


async def test_a_page_reads_what_the_orm_reads(server: RunningServer, community: Community) -> None:
    """History and joins read pages straight on the driver; a page's JSON must be what the
    ORM's rows give, edits and reactions included."""
    sessions, writer = server.app[CORE].sessions, server.app[MESSAGES].writer
    async with sessions() as session, writer.posting(session, community.group_a) as posting:
        stored_id = await posting.store(new_message(community, "read back in a page"))
    async with sessions() as session:
        message = await store.get_message(session, stored_id)
        assert message is not None
        message.edited_at = MOMENT
        session.add(message)
        for person in (community.pat_ana, community.pat_avi):
            await store.toggle_reaction(
                session, message_id=stored_id, user_id=person.id, emoji="\N{THUMBS UP SIGN}"
            )
        await session.commit()

    async with sessions() as session:
        rows, _ = await store.latest_messages(
            session, community.group_a, before=stored_id + 1, limit=1
        )
        orm_row = await store.get_message_row(session, stored_id)
        assert orm_row is not None
        assert await page_json(session, rows) == await rows_json(session, [orm_row])
    (row,) = rows
    assert (row.created_at, row.edited_at, row.deleted) == (MOMENT, MOMENT, False)
    assert row.created_at.tzinfo is not None


async def test_sends_to_one_room_take_turns_and_other_rooms_do_not_wait(
    server: RunningServer, community: Community
) -> None:
    """A posting holds its room from its start to its commit (PostgreSQL's row lock, or the
    SQLite writer's lock per room), so slow mode reads the latest post and ids commit in
    order; a posting to another room goes ahead meanwhile."""
    sessions, writer = server.app[CORE].sessions, server.app[MESSAGES].writer
    steps: list[str] = []
    holding, release = asyncio.Event(), asyncio.Event()

    async def post(name: str, room_id: int, hold: bool = False) -> None:
        async with sessions() as session, writer.posting(session, room_id) as posting:
            steps.append(f"{name} in")
            if hold:
                holding.set()
                await release.wait()
            await posting.store({**new_message(community, name), "room_id": room_id})
            steps.append(f"{name} stored")

    first = asyncio.create_task(post("first", community.group_a, hold=True))
    await holding.wait()
    same_room = asyncio.create_task(post("same room", community.group_a))
    await post("other room", community.commons)
    await asyncio.sleep(0.3)
    assert steps == ["first in", "other room in", "other room stored"]
    release.set()
    await asyncio.gather(first, same_room)
    assert steps[3:] == ["first stored", "same room in", "same room stored"]


async def test_a_repeated_client_id_raises_what_the_orm_raises_and_stores_nothing(
    server: RunningServer, community: Community
) -> None:
    """`send` settles a race between two connections of one user on this error."""
    sessions = server.app[CORE].sessions
    for n, writer in enumerate(writers_of(server)):
        twice = f"twice by writer {n}"
        async with sessions() as session, writer.posting(session, community.group_a) as posting:
            await posting.store(new_message(community, twice, "once"))
        async with sessions() as session, writer.posting(session, community.group_a) as posting:
            with pytest.raises(IntegrityError):
                await posting.store(new_message(community, twice, "again"))
        # The failed insert was rolled back, and the writer goes on.
        async with sessions() as session, writer.posting(session, community.group_a) as posting:
            assert await posting.store(new_message(community, f"after the race {n}", "fine"))
        async with sessions() as session:
            bodies = await session.execute(
                text("SELECT body FROM message WHERE client_id = :twice"), {"twice": twice}
            )
            assert bodies.scalars().all() == ["once"]


async def test_sends_go_on_after_the_database_drops_the_send_connections(
    server: RunningServer, community: Community, peer: PeerFactory, database_url: str
) -> None:
    """A PostgreSQL restart or failover closes every connection the send path keeps; the next
    sends must open fresh ones, not fail. (SQLite has no server to drop them.)"""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL drops connections; an SQLite file has no server")
    ana = await peer(community.pat_ana.token)
    await joined(ana, community.group_a)
    await send(ana, community.group_a, "before")
    dropped = await drop_send_connections(database_url)
    assert dropped >= 1
    # Enough sends to come round to the dropped connection, whichever it was.
    for n in range(SEND_CONNECTIONS + 1):
        after = await send(ana, community.group_a, f"after the drop {n}")
        assert after["body"] == f"after the drop {n}"


async def test_refused_sends_leave_the_room_free_for_the_next(
    server: RunningServer, community: Community, peer: PeerFactory, api: Api
) -> None:
    """A refusal ends the send's transaction and gives its connection back: on PostgreSQL the
    room's row stays locked until then, and every later send to the room would wait."""
    ana, lee = await peer(community.pat_ana.token), await peer(community.mod_lee.token)
    for person in (ana, lee):
        await joined(person, community.group_a)
    for _ in range(SEND_CONNECTIONS + 1):  # more refusals than there are send connections
        refused(await try_send(ana, 987654, "to no room"), "not_found")
    await patch_room(api, community.mod_lee, community.group_a, locked=True)
    for _ in range(SEND_CONNECTIONS + 1):
        refused(await try_send(ana, community.group_a, "while locked"), "room_locked")
    stored = await send(lee, community.group_a, "staff can still post")
    assert stored["body"] == "staff can still post"


async def drop_send_connections(database_url: str) -> int:
    url = make_url(database_url).set(drivername="postgresql")
    admin = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        rows = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND application_name = 'peerrooms sends'",
            url.database,
        )
        return len(rows)
    finally:
        await admin.close()


async def test_a_kept_room_is_a_copy_no_session_can_change(
    server: RunningServer, community: Community
) -> None:
    """Every request reads the kept room; the session that happened to read it must not be
    able to change it, nor expire it with a rollback."""
    sessions, kept = server.app[CORE].sessions, server.app[ROOMS].access.rooms
    await kept.changed(community.group_a)  # read again below, through this session
    async with sessions() as session:
        own = await store.get_room(session, community.group_a)
        shared = await kept.get(session, community.group_a)
        assert own is not None and shared is not None and shared is not own
        own.topic = "changed in one session"
        await session.rollback()
    assert shared.topic != "changed in one session"
    assert inspect(shared).transient
    assert await kept.get(session, community.group_a) is shared
