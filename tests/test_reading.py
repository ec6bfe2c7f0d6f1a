"""Read markers and unread counts (docs/protocol-additions.md): what the room list shows each
person, kept on the server so a phone and a desktop agree."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import PeerFactory
from tests.support import Api, Community, Person, joined, send

pytestmark = pytest.mark.persistence


async def room_entry(api: Api, person: Person, room_id: int) -> dict[str, Any]:
    reply = await api.get("/api/rooms", person.token)
    assert reply.status == 200, reply.body
    return next(room for room in reply.body["rooms"] if room["id"] == room_id)


async def mark_read(api: Api, person: Person, room_id: int, message_id: int) -> dict[str, Any]:
    reply = await api.post(f"/api/rooms/{room_id}/read", {"message_id": message_id}, person.token)
    assert reply.status == 200, reply.body
    return dict(reply.body)


async def test_unread_counts_follow_others_messages_and_the_read_marker(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    ana, avi = await peer(c.pat_ana.token), await peer(c.pat_avi.token)
    await joined(ana, c.group_a)
    await joined(avi, c.group_a)

    empty = await room_entry(api, c.pat_ana, c.group_a)
    assert (empty["last_message_id"], empty["unread_count"]) == (None, 0)

    mine = await send(ana, c.group_a, "my own words are never unread to me")
    theirs = [await send(avi, c.group_a, f"from avi {n}") for n in range(3)]
    entry = await room_entry(api, c.pat_ana, c.group_a)
    assert entry["last_message_id"] == theirs[-1]["id"]
    assert entry["unread_count"] == 3
    assert (await room_entry(api, c.pat_avi, c.group_a))["unread_count"] == 1

    # Reading up to the second of avi's messages leaves one; the marker never moves back.
    assert await mark_read(api, c.pat_ana, c.group_a, theirs[1]["id"]) == {
        "room_id": c.group_a,
        "last_read_id": theirs[1]["id"],
    }
    assert (await room_entry(api, c.pat_ana, c.group_a))["unread_count"] == 1
    back = await mark_read(api, c.pat_ana, c.group_a, mine["id"])
    assert back["last_read_id"] == theirs[1]["id"]
    assert (await room_entry(api, c.pat_ana, c.group_a))["unread_count"] == 1

    # A deleted message is no longer waiting to be read.
    ok_delete = await api.call("DELETE", f"/api/messages/{theirs[2]['id']}", token=c.pat_avi.token)
    assert ok_delete.status == 204
    assert (await room_entry(api, c.pat_ana, c.group_a))["unread_count"] == 0

    # A marker past the newest message stops at the newest, so later messages still count.
    ahead = await mark_read(api, c.pat_ana, c.group_a, theirs[2]["id"] + 1000)
    assert ahead["last_read_id"] == theirs[2]["id"]
    later = await send(avi, c.group_a, "one more")
    entry = await room_entry(api, c.pat_ana, c.group_a)
    assert (entry["last_message_id"], entry["unread_count"]) == (later["id"], 1)

    # Markers are per person and per room: another room and another reader are untouched.
    assert (await room_entry(api, c.pat_avi, c.group_a))["unread_count"] == 1
    assert (await room_entry(api, c.pat_ana, c.commons))["unread_count"] == 0


async def test_unread_counts_stop_at_one_hundred(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    avi = await peer(c.pat_avi.token)
    await joined(avi, c.group_a)
    for start in range(0, 105, 35):
        await asyncio.gather(
            *(send(avi, c.group_a, f"message {n}") for n in range(start, start + 35))
        )
    assert (await room_entry(api, c.pat_ana, c.group_a))["unread_count"] == 100


async def test_tabs_marking_at_once_keep_the_furthest(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    """First marks race to create the marker, later ones to move it; in either order the
    furthest wins."""
    c = community
    avi = await peer(c.pat_avi.token)
    for room_id, order in ((c.group_a, 1), (c.commons, -1)):
        await joined(avi, room_id)
        sent = [await send(avi, room_id, f"message {n}") for n in range(8)][::order]
        for marks in (sent, sent[:4]):
            replies = await asyncio.gather(
                *(
                    api.post(f"/api/rooms/{room_id}/read", {"message_id": m["id"]}, c.pat_ana.token)
                    for m in marks
                )
            )
            assert [reply.status for reply in replies] == [200] * len(marks), replies
            entry = await room_entry(api, c.pat_ana, room_id)
            assert entry["unread_count"] == 0, (room_id, entry)


async def test_marking_a_room_outside_the_audience_is_forbidden(
    api: Api, community: Community
) -> None:
    c = community
    reply = await api.post(f"/api/rooms/{c.group_b}/read", {"message_id": 1}, c.pat_ana.token)
    assert (reply.status, reply.error_code) == (403, "forbidden")
    graduate = await api.post(f"/api/rooms/{c.lounge}/read", {"message_id": 1}, c.pat_ana.token)
    assert (graduate.status, graduate.error_code) == (403, "forbidden")
