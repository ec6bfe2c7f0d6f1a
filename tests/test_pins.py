"""Pinned messages (server/rooms/pins.py, docs/api/events/pins.md): staff pin and unpin a
room's messages, at most ten; the room's sockets, and only they, hear of it at once; every
member reads the list, whatever their history lets them read; patients and alumni are refused
by the server; a deleted or retention-deleted message leaves the list; each change is
audited."""

from __future__ import annotations

from typing import Any

import pytest

from server.rooms.models import MAX_PINS
from tests.conftest import PeerFactory
from tests.support import (
    Api,
    Community,
    FakeClock,
    Peer,
    audit,
    joined,
    ok,
    public,
    refused,
    register,
    send,
    stored_messages,
    with_settings,
)
from tests.test_retention import run_retention, sent_days_ago

pytestmark = pytest.mark.persistence

AGREEMENT = "Our agreements: what is said here stays here, and we listen without fixing."


async def pin(peer: Peer, room_id: int, message_id: int, event: str = "pin") -> Any:
    return await peer.call(event, {"room_id": room_id, "message_id": message_id})


async def pins_of(peer: Peer, room_id: int) -> list[dict[str, Any]]:
    return list(ok(await peer.call("pins", {"room_id": room_id}))["pins"])


def pinned_ids(pins: list[dict[str, Any]]) -> list[int]:
    return [each["message_id"] for each in pins]


