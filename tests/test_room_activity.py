"""Live unread counts outside the room one is in (server/rooms/activity.py,
docs/api/events/activity.md): a socket of someone who may read a room, not in it, gets
`room_activity` with the room's id, the newest message's id and how many there were (at most
one event a second per room), and `room_mention` when a message mentions or replies to its
person; never the text or the author. Those in the room get `message` instead; those outside
the audience, banned or of another cohort get nothing, and that follows their access as it
changes; with two processes on Redis it reaches the sockets of both."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from server.kernel.actors import Actor, Role
from server.rooms.models import Audience, Room
from server.rooms.policy import audience_channels, may_enter, room_channels
from tests.cluster import Cluster
from tests.conftest import PeerFactory
from tests.support import (
    Api,
    Community,
    FakeClock,
    Peer,
    RunningServer,
    ban,
    barrier,
    joined,
    new_client_id,
    ok,
    send,
    with_settings,
)
from tests.test_consent import renoticed  # noqa: F401 - a fixture

pytestmark = pytest.mark.persistence


def activity(peer: Peer) -> list[dict[str, Any]]:
    return peer.received("room_activity")


def mentions(peer: Peer) -> list[dict[str, Any]]:
    return peer.received("room_mention")


def about(message: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    """A `Peer.wait_for` match for the event that tells of this message."""
    return lambda told: told["message_id"] == message["id"]


async def send_with(peer: Peer, room_id: int, body: str, **extra: Any) -> dict[str, Any]:
    payload = {"room_id": room_id, "body": body, "client_id": new_client_id(), **extra}
    return dict(ok(await peer.call("send", payload))["message"])


async def next_turn(clock: FakeClock) -> None:
    """A second on: each room's next message is told of at once again."""
    await clock.advance(seconds=1)


# ----- the audience channels say the entry rule over again -----


def a_room(name: str, audience: Audience, **fields: Any) -> Room:
    return Room(name=name, kind="group", audience=audience, created_at=datetime.now(UTC), **fields)


def test_a_persons_audience_channels_are_those_of_exactly_the_rooms_they_may_enter() -> None:
    cohorts: list[frozenset[int]] = [frozenset(), frozenset({1}), frozenset({1, 2}), frozenset({2})]
    actors = [
        Actor(7, "someone", role, cohort_ids)
        for role, cohort_ids in itertools.product(list(Role), cohorts)
    ]
    rooms = [
        a_room("everyone", Audience.EVERYONE),
        a_room("alumni", Audience.ALUMNI),
        a_room("cohort 1", Audience.COHORT, cohort_id=1),
        a_room("cohort 2", Audience.COHORT, cohort_id=2),
        a_room("cohort-less", Audience.COHORT),
        a_room("mine", Audience.PERSON, member_id=7),
        a_room("another's", Audience.PERSON, member_id=8),
    ]
    for actor, room in itertools.product(actors, rooms):
        follows = bool(audience_channels(actor) & set(room_channels(room)))
        assert follows == may_enter(actor, room), (actor.role, actor.cohort_ids, room.name)


# ----- who hears, and what -----


async def test_a_member_not_in_the_room_hears_only_its_id_the_newest_id_and_a_count(
    community: Community, peer: PeerFactory
) -> None:
    c = community
    ana, avi = await peer(c.pat_ana.token), await peer(c.pat_avi.token)
    sent = await send(avi, c.group_a, "a private thing said in the group")

    told = await ana.wait_for("room_activity")
    assert told == {"room_id": c.group_a, "message_id": sent["id"], "count": 1}
    # The author's own sockets are not told of their own message.
    await barrier(avi)
    assert activity(avi) == []


async def test_a_socket_in_the_room_gets_the_message_and_no_activity(
    community: Community, peer: PeerFactory
) -> None:
    c = community
    in_room, on_the_list = await peer(c.pat_ana.token), await peer(c.pat_ana.token)
    await joined(in_room, c.group_a)
    avi = await peer(c.pat_avi.token)
    sent = await send(avi, c.group_a, "hello")

    await in_room.wait_for("message", lambda message: message["id"] == sent["id"])
    await on_the_list.wait_for("room_activity")
    await barrier(in_room, on_the_list)
    assert activity(in_room) == []
    assert on_the_list.received("message") == []


