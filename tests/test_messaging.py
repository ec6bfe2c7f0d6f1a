"""Messaging over Socket.IO and HTTP: delivery, idempotency, ordering, catch-up, paging, edit,
delete, reactions, typing, presence and room locks (docs/api/, rooms and messages)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from server.rooms.http import ROOMS
from tests.conftest import PeerFactory
from tests.support import (
    Api,
    Community,
    Peer,
    Person,
    RunningServer,
    barrier,
    close,
    joined,
    new_client_id,
    ok,
    parse_utc,
    patch_room,
    public,
    refused,
    send,
    stored_bodies,
    try_send,
)

pytestmark = pytest.mark.persistence

UNKNOWN_ID = 987_654_321


# ----- helpers -----


async def send_many(
    peer: Peer, room_id: int, bodies: list[str], batch: int = 50
) -> list[dict[str, Any]]:
    """Send through one socket, `batch` at a time without awaiting acks in between."""
    sent: list[dict[str, Any]] = []
    for start in range(0, len(bodies), batch):
        acks = await asyncio.gather(
            *(
                peer.call("send", {"room_id": room_id, "body": body, "client_id": new_client_id()})
                for body in bodies[start : start + batch]
            )
        )
        sent += [ok(ack)["message"] for ack in acks]
    return sent


async def wait_message(peer: Peer, message_id: int) -> dict[str, Any]:
    return dict(await peer.wait_for("message", lambda m: m["id"] == message_id))


async def wait_count(peer: Peer, event: str, count: int) -> None:
    await peer.wait_for(event, lambda _: len(peer.received(event)) >= count)


def ids(messages: list[dict[str, Any]]) -> list[int]:
    return [message["id"] for message in messages]


async def room_entry(api: Api, person: Person, room_id: int) -> dict[str, Any]:
    reply = await api.get("/api/rooms", token=person.token)
    assert reply.status == 200, reply.body
    rooms = [room for room in reply.body["rooms"] if room["id"] == room_id]
    assert len(rooms) == 1, reply.body
    return dict(rooms[0])


async def http_history(
    api: Api, person: Person, room_id: int, *, before: int | None = None, limit: int | None = None
) -> dict[str, Any]:
    query = "&".join(
        f"{name}={value}"
        for name, value in (("before", before), ("limit", limit))
        if value is not None
    )
    reply = await api.get(f"/api/rooms/{room_id}/messages?{query}", token=person.token)
    assert reply.status == 200, reply.body
    return dict(reply.body)


async def socket_history(
    peer: Peer, room_id: int, *, before: int | None = None, limit: int | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {"room_id": room_id}
    if before is not None:
        data["before"] = before
    if limit is not None:
        data["limit"] = limit
    return ok(await peer.call("history", data))


# ----- delivery -----


async def test_every_joined_peer_receives_each_message_exactly_once(
    community: Community, peer: PeerFactory
) -> None:
    room = community.group_a
    ana_1 = await peer(community.pat_ana.token)
    ana_2 = await peer(community.pat_ana.token)  # a second tab of the same user
    avi = await peer(community.pat_avi.token)
    lee = await peer(community.mod_lee.token)
    ana_idle = await peer(community.pat_ana.token)  # connected, never joins
    joined_peers = [ana_1, ana_2, avi, lee]
    for each in joined_peers:
        await joined(each, room)

    senders = [ana_1, avi, lee, ana_2]
    sent = [await send(senders[n % 4], room, f"round {n}") for n in range(10)]
    sent_ids = ids(sent)
    assert len(set(sent_ids)) == 10

    for each in joined_peers:
        await wait_message(each, sent_ids[-1])
    await barrier(*joined_peers, ana_idle)

    for each in joined_peers:
        received = each.received("message")
        assert Counter(ids(received)) == Counter(sent_ids), received
        assert ids(received) == sent_ids
        assert [m["body"] for m in received] == [f"round {n}" for n in range(10)]
    assert ana_idle.received("message") == []


async def test_send_ack_carries_the_stored_message(
    community: Community, peer: PeerFactory, server: RunningServer, api: Api
) -> None:
    room = community.group_a
    ana = await peer(community.pat_ana.token)
    avi = await peer(community.pat_avi.token)
    await joined(ana, room)
    await joined(avi, room)
    client_id = new_client_id()
    ack = ok(
        await ana.call(
            "send", {"room_id": room, "body": "  \n hello there \t ", "client_id": client_id}
        )
    )
    message = ack["message"]
    assert isinstance(message["id"], int)
    assert message["room_id"] == room
    assert message["author"] == public(community.pat_ana)
    assert message["body"] == "hello there"
    assert message["client_id"] == client_id
    created = parse_utc(message["created_at"])
    assert abs(created - server.clock.now()) < timedelta(milliseconds=1)
    assert message["edited_at"] is None
    assert message["deleted"] is False
    assert message["reactions"] == {}

    assert await wait_message(avi, message["id"]) == message
    stored = await http_history(api, community.pat_avi, room)
    assert stored["messages"] == [message]


async def test_send_is_idempotent_per_user_room_and_client_id(
    community: Community, peer: PeerFactory
) -> None:
    ana = await peer(community.pat_ana.token)
    ana_tab = await peer(community.pat_ana.token)
    avi = await peer(community.pat_avi.token)
    for each in (ana, ana_tab, avi):
        await joined(each, community.group_a)
        await joined(each, community.commons)
    client_id = new_client_id()

    first = await send(ana, community.group_a, "only once", client_id)
    again = await send(ana, community.group_a, "only once", client_id)
    assert again == first
    # A repeat answers the first message even when the body differs, and from another tab.
    other_body = await send(ana_tab, community.group_a, "a different body", client_id)
    assert other_body["id"] == first["id"]
    assert other_body["body"] == "only once"

    in_commons = await send(ana, community.commons, "only once", client_id)
    by_avi = await send(avi, community.group_a, "only once", client_id)
    assert len({first["id"], in_commons["id"], by_avi["id"]}) == 3
    assert in_commons["room_id"] == community.commons
    assert by_avi["author"] == public(community.pat_avi)

    for each in (ana, ana_tab, avi):
        await wait_message(each, by_avi["id"])
        await wait_message(each, in_commons["id"])
    await barrier(ana, ana_tab, avi)
    for each in (ana, ana_tab, avi):
        assert sorted(ids(each.received("message"))) == sorted(
            [first["id"], in_commons["id"], by_avi["id"]]
        )


async def test_a_repeated_send_is_answered_with_the_stored_one_when_the_room_now_refuses(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    """A send whose answer was lost (a dropped connection) is sent again by the client; the
    message was stored and delivered, so slow mode, a lock or a mute that came meanwhile must
    not report it refused."""
    room = community.group_a
    ana, avi = await peer(community.pat_ana.token), await peer(community.pat_avi.token)
    for each in (ana, avi):
        await joined(each, room)
    client_id = new_client_id()
    first = await send(ana, room, "did this go through?", client_id)

    await patch_room(api, community.mod_lee, room, slow_mode_s=60)
    assert await send(ana, room, "did this go through?", client_id) == first
    refused(await try_send(ana, room, "a new message"), "rate_limited")
    await patch_room(api, community.mod_lee, room, slow_mode_s=0, locked=True)
    assert await send(ana, room, "did this go through?", client_id) == first
    refused(await try_send(ana, room, "a new message"), "room_locked")

    assert (await stored_bodies(api, community.mod_lee, room)).count("did this go through?") == 1
    await barrier(avi)
    assert ids(avi.received("message")) == [first["id"]]


async def test_pipelined_sends_are_stored_and_delivered_in_send_order(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    room = community.group_a
    ana = await peer(community.pat_ana.token)
    avi = await peer(community.pat_avi.token)
    await joined(ana, room)
    await joined(avi, room)
    bodies = [f"burst {n:02d}" for n in range(30)]

    acks = await asyncio.gather(
        *(
            ana.call("send", {"room_id": room, "body": body, "client_id": f"burst-{n}"})
            for n, body in enumerate(bodies)
        )
    )
    messages = [ok(ack)["message"] for ack in acks]
    assert [m["body"] for m in messages] == bodies
    sent_ids = ids(messages)
    assert sent_ids == sorted(sent_ids) and len(set(sent_ids)) == 30

    for each in (ana, avi):
        await wait_message(each, sent_ids[-1])
    await barrier(ana, avi)
    for each in (ana, avi):
        received = each.received("message")
        assert ids(received) == sent_ids
        assert [m["body"] for m in received] == bodies

    stored = await http_history(api, community.pat_avi, room, limit=100)
    assert [m["body"] for m in stored["messages"]] == bodies
    assert ids(stored["messages"]) == sent_ids


# ----- catching up and paging -----


async def test_join_since_returns_exactly_the_missed_messages(
    community: Community, peer: PeerFactory
) -> None:
    room = community.group_a
    ana = await peer(community.pat_ana.token)
    avi = await peer(community.pat_avi.token)
    await joined(ana, room)
    await joined(avi, room)
    seen = await send(ana, room, "before I step out")
    await wait_message(ana, seen["id"])
    ok(await ana.call("leave", {"room_id": room}))

    missed = [await send(avi, room, f"while you were out {n}") for n in range(5)]
    await avi.wait_for("message", lambda m: m["id"] == missed[-1]["id"])
    await barrier(ana)
    assert ids(ana.received("message")) == [seen["id"]]

    rejoin = await joined(ana, room, since=seen["id"])
    assert rejoin["messages"] == missed
    assert rejoin["has_more"] is False

    caught_up = await joined(ana, room, since=missed[-1]["id"])
    assert caught_up["messages"] == []
    assert caught_up["has_more"] is False


async def test_a_burst_of_joins_all_succeed(community: Community, peer: PeerFactory) -> None:
    """A reconnect storm: more sockets join at once than the database pool has connections."""
    sockets = [await peer(community.pat_ana.token) for _ in range(40)]
    acks = await asyncio.gather(
        *(socket.call("join", {"room_id": community.group_a}) for socket in sockets)
    )
    assert [ack.get("ok") for ack in acks] == [True] * len(sockets), acks


async def test_the_same_join_asked_again_while_under_way_is_done_once(
    server: RunningServer, community: Community, peer: PeerFactory
) -> None:
    """A client whose join passed its deadline asks again; the join under way answers both
    (in a reconnect storm the repeats doubled the work). Another room, or another `since`,
    is a join of its own."""
    rooms = server.app[ROOMS]
    entered: list[int] = []
    enter = rooms.presence.enter

    async def slow_enter(connection: Any, room_id: int) -> None:
        entered.append(room_id)
        await asyncio.sleep(0.3)  # long enough for the asks below to overlap
        await enter(connection, room_id)

    rooms.presence.enter = slow_enter  # type: ignore[method-assign]
    ana = await peer(community.pat_ana.token)
    group, commons = community.group_a, community.commons
    acks = await asyncio.gather(
        ana.call("join", {"room_id": group}),
        ana.call("join", {"room_id": group}),
        ana.call("join", {"room_id": commons}),
        ana.call("join", {"room_id": commons, "since": 0}),
    )
    assert [ack.get("ok") for ack in acks] == [True] * 4, acks
    assert acks[0] == acks[1]
    assert sorted(entered) == sorted([group, commons, commons])
    assert ok(await ana.call("join", {"room_id": group}))  # and again once it is done
    assert entered.count(group) == 2


async def test_join_pages_latest_50_and_at_most_200_missed(
    community: Community, peer: PeerFactory
) -> None:
    room = community.group_a
    ana = await peer(community.pat_ana.token)
    avi = await peer(community.pat_avi.token)
    await joined(ana, room)
    await joined(avi, room)
    seen = await send(ana, room, "last one I saw")
    ok(await ana.call("leave", {"room_id": room}))
    missed = await send_many(avi, room, [f"missed {n}" for n in range(205)])
    assert ids(missed) == sorted(ids(missed))

    rejoin = await joined(ana, room, since=seen["id"])
    assert ids(rejoin["messages"]) == ids(missed[:200])
    assert [m["body"] for m in rejoin["messages"]] == [f"missed {n}" for n in range(200)]
    assert rejoin["has_more"] is True

    latest = await joined(await peer(community.pat_ana.token), room)
    assert ids(latest["messages"]) == ids(missed[-50:])
    assert latest["has_more"] is True
    assert latest["room"]["id"] == room


async def test_history_pages_cover_500_messages_without_gaps_or_repeats(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    room = community.group_a
    ana = await peer(community.pat_ana.token)
    await joined(ana, room)
    sent = await send_many(ana, room, [f"line {n}" for n in range(500)])
    all_ids = ids(sent)
    assert all_ids == sorted(all_ids) and len(set(all_ids)) == 500

    async def by_socket(before: int | None) -> dict[str, Any]:
        return await socket_history(ana, room, before=before, limit=100)

    async def by_http(before: int | None) -> dict[str, Any]:
        return await http_history(api, community.pat_ana, room, before=before, limit=100)

    for fetch in (by_socket, by_http):
        pages: list[list[int]] = []
        more: list[bool] = []
        before: int | None = None
        while True:
            page = await fetch(before)
            page_ids = ids(page["messages"])
            pages.append(page_ids)
            more.append(page["has_more"])
            assert page_ids == sorted(page_ids), page_ids
            assert len(page_ids) == 100, (fetch.__name__, len(pages), page_ids)
            if not page["has_more"] or len(pages) > 10:
                break
            before = page_ids[0]
        assert more == [True, True, True, True, False], fetch.__name__
        flat = [message_id for page_ids in reversed(pages) for message_id in page_ids]
        assert flat == all_ids, fetch.__name__

    last_page = await by_http(all_ids[100])
    assert ids(last_page["messages"]) == all_ids[:100]
    assert last_page["has_more"] is False
    assert (await by_socket(all_ids[0]))["messages"] == []


# ----- edit -----


async def test_edit_by_author_within_window_and_refusals(
    community: Community, peer: PeerFactory, server: RunningServer, api: Api
) -> None:
    room = community.group_a
    ana = await peer(community.pat_ana.token)
    avi = await peer(community.pat_avi.token)
    lee = await peer(community.mod_lee.token)
    for each in (ana, avi, lee):
        await joined(each, room)
    original = await send(ana, room, "I feel okay")
    await server.clock.advance(minutes=1)

    edited = ok(await ana.call("edit", {"message_id": original["id"], "body": "  I feel good  "}))[
        "message"
    ]
    assert edited["id"] == original["id"]
    assert edited["body"] == "I feel good"
    assert edited["created_at"] == original["created_at"]
    assert parse_utc(edited["edited_at"]) > parse_utc(original["created_at"])
    for each in (avi, lee):
        update = await each.wait_for("message_updated", lambda m: m["id"] == original["id"])
        assert update["body"] == "I feel good"
        assert update["edited_at"] == edited["edited_at"]
        assert update["author"] == public(community.pat_ana)
    history = await http_history(api, community.pat_avi, room)
    assert history["messages"][-1]["body"] == "I feel good"
    assert history["messages"][-1]["edited_at"] == edited["edited_at"]

    refused(await avi.call("edit", {"message_id": original["id"], "body": "hijack"}), "forbidden")
    refused(await lee.call("edit", {"message_id": original["id"], "body": "hijack"}), "forbidden")

    await server.clock.advance(minutes=server.settings.edit_window_minutes + 1)
    refused(await ana.call("edit", {"message_id": original["id"], "body": "too late"}), "forbidden")
    history = await http_history(api, community.pat_avi, room)
    assert history["messages"][-1]["body"] == "I feel good"

    fresh = await send(ana, room, "to be removed")
    ok(await ana.call("delete", {"message_id": fresh["id"]}))
    refused(await ana.call("edit", {"message_id": fresh["id"], "body": "back"}), "not_found")
    refused(await ana.call("edit", {"message_id": UNKNOWN_ID, "body": "x"}), "not_found")


# ----- delete -----


async def test_delete_by_author_and_by_moderator(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    room = community.group_a
    ana = await peer(community.pat_ana.token)
    avi = await peer(community.pat_avi.token)
    lee = await peer(community.mod_lee.token)
    everyone = (ana, avi, lee)
    for each in everyone:
        await joined(each, room)
    mine = await send(ana, room, "I take this back")
    avis = await send(avi, room, "avi's first")
    avis_second = await send(avi, room, "avi's second")

    ok(await ana.call("delete", {"message_id": mine["id"]}))
    for each in everyone:
        gone = await each.wait_for("message_deleted", lambda d: d["id"] == mine["id"])
        assert gone["room_id"] == room
    history = {m["id"]: m for m in (await http_history(api, community.pat_avi, room))["messages"]}
    assert history[mine["id"]]["body"] == ""
    assert history[mine["id"]]["deleted"] is True
    assert history[mine["id"]]["author"] == public(community.pat_ana)
    page = await socket_history(avi, room)
    assert [m for m in page["messages"] if m["id"] == mine["id"]] == [history[mine["id"]]]

    refused(await ana.call("delete", {"message_id": avis["id"]}), "forbidden")
    history = {m["id"]: m for m in (await http_history(api, community.pat_avi, room))["messages"]}
    assert history[avis["id"]]["deleted"] is False
    assert history[avis["id"]]["body"] == "avi's first"

    ok(await lee.call("delete", {"message_id": avis["id"]}))
    for each in everyone:
        gone = await each.wait_for("message_deleted", lambda d: d["id"] == avis["id"])
        assert gone["room_id"] == room

    reply = await api.call(
        "DELETE", f"/api/messages/{avis_second['id']}", token=community.pat_ana.token
    )
    assert reply.status == 403, reply.body
    assert reply.error_code == "forbidden"
    reply = await api.call(
        "DELETE", f"/api/messages/{avis_second['id']}", token=community.mod_lee.token
    )
    assert reply.status == 204, reply.body
    for each in everyone:
        gone = await each.wait_for("message_deleted", lambda d: d["id"] == avis_second["id"])
        assert gone["room_id"] == room

    history = {m["id"]: m for m in (await http_history(api, community.pat_ana, room))["messages"]}
    for message_id in (avis["id"], avis_second["id"]):
        assert history[message_id]["deleted"] is True
        assert history[message_id]["body"] == ""

    refused(await lee.call("delete", {"message_id": UNKNOWN_ID}), "not_found")
    reply = await api.call("DELETE", f"/api/messages/{UNKNOWN_ID}", token=community.mod_lee.token)
    assert reply.status == 404, reply.body
    assert reply.error_code == "not_found"
    await barrier(*everyone)
    for each in everyone:
        assert sorted(d["id"] for d in each.received("message_deleted")) == sorted(
            [mine["id"], avis["id"], avis_second["id"]]
        )


# ----- reactions -----


async def test_react_toggles_and_broadcasts(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    room = community.group_a
    ana = await peer(community.pat_ana.token)
    avi = await peer(community.pat_avi.token)
    # The join ack offers the configured set, which is what `react` accepts.
    offered = (await joined(ana, room))["reaction_emojis"]
    assert offered == ["👍", "❤️", "🙏", "💪", "🤗", "😢", "😂", "🎉"]
    await joined(avi, room)
    message = await send(avi, room, "I made it through the week")
    emoji = offered[0]

    first = ok(await ana.call("react", {"message_id": message["id"], "emoji": emoji}))
    assert first["reactions"] == {emoji: 1}
    for each in (ana, avi):
        event = await each.wait_for("reactions", lambda r: r["message_id"] == message["id"])
        assert event == {"message_id": message["id"], "room_id": room, "reactions": {emoji: 1}}
    history = await http_history(api, community.pat_ana, room)
    assert history["messages"][-1]["reactions"] == {emoji: 1}

    second = ok(await ana.call("react", {"message_id": message["id"], "emoji": emoji}))
    assert second["reactions"].get(emoji, 0) == 0
    for each in (ana, avi):
        await each.wait_for(
            "reactions",
            lambda r: r["message_id"] == message["id"] and r["reactions"].get(emoji, 0) == 0,
        )
    history = await http_history(api, community.pat_ana, room)
    assert history["messages"][-1]["reactions"].get(emoji, 0) == 0

    refused(await ana.call("react", {"message_id": message["id"], "emoji": "🦄"}), "invalid")
    refused(await ana.call("react", {"message_id": UNKNOWN_ID, "emoji": emoji}), "not_found")
    await barrier(avi)
    assert len(avi.received("reactions")) == 2


# ----- typing -----


async def test_typing_reaches_others_and_is_throttled(
    community: Community, peer: PeerFactory, server: RunningServer
) -> None:
    room = community.group_a
    ana = await peer(community.pat_ana.token)
    avi = await peer(community.pat_avi.token)
    lee = await peer(community.mod_lee.token)
    for each in (ana, avi, lee):
        await joined(each, room)
    expected = {"room_id": room, "user": public(community.pat_ana)}

    ok(await ana.call("typing", {"room_id": room}))
    for each in (avi, lee):
        assert await each.wait_for("typing") == expected
    ok(await ana.call("typing", {"room_id": room}))
    await barrier(ana, avi, lee)
    assert avi.received("typing") == [expected]
    assert lee.received("typing") == [expected]
    assert ana.received("typing") == []

    await server.clock.advance(seconds=server.settings.typing_throttle_s + 0.1)
    ok(await ana.call("typing", {"room_id": room}))
    for each in (avi, lee):
        await wait_count(each, "typing", 2)
    await barrier(ana, avi)
    assert avi.received("typing") == [expected, expected]
    assert ana.received("typing") == []

    outsider = await peer(community.pat_avi.token)
    refused(await outsider.call("typing", {"room_id": room}), "forbidden")
    refused(await ana.call("typing", {"room_id": community.group_b}), "forbidden")
    await barrier(ana, lee)
    assert len(ana.received("typing")) == 0
    assert [t["user"]["id"] for t in lee.received("typing")] == [community.pat_ana.id] * 2


# ----- presence -----


async def test_presence_follows_first_and_last_connection(
    community: Community, peer: PeerFactory, api: Api, server: RunningServer
) -> None:
    room = community.group_a
    ana = await peer(community.pat_ana.token)
    first = await joined(ana, room)
    assert first["online"] == [public(community.pat_ana)]
    assert (await room_entry(api, community.pat_ana, room))["online_count"] == 1

    avi_tab_1 = await peer(community.pat_avi.token)
    avi_join = await joined(avi_tab_1, room)
    online = await ana.wait_for("presence")
    assert online == {"room_id": room, "user": public(community.pat_avi), "status": "online"}
    assert sorted(avi_join["online"], key=lambda u: u["id"]) == sorted(
        [public(community.pat_ana), public(community.pat_avi)], key=lambda u: u["id"]
    )
    assert avi_join["room"]["online_count"] == 2
    assert (await room_entry(api, community.pat_ana, room))["online_count"] == 2

    avi_tab_2 = await peer(community.pat_avi.token)
    second_tab = await joined(avi_tab_2, room)
    assert {u["id"] for u in second_tab["online"]} == {community.pat_ana.id, community.pat_avi.id}
    await barrier(ana)
    assert ana.received("presence") == [online]
    assert (await room_entry(api, community.pat_ana, room))["online_count"] == 2
    presence = await api.get(f"/api/rooms/{room}/presence", token=community.pat_ana.token)
    assert presence.status == 200, presence.body
    assert {u["id"] for u in presence.body["online"]} == {
        community.pat_ana.id,
        community.pat_avi.id,
    }

    await close(server, avi_tab_2)
    await barrier(ana)
    assert ana.received("presence") == [online]
    assert (await room_entry(api, community.pat_ana, room))["online_count"] == 2

    await avi_tab_1.disconnect()
    offline = await ana.wait_for("presence", lambda p: p["status"] == "offline")
    assert offline == {"room_id": room, "user": public(community.pat_avi), "status": "offline"}
    await barrier(ana)
    assert len(ana.received("presence")) == 2
    assert (await room_entry(api, community.pat_ana, room))["online_count"] == 1

    ok(await ana.call("leave", {"room_id": community.commons}))
    refused(await ana.call("leave", {"room_id": UNKNOWN_ID}), "not_found")


# ----- room lock -----


async def test_locked_room_refuses_patients_but_not_moderators(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    room = community.group_a
    ana = await peer(community.pat_ana.token)
    lee = await peer(community.mod_lee.token)
    outsider = await peer(community.pat_bo.token)
    await joined(ana, room)
    await joined(lee, room)

    denied = await api.call(
        "PATCH", f"/api/rooms/{room}", token=community.pat_ana.token, json={"locked": True}
    )
    assert denied.status == 403, denied.body
    assert denied.error_code == "forbidden"

    reply = await api.call(
        "PATCH", f"/api/rooms/{room}", token=community.mod_lee.token, json={"locked": True}
    )
    assert reply.status == 200, reply.body
    assert reply.body["room"]["id"] == room
    assert reply.body["room"]["locked"] is True
    for each in (ana, lee):
        update = await each.wait_for("room_updated", lambda r: r["locked"] is True)
        assert update["id"] == room
        assert update["name"] == "Group A"

    refused(
        await ana.call(
            "send", {"room_id": room, "body": "can I speak?", "client_id": new_client_id()}
        ),
        "room_locked",
    )
    from_lee = await send(lee, room, "Pausing the room for a moment.")
    await wait_message(ana, from_lee["id"])
    history = await http_history(api, community.pat_ana, room)
    assert [m["body"] for m in history["messages"]] == ["Pausing the room for a moment."]
    assert (await room_entry(api, community.pat_ana, room))["locked"] is True

    reply = await api.call(
        "PATCH", f"/api/rooms/{room}", token=community.mod_lee.token, json={"locked": False}
    )
    assert reply.status == 200, reply.body
    assert reply.body["room"]["locked"] is False
    for each in (ana, lee):
        await each.wait_for("room_updated", lambda r: r["locked"] is False)
    again = await send(ana, room, "can I speak now?")
    await wait_message(lee, again["id"])
    await barrier(ana, outsider)
    assert outsider.received("room_updated") == []
    assert len(ana.received("room_updated")) == 2