async def test_a_moderator_pins_and_unpins_and_only_the_room_hears_it(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    ana, avi, bo, lee = [await peer(p.token) for p in (c.pat_ana, c.pat_avi, c.pat_bo, c.mod_lee)]
    # Avi may enter Group A but is not in it now; Bo is in another room.
    await joined(ana, c.group_a)
    await joined(bo, c.group_b)
    said = await send(ana, c.group_a, AGREEMENT)
    assert await pins_of(ana, c.group_a) == []

    pins = ok(await pin(lee, c.group_a, said["id"]))["pins"]
    assert len(pins) == 1
    [pinned] = pins
    assert pinned["message_id"] == said["id"] and pinned["room_id"] == c.group_a
    assert pinned["author"] == public(c.pat_ana) and pinned["body"] == AGREEMENT
    assert pinned["created_at"] == said["created_at"]
    assert pinned["pinned_by"] == public(c.mod_lee) and pinned["pinned_at"].endswith("Z")
    live = await ana.wait_for("pins_changed")
    assert live == {"room_id": c.group_a, "pins": pins}
    # Anyone who may be in the room reads the list; nobody else does.
    assert await pins_of(avi, c.group_a) == pins
    refused(await bo.call("pins", {"room_id": c.group_a}), "forbidden")
    refused(await bo.call("pins", {"room_id": 2_000_000}), "not_found")

    # Pinning it again changes nothing, and tells nobody.
    assert ok(await pin(lee, c.group_a, said["id"]))["pins"] == pins
    assert ok(await pin(lee, c.group_a, said["id"], "unpin"))["pins"] == []
    assert (await ana.wait_for("pins_changed", lambda e: e["pins"] == []))["room_id"] == c.group_a
    assert await pins_of(avi, c.group_a) == []
    assert ok(await pin(lee, c.group_a, said["id"], "unpin"))["pins"] == []
    for socket in (ana, avi, bo):
        await socket.barrier()
    assert len(ana.received("pins_changed")) == 2
    assert avi.received("pins_changed") == [] and bo.received("pins_changed") == []

    # Each change is audited once, with the message and whose it is.
    entries = [e for e in await audit(api, c.mod_lee, c.group_a) if "pinned" in e["action"]]
    assert [e["action"] for e in reversed(entries)] == ["message_pinned", "message_unpinned"]
    for entry in entries:
        assert entry["message_id"] == said["id"]
        assert entry["actor"]["id"] == c.mod_lee.id and entry["target_user"]["id"] == c.pat_ana.id


async def test_patients_and_alumni_cannot_pin_or_unpin(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    ana, dee, lee = [await peer(p.token) for p in (c.pat_ana, c.alum_dee, c.mod_lee)]
    mine = await send(ana, c.group_a, AGREEMENT)
    in_lounge = await send(dee, c.lounge, "Alumni night is Thursday.")
    refused(await pin(ana, c.group_a, mine["id"]), "forbidden")
    refused(await pin(dee, c.lounge, in_lounge["id"]), "forbidden")
    assert await pins_of(ana, c.group_a) == [] and await pins_of(dee, c.lounge) == []

    ok(await pin(lee, c.group_a, mine["id"]))
    refused(await pin(ana, c.group_a, mine["id"], "unpin"), "forbidden")
    assert pinned_ids(await pins_of(ana, c.group_a)) == [mine["id"]]
    pinned = [e for e in await audit(api, c.mod_lee) if e["action"].endswith("pinned")]
    assert [(e["action"], e["actor"]["id"]) for e in pinned] == [("message_pinned", c.mod_lee.id)]


async def test_only_a_live_message_of_the_room_may_be_pinned(
    community: Community, peer: PeerFactory
) -> None:
    c = community
    ana, bo, lee = [await peer(p.token) for p in (c.pat_ana, c.pat_bo, c.mod_lee)]
    elsewhere = await send(bo, c.group_b, "said in Group B")
    gone = await send(ana, c.group_a, "never mind")
    ok(await ana.call("delete", {"message_id": gone["id"]}))
    for room_id, message_id in (
        (c.group_a, 2_000_000),  # no such message
        (c.group_a, elsewhere["id"]),  # another room's
        (c.group_a, gone["id"]),  # deleted
        (2_000_000, elsewhere["id"]),  # no such room
    ):
        refused(await pin(lee, room_id, message_id), "not_found")
    refused(await pin(lee, c.group_a, elsewhere["id"], "unpin"), "not_found")
    assert await pins_of(lee, c.group_a) == [] and await pins_of(lee, c.group_b) == []
    for payload in ({}, {"room_id": c.group_a}, {"room_id": c.group_a, "message_id": 0}):
        refused(await lee.call("pin", payload), "invalid")
    refused(await lee.call("pins", {"room_id": "x"}), "invalid")


async def test_a_room_holds_at_most_ten_pins(community: Community, peer: PeerFactory) -> None:
    c = community
    ana, lee = await peer(c.pat_ana.token), await peer(c.mod_lee.token)
    said = [await send(ana, c.group_a, f"agreement {n}") for n in range(MAX_PINS + 1)]
    # Pinned newest message first, each in the same instant.
    for message in reversed(said[:MAX_PINS]):
        ok(await pin(lee, c.group_a, message["id"]))
    error = refused(await pin(lee, c.group_a, said[-1]["id"]), "conflict")
    assert "unpin one first" in error["message"]
    # The latest pinned first.
    listed = await pins_of(ana, c.group_a)
    assert pinned_ids(listed) == [m["id"] for m in said[:MAX_PINS]]

    ok(await pin(lee, c.group_a, said[0]["id"], "unpin"))
    ok(await pin(lee, c.group_a, said[-1]["id"]))
    # A pinned message deleted since holds no place.
    ok(await ana.call("delete", {"message_id": said[1]["id"]}))
    assert said[1]["id"] not in pinned_ids(await pins_of(ana, c.group_a))
    ok(await pin(lee, c.group_a, said[0]["id"]))
    assert len(await pins_of(ana, c.group_a)) == MAX_PINS


async def test_an_edit_shows_in_the_pins(community: Community, peer: PeerFactory) -> None:
    c = community
    ana, lee = await peer(c.pat_ana.token), await peer(c.mod_lee.token)
    said = await send(ana, c.group_a, "first draft")
    ok(await pin(lee, c.group_a, said["id"]))
    ok(await ana.call("edit", {"message_id": said["id"], "body": AGREEMENT}))
    [pinned] = await pins_of(lee, c.group_a)
    assert pinned["body"] == AGREEMENT


@with_settings(retention_group_days=2, retention_interval_hours=1)
async def test_a_deleted_or_retention_deleted_message_leaves_the_pins(
    api: Api, community: Community, peer: PeerFactory, clock: FakeClock
) -> None:
    c = community
    ana, lee = await peer(c.pat_ana.token), await peer(c.mod_lee.token)
    old_id = await sent_days_ago(clock, 3, ana, c.group_a, "an old agreement")
    taken_back = await send(ana, c.group_a, "something I regret saying")
    kept = await send(ana, c.group_a, AGREEMENT)
    for message_id in (old_id, taken_back["id"], kept["id"]):
        ok(await pin(lee, c.group_a, message_id))
    await joined(lee, c.group_a)

    ok(await ana.call("delete", {"message_id": taken_back["id"]}))
    await lee.wait_for("message_deleted", lambda e: e["id"] == taken_back["id"])
    assert pinned_ids(await pins_of(ana, c.group_a)) == [kept["id"], old_id]

    await run_retention(clock)
    stored = await stored_messages(api, c.mod_lee.token, c.group_a)
    assert old_id not in [m["id"] for m in stored]
    assert pinned_ids(await pins_of(ana, c.group_a)) == [kept["id"]]


async def test_every_member_sees_the_pins_whatever_history_they_may_read(
    api: Api, community: Community, peer: PeerFactory, clock: FakeClock
) -> None:
    """Group rooms show a member what was said from when they joined (rooms/visibility.py);
    a pin is staff showing one message to all, the newcomer most."""
    c = community
    ana, lee = await peer(c.pat_ana.token), await peer(c.mod_lee.token)
    said = await send(lee, c.group_a, AGREEMENT)
    ok(await pin(lee, c.group_a, said["id"]))
    await clock.advance(minutes=5)
    cy = await register(api, c.mod_lee, "pat_cy", "patient", c.cohort_a)
    cy_socket = await peer(cy.token)
    page = await joined(cy_socket, c.group_a)
    assert said["id"] not in [m["id"] for m in page["messages"]]
    assert await pins_of(cy_socket, c.group_a) == await pins_of(ana, c.group_a)
    assert pinned_ids(await pins_of(cy_socket, c.group_a)) == [said["id"]]