async def test_only_those_who_may_read_the_room_hear_of_it(
    community: Community, peer: PeerFactory, api: Api, clock: FakeClock
) -> None:
    c = community
    ana, bo, dee, lee = [
        await peer(person.token) for person in (c.pat_ana, c.pat_bo, c.alum_dee, c.mod_lee)
    ]
    avi = await peer(c.pat_avi.token)
    everyone = (ana, bo, dee, lee)

    await send(avi, c.group_a, "cohort A only")
    await ana.wait_for("room_activity")
    await lee.wait_for("room_activity")  # staff may enter every room
    await barrier(*everyone)
    assert (activity(bo), activity(dee)) == ([], [])

    await send(avi, c.commons, "for everyone")
    for each in (bo, dee):
        await each.wait_for("room_activity", lambda told: told["room_id"] == c.commons)

    await send(lee, c.lounge, "for alumni")
    await dee.wait_for("room_activity", lambda told: told["room_id"] == c.lounge)
    await barrier(*everyone)
    assert [told["room_id"] for told in activity(ana)] == [c.group_a, c.commons]
    assert [told["room_id"] for told in activity(bo)] == [c.commons]

    # Banned from Group A, Ana hears nothing of it (as her room list says nothing of it);
    # of the other rooms she hears as before.
    await ban(api, c, c.group_a, c.pat_ana.id)
    await next_turn(clock)
    in_group = await send(avi, c.group_a, "after the ban")
    await lee.wait_for("room_activity", about(in_group))
    in_commons = await send(avi, c.commons, "again for everyone")
    await ana.wait_for("room_activity", about(in_commons))
    await barrier(ana)
    assert [told["room_id"] for told in activity(ana)] == [c.group_a, c.commons, c.commons]


async def test_a_lifted_ban_lets_the_person_hear_again(
    community: Community, peer: PeerFactory, api: Api, clock: FakeClock
) -> None:
    c = community
    ana, avi = await peer(c.pat_ana.token), await peer(c.pat_avi.token)
    await ban(api, c, c.group_a, c.pat_ana.id)
    await send(avi, c.group_a, "while she is banned")
    await barrier(ana)
    assert activity(ana) == []

    lifted = await api.delete(f"/api/rooms/{c.group_a}/bans/{c.pat_ana.id}", c.mod_lee.token)
    assert lifted.status == 204, lifted.body
    await next_turn(clock)
    sent = await send(avi, c.group_a, "after the ban was lifted")
    assert await ana.wait_for("room_activity") == {
        "room_id": c.group_a,
        "message_id": sent["id"],
        "count": 1,
    }


async def test_a_burst_is_told_once_a_second_with_the_newest_id_and_the_count(
    community: Community, peer: PeerFactory, clock: FakeClock
) -> None:
    c = community
    ana, avi = await peer(c.pat_ana.token), await peer(c.pat_avi.token)
    first = await send(avi, c.group_a, "one")
    later = [await send(avi, c.group_a, f"more {n}") for n in range(4)]
    await barrier(ana)
    assert activity(ana) == [{"room_id": c.group_a, "message_id": first["id"], "count": 1}]

    await next_turn(clock)
    await barrier(ana)
    assert activity(ana)[1:] == [{"room_id": c.group_a, "message_id": later[-1]["id"], "count": 4}]
    # Nothing waits now; the next message goes at once again.
    await next_turn(clock)
    last = await send(avi, c.group_a, "after a pause")
    await barrier(ana)
    assert activity(ana)[2:] == [{"room_id": c.group_a, "message_id": last["id"], "count": 1}]


async def test_another_rooms_turn_is_its_own(community: Community, peer: PeerFactory) -> None:
    c = community
    ana, avi = await peer(c.pat_ana.token), await peer(c.pat_avi.token)
    await send(avi, c.group_a, "in the group")
    await send(avi, c.commons, "in the commons")
    await barrier(ana)
    assert [told["room_id"] for told in activity(ana)] == [c.group_a, c.commons]


@with_settings(room_activity_frames_per_s=1)
async def test_past_the_frame_budget_a_room_waits_and_its_count_adds_up(
    community: Community, peer: PeerFactory, clock: FakeClock
) -> None:
    """Each room's activity costs a frame per socket of its audience on this process (here
    Ana's and Avi's): with one a second to spend, the group's takes the second's worth and
    more, and the commons waits until that is paid back."""
    c = community
    ana, avi = await peer(c.pat_ana.token), await peer(c.pat_avi.token)
    group = await send(avi, c.group_a, "in the group")
    commons = [await send(avi, c.commons, f"in the commons {n}") for n in range(2)]
    await barrier(ana)
    assert activity(ana) == [{"room_id": c.group_a, "message_id": group["id"], "count": 1}]

    await next_turn(clock)
    await barrier(ana)
    assert len(activity(ana)) == 1  # the second frame spent is still owed

    await next_turn(clock)
    await barrier(ana)
    assert activity(ana)[1:] == [
        {"room_id": c.commons, "message_id": commons[-1]["id"], "count": 2}
    ]


# ----- mentions and replies -----


async def test_the_person_a_message_mentions_or_replies_to_is_told_of_it(
    community: Community, peer: PeerFactory, api: Api, clock: FakeClock
) -> None:
    c = community
    ana, ana_in_room = await peer(c.pat_ana.token), await peer(c.pat_ana.token)
    await joined(ana_in_room, c.group_a)
    avi, lee = await peer(c.pat_avi.token), await peer(c.mod_lee.token)

    mention = await send_with(avi, c.group_a, "Thank you @Ana", mentions=[c.pat_ana.id])
    assert await ana.wait_for("room_mention") == {"room_id": c.group_a, "message_id": mention["id"]}

    mine = await send(ana_in_room, c.group_a, "a message of mine")
    await next_turn(clock)
    reply = await send_with(avi, c.group_a, "answering you", reply_to=mine["id"])
    await ana.wait_for("room_mention", lambda told: told["message_id"] == reply["id"])
    await barrier(ana_in_room, lee)
    # The socket in the room has both as `message`; nobody else was addressed.
    assert mentions(ana_in_room) == [] and mentions(lee) == []
    assert len(mentions(ana)) == 2

    # Banned since, the author of the original is not told of a reply to it.
    await ban(api, c, c.group_a, c.pat_ana.id)
    await send_with(avi, c.group_a, "a reply she may not read", reply_to=mine["id"])
    await barrier(ana)
    assert len(mentions(ana)) == 2


