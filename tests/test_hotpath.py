"""The send path's statements run straight on the database driver, on connections of their
own (server/kernel/hotpath/); what they store and read must be exactly what the ORM stores
and reads, and the writer contract must hold the same way, on every database."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from server.accounts.http import ACCOUNTS
from server.app import CORE, create_app
from server.kernel.errors import AppError
from server.kernel.hotpath.writer import (
    TURN_CONNECTIONS,
    HotWriter,
    Rows,
    Write,
    hot_writer_for,
)
from server.rooms import store
from server.rooms.http import MESSAGES, ROOMS
from server.rooms.messages import SendResult, page_json, rows_json
from server.rooms.models import Message, SendIn
from tests.conftest import PeerFactory
from tests.support import (
    Api,
    Community,
    FakeClock,
    RunningServer,
    joined,
    patch_room,
    refused,
    send,
    server_settings,
    start_server,
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


async def store_message(writer: HotWriter, values: store.NewMessage) -> int:
    async with writer.turn(values["room_id"]) as turn:
        [rows] = await turn.commit([store.message_insert(values)])
    return store.inserted_id(rows)


async def test_the_send_path_stores_and_reads_what_the_orm_does(
    server: RunningServer, community: Community
) -> None:
    sessions, writer = server.app[CORE].sessions, server.app[MESSAGES].writer
    stored_id = await store_message(writer, new_message(community, "by the writer"))
    async with sessions() as session:
        by_orm = Message(**new_message(community, "by-the-orm"))
        session.add(by_orm)
        await session.commit()

    async with sessions() as session:
        stored = await session.execute(
            text("SELECT created_at, deleted, body FROM message WHERE id IN (:a, :b)"),
            {"a": stored_id, "b": by_orm.id},
        )
        rows = stored.all()
        assert len(rows) == 2 and rows[0] == rows[1]  # the same bytes
        read = await store.get_message(session, stored_id)
        assert read is not None
        assert (read.created_at, read.deleted, read.edited_at) == (MOMENT, False, None)


async def test_a_transaction_commits_all_its_writes_or_none(
    server: RunningServer, community: Community
) -> None:
    """A later write sees the rows of those before it (a row that refers to the message just
    inserted); a failure in any write stores none of them."""
    sessions, writer = server.app[CORE].sessions, server.app[MESSAGES].writer
    first = new_message(community, "first of two")

    def second_after(earlier: Sequence[Rows]) -> store.NewMessage:
        return {**new_message(community, f"after {store.inserted_id(earlier[0])}")}

    async with writer.turn(community.group_a) as turn:
        results = await turn.commit(
            [store.message_insert(first), Write(store.INSERT_MESSAGE, second_after)]
        )
    first_id, second_id = (store.inserted_id(rows) for rows in results)
    assert second_id == first_id + 1

    repeated = new_message(community, "first of two")  # its client_id is stored already
    with pytest.raises(IntegrityError):
        async with writer.turn(community.group_a) as turn:
            await turn.commit(
                [
                    store.message_insert(new_message(community, "never")),
                    Write(store.INSERT_MESSAGE, repeated),
                ]
            )
    async with sessions() as session:
        bodies = await session.execute(
            text("SELECT client_id FROM message WHERE room_id = :room ORDER BY id"),
            {"room": community.group_a},
        )
        assert bodies.scalars().all() == ["first of two", f"after {first_id}"]


async def test_a_page_reads_what_the_orm_reads(server: RunningServer, community: Community) -> None:
    """History and joins read pages straight on the driver; a page's JSON must be what the
    ORM's rows give, edits and reactions included."""
    sessions, writer = server.app[CORE].sessions, server.app[MESSAGES].writer
    stored_id = await store_message(writer, new_message(community, "read back in a page"))
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
    """A turn holds its room from its start to its commit (PostgreSQL's row lock, or the
    SQLite writer's lock per room), so slow mode reads the latest post and ids commit in
    order; a turn on another room goes ahead meanwhile."""
    writer = server.app[MESSAGES].writer
    steps: list[str] = []
    ids: dict[str, int] = {}
    holding, release = asyncio.Event(), asyncio.Event()

    async def post(name: str, room_id: int, hold: bool = False) -> None:
        async with writer.turn(room_id) as turn:
            steps.append(f"{name} in")
            if hold:
                holding.set()
                await release.wait()
            # Said before the commit: once it commits, the next turn may begin before this
            # task runs again (PostgreSQL frees the row when the commit is done).
            steps.append(f"{name} commits")
            [rows] = await turn.commit(
                [store.message_insert({**new_message(community, name), "room_id": room_id})]
            )
            ids[name] = store.inserted_id(rows)

    first = asyncio.create_task(post("first", community.group_a, hold=True))
    await holding.wait()
    same_room = asyncio.create_task(post("same room", community.group_a))
    await post("other room", community.commons)
    await asyncio.sleep(0.3)
    assert steps == ["first in", "other room in", "other room commits"]
    release.set()
    await asyncio.gather(first, same_room)
    assert steps[3:] == ["first commits", "same room in", "same room commits"]
    assert ids["first"] < ids["same room"]


