"""New messages put into SQLite's full-text index after they are stored, in batches
(server/rooms/search_indexing.py, migration 0020): a search still finds everything stored
before it, as it is now (edited, deleted), and the index always matches the messages it was
built from (FTS5's own integrity check, which compares the index with the `message` table).

The server's clock is a test clock here, so the batches of the background loop run only when
a test moves time on; a search catches the index up itself."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager

import pytest
from sqlalchemy.engine import make_url

from server.app import CORE
from tests.conftest import PeerFactory
from tests.support import Api, Community, FakeClock, RunningServer, ok, send
from tests.test_search import found

pytestmark = pytest.mark.persistence


@contextmanager
def sqlite_file_of(server: RunningServer) -> Iterator[sqlite3.Connection]:
    url = make_url(server.app[CORE].settings.database_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("PostgreSQL writes its search column with each row: nothing is deferred")
    assert url.database is not None
    with closing(sqlite3.connect(url.database, isolation_level=None)) as connection:
        yield connection


def indexed_up_to(connection: sqlite3.Connection) -> int:
    return int(connection.execute("SELECT up_to FROM message_search_indexed").fetchone()[0])


def newest_message_id(connection: sqlite3.Connection) -> int:
    return int(connection.execute("SELECT max(id) FROM message").fetchone()[0])


def assert_index_matches_the_messages(connection: sqlite3.Connection) -> None:
    """FTS5 raises SQLITE_CORRUPT_VTAB when its index and its content table differ."""
    connection.execute(
        "INSERT INTO message_search (message_search, rank) VALUES ('integrity-check', 1)"
    )


async def test_what_changed_before_the_index_caught_up_is_found_as_it_is_now(
    server: RunningServer, api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    kept = await send(ana, c.group_a, "a walk by the canal at noon")
    edited = await send(ana, c.group_a, "the canal was frozen")
    gone = await send(ana, c.group_a, "canal boats everywhere")
    # No search yet: on SQLite none of them is indexed (the loop's clock has not moved).
    ok(await ana.call("edit", {"message_id": edited["id"], "body": "the river was frozen"}))
    assert (await api.delete(f"/api/messages/{gone['id']}", c.pat_ana.token)).status == 204

    assert await found(api, c.pat_avi, "canal") == [kept["body"]]
    assert await found(api, c.pat_avi, "frozen") == ["the river was frozen"]
    with sqlite_file_of(server) as connection:
        assert indexed_up_to(connection) == newest_message_id(connection)
        assert_index_matches_the_messages(connection)


async def test_the_index_catches_up_by_itself_as_time_passes(
    server: RunningServer, community: Community, peer: PeerFactory, clock: FakeClock
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    for n in range(3):
        await send(ana, c.group_a, f"note {n} on the garden")
    with sqlite_file_of(server) as connection:
        assert indexed_up_to(connection) < newest_message_id(connection)
        await clock.advance(seconds=1)
        assert indexed_up_to(connection) == newest_message_id(connection)
        assert_index_matches_the_messages(connection)


async def test_an_id_given_again_after_its_message_went_is_indexed_with_its_message(
    server: RunningServer, api: Api, community: Community, peer: PeerFactory
) -> None:
    """SQLite gives the highest id again once its row is deleted (retention, erasure): a new
    message at or below the index's mark is indexed by the insert trigger, at once."""
    c = community
    ana = await peer(c.pat_ana.token)
    await send(ana, c.group_a, "first of two about lanterns")
    last = await send(ana, c.group_a, "second of two about lanterns")
    assert len(await found(api, c.pat_avi, "lanterns")) == 2  # both indexed now
    with sqlite_file_of(server) as connection:
        connection.execute("DELETE FROM message WHERE id = ?", (last["id"],))
        assert indexed_up_to(connection) == last["id"]

        again = await send(ana, c.group_a, "a message about kites")
        assert again["id"] == last["id"]
        assert_index_matches_the_messages(connection)
    assert await found(api, c.pat_avi, "kites") == ["a message about kites"]
    assert await found(api, c.pat_avi, "lanterns") == ["first of two about lanterns"]