# ----- access that changes -----


async def test_a_graduate_hears_of_the_alumni_rooms_and_no_longer_of_the_group(
    community: Community, peer: PeerFactory, api: Api, clock: FakeClock
) -> None:
    c = community
    ana, avi, lee = [await peer(p.token) for p in (c.pat_ana, c.pat_avi, c.mod_lee)]
    await send(lee, c.lounge, "for alumni")
    await barrier(ana)
    assert activity(ana) == []

    graduated = await api.post(f"/api/users/{c.pat_ana.id}/graduate", None, c.mod_lee.token)
    assert graduated.status == 200, graduated.body
    await next_turn(clock)
    await send(avi, c.group_a, "the group goes on")
    lounge = await send(lee, c.lounge, "welcome to the lounge")
    told = await ana.wait_for("room_activity")
    await barrier(ana)
    assert activity(ana) == [told]
    assert told == {"room_id": c.lounge, "message_id": lounge["id"], "count": 1}


async def test_a_cohort_move_changes_which_group_a_person_hears_of(
    community: Community, peer: PeerFactory, api: Api, clock: FakeClock
) -> None:
    c = community
    ana, avi, bo = [await peer(p.token) for p in (c.pat_ana, c.pat_avi, c.pat_bo)]
    moved = await api.patch(
        f"/api/users/{c.pat_ana.id}", {"cohort_id": c.cohort_b}, c.mod_lee.token
    )
    assert moved.status == 200, moved.body

    await send(avi, c.group_a, "her old group")
    in_b = await send(bo, c.group_b, "her new group")
    told = await ana.wait_for("room_activity")
    await barrier(ana)
    assert activity(ana) == [{"room_id": c.group_b, "message_id": in_b["id"], "count": 1}]
    assert told["room_id"] == c.group_b


async def test_a_socket_of_someone_who_has_not_accepted_the_notice_hears_nothing(
    community: Community,
    renoticed: tuple[RunningServer, Api],  # noqa: F811 - the fixture imported above
    peer: PeerFactory,
) -> None:
    c = community
    server, api = renoticed
    # Avi and Bo accept the new notice; Ana has not yet when her socket connects.
    version = (await api.get("/api/consent")).body["version"]
    for person in (c.pat_avi, c.pat_bo):
        accepted = await api.post("/api/me/consent", {"version": version}, person.token)
        assert accepted.status == 200, accepted.body
    ana, bo = await peer(c.pat_ana.token, server.url), await peer(c.pat_bo.token, server.url)
    avi = await peer(c.pat_avi.token, server.url)
    sent = await send(avi, c.commons, "hello")
    await bo.wait_for("room_activity", about(sent))
    await barrier(ana)
    assert activity(ana) == []


# ----- two processes on Redis -----


@pytest.mark.slow
async def test_activity_reaches_the_sockets_of_the_other_process_as_on_its_own(
    cluster: Cluster, peer: PeerFactory
) -> None:
    c = cluster.community
    ana_on_b = await peer(c.pat_ana.token, cluster.b.url)
    ana_in_room_on_b = await peer(c.pat_ana.token, cluster.b.url)
    await joined(ana_in_room_on_b, c.group_a)
    bo_on_b = await peer(c.pat_bo.token, cluster.b.url)
    avi_on_a = await peer(c.pat_avi.token, cluster.a.url)
    avi_on_b = await peer(c.pat_avi.token, cluster.b.url)

    sent = await send(avi_on_a, c.group_a, "from process A")
    told = await ana_on_b.wait_for("room_activity")
    assert told == {"room_id": c.group_a, "message_id": sent["id"], "count": 1}
    await cluster.barrier(ana_on_b, ana_in_room_on_b, bo_on_b, avi_on_b)
    # Skipped on process B by what its sockets are in there: the room, the author's channel,
    # another cohort's.
    assert activity(ana_in_room_on_b) == []
    assert activity(avi_on_b) == []
    assert activity(bo_on_b) == []

    # A ban made on process B keeps process A's next emit from her sockets on B.
    reply = await cluster.api_b.post(
        f"/api/rooms/{c.group_a}/bans",
        {"user_id": c.pat_ana.id, "reason": "testing"},
        c.mod_lee.token,
    )
    assert reply.status == 201, reply.body
    lee_on_b = await peer(c.mod_lee.token, cluster.b.url)
    after = await send(avi_on_a, c.group_a, "after the ban")
    await lee_on_b.wait_for("room_activity", about(after), timeout=5)
    await cluster.barrier(ana_on_b)
    assert activity(ana_on_b) == [told]