def skip_unless_postgresql(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("two processes share a turn through PostgreSQL; on SQLite it holds within one")


async def test_a_turn_held_through_one_process_keeps_the_others_send_waiting(
    server: RunningServer, community: Community, database_url: str
) -> None:
    """A send whose turn is not held commits in one statement that locks the room's row first,
    so it waits for a turn held elsewhere (another process's slow-mode read) and its id comes
    after that turn's message."""
    skip_unless_postgresql(database_url)
    other_process = hot_writer_for(server.app[CORE].engine, store.ROOM_TURN)
    try:
        async with server.app[MESSAGES].writer.turn(community.group_a) as turn:
            await turn.hold()
            late = asyncio.create_task(
                store_message(other_process, new_message(community, "from the other process"))
            )
            await asyncio.sleep(0.3)
            assert not late.done()
            [rows] = await turn.commit([store.message_insert(new_message(community, "held"))])
        assert store.inserted_id(rows) < await late
    finally:
        await other_process.close()


async def test_slow_mode_holds_for_one_author_sending_through_two_processes_at_once(
    server: RunningServer,
    community: Community,
    api: Api,
    database_url: str,
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    """Two tabs of one person on two processes: in slow mode one of two sends at once is
    stored, the other refused, as on one process."""
    skip_unless_postgresql(database_url)
    await patch_room(api, community.mod_lee, community.group_a, slow_mode_s=60)
    other = await start_server(server_settings(database_url, tmp_path / "other"), clock)
    try:
        ana = await server.app[ACCOUNTS].actor_for_token(community.pat_ana.token)
        results = await asyncio.gather(
            *(
                process.app[MESSAGES].send(
                    ana, SendIn(room_id=community.group_a, body="at once", client_id=f"tab {n}")
                )
                for n, process in enumerate((server, other))
            ),
            return_exceptions=True,
        )
    finally:
        await other.stop()
    assert sorted(type(result).__name__ for result in results) == ["AppError", "SendResult"]
    refusal = next(r for r in results if isinstance(r, AppError))
    assert refusal.code == "rate_limited"
    assert all(r.created for r in results if isinstance(r, SendResult))


async def test_a_repeated_client_id_raises_what_the_orm_raises_and_stores_nothing(
    server: RunningServer, community: Community
) -> None:
    """`send` settles a race between two connections of one user on this error."""
    sessions, writer = server.app[CORE].sessions, server.app[MESSAGES].writer
    await store_message(writer, new_message(community, "twice", "once"))
    with pytest.raises(IntegrityError):
        await store_message(writer, new_message(community, "twice", "again"))
    # The failed insert was rolled back, and the writer goes on.
    assert await store_message(writer, new_message(community, "after the race", "fine"))
    async with sessions() as session:
        bodies = await session.execute(text("SELECT body FROM message WHERE client_id = 'twice'"))
        assert bodies.scalars().all() == ["once"]


def test_sqlite_in_memory_is_refused_with_a_reason(tmp_path: Path) -> None:
    """Each pooled connection would see a database of its own, and the writer yet another."""
    settings = server_settings("sqlite+aiosqlite:///:memory:", tmp_path)
    with pytest.raises(ValueError, match="SQLite in memory is not supported"):
        create_app(settings)


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
    for n in range(TURN_CONNECTIONS + 1):
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
    for _ in range(TURN_CONNECTIONS + 1):  # more refusals than there are send connections
        refused(await try_send(ana, 987654, "to no room"), "not_found")
    await patch_room(api, community.mod_lee, community.group_a, locked=True)
    for _ in range(TURN_CONNECTIONS + 1):
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
