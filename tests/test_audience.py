"""Who may enter which room, asked over HTTP and over Socket.IO alike, and what graduation
changes about it (the wire contract in docs/api/: Rooms and Identity)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import PeerFactory
from tests.support import Api, Community, barrier, new_client_id

pytestmark = pytest.mark.persistence

ROOMS = ("group_a", "group_b", "lounge", "commons")
MAY_ENTER: dict[str, set[str]] = {
    "pat_ana": {"group_a", "commons"},  # patient, cohort A
    "pat_avi": {"group_a", "commons"},  # patient, cohort A
    "pat_bo": {"group_b", "commons"},  # patient, cohort B
    "alum_dee": {"lounge", "commons"},  # alumni
    "mod_lee": set(ROOMS),  # moderator
    "admin": set(ROOMS),
}
PEOPLE = list(MAY_ENTER)
ROOM_KEYS = {
    "id",
    "name",
    "kind",
    "audience",
    "cohort_id",
    "topic",
    "locked",
    "slow_mode_s",
    "online_count",
}


def room_ids(community: Community) -> dict[str, int]:
    return {name: getattr(community, name) for name in ROOMS}


def outcome(ack: Any) -> str:
    """ "ok" for a successful ack, else its error code (checking the contract's ack shape)."""
    assert isinstance(ack, dict), ack
    if ack["ok"] is True:
        return "ok"
    assert ack["ok"] is False, ack
    assert isinstance(ack["error"]["message"], str) and ack["error"]["message"], ack
    return str(ack["error"]["code"])


def expected_outcomes(who: str, allowed: str, refused: str) -> dict[str, str]:
    return {room: allowed if room in MAY_ENTER[who] else refused for room in ROOMS}


def other_staff(who: str) -> str:
    return "mod_lee" if who == "admin" else "admin"


# ----- the audience matrix -----


@pytest.mark.parametrize("who", PEOPLE)
async def test_the_room_list_is_exactly_the_rooms_one_may_enter(
    community: Community, api: Api, who: str
) -> None:
    ids = room_ids(community)
    reply = await api.get("/api/rooms", token=community.people[who].token)
    assert reply.status == 200, reply.body
    for room in reply.body["rooms"]:
        assert set(room) >= ROOM_KEYS, room
    listed = sorted(room["id"] for room in reply.body["rooms"])
    assert listed == sorted(ids[name] for name in MAY_ENTER[who])


@pytest.mark.parametrize("who", PEOPLE)
async def test_http_reads_follow_the_audience(
    community: Community, api: Api, peer: PeerFactory, who: str
) -> None:
    ids = room_ids(community)
    # One message in every room, so an allowed read has something to show.
    seeder = await peer(community.people[other_staff(who)].token)
    for name in ROOMS:
        ack = await seeder.call(
            "send", {"room_id": ids[name], "body": f"seed {name}", "client_id": new_client_id()}
        )
        assert ack["ok"], ack

    token = community.people[who].token
    messages: dict[str, str] = {}
    presence: dict[str, str] = {}
    for name in ROOMS:
        page = await api.get(f"/api/rooms/{ids[name]}/messages", token=token)
        if page.status == 200:
            assert [m["body"] for m in page.body["messages"]] == [f"seed {name}"], page.body
            messages[name] = "ok"
        else:
            assert page.status == 403, (name, page.status, page.body)
            assert "messages" not in page.body, page.body
            messages[name] = str(page.error_code)
        online = await api.get(f"/api/rooms/{ids[name]}/presence", token=token)
        if online.status == 200:
            assert isinstance(online.body["online"], list), online.body
            presence[name] = "ok"
        else:
            assert online.status == 403, (name, online.status, online.body)
            assert "online" not in online.body, online.body
            presence[name] = str(online.error_code)

    assert messages == expected_outcomes(who, "ok", "forbidden")
    assert presence == expected_outcomes(who, "ok", "forbidden")


@pytest.mark.parametrize("who", PEOPLE)
async def test_socket_events_follow_the_audience(
    community: Community, api: Api, peer: PeerFactory, who: str
) -> None:
    ids = room_ids(community)
    person = community.people[who]
    staff = community.people[other_staff(who)]
    me = await peer(person.token)

    joins, histories, sends = {}, {}, {}
    for name in ROOMS:
        joins[name] = outcome(await me.call("join", {"room_id": ids[name]}))
        histories[name] = outcome(await me.call("history", {"room_id": ids[name]}))
        sends[name] = outcome(
            await me.call(
                "send",
                {"room_id": ids[name], "body": f"{who} in {name}", "client_id": new_client_id()},
            )
        )
    assert joins == expected_outcomes(who, "ok", "forbidden")
    assert histories == expected_outcomes(who, "ok", "forbidden")
    assert sends == expected_outcomes(who, "ok", "forbidden")

    # A refused join puts nobody in the room: they are not online there and hear nothing.
    broadcaster = await peer(staff.token)
    broadcast_ids = set()
    for name in ROOMS:
        ack = await broadcaster.call(
            "send", {"room_id": ids[name], "body": f"to {name}", "client_id": new_client_id()}
        )
        assert ack["ok"], ack
        broadcast_ids.add(ack["message"]["id"])
    await barrier(me)
    heard = {
        name
        for name in ROOMS
        for message in me.received("message")
        if message["id"] in broadcast_ids and message["room_id"] == ids[name]
    }
    assert heard == MAY_ENTER[who]

    online_in, stored_in = set(), set()
    for name in ROOMS:
        online = await api.get(f"/api/rooms/{ids[name]}/presence", token=staff.token)
        assert online.status == 200, online.body
        if person.id in {user["id"] for user in online.body["online"]}:
            online_in.add(name)
        page = await api.get(f"/api/rooms/{ids[name]}/messages", token=staff.token)
        assert page.status == 200, page.body
        if f"{who} in {name}" in {m["body"] for m in page.body["messages"]}:
            stored_in.add(name)
    assert online_in == MAY_ENTER[who]
    # A refused send stores nothing.
    assert stored_in == MAY_ENTER[who]


# ----- graduation -----


async def test_graduation_moves_a_live_patient_from_her_group_to_the_alumni_rooms(
    community: Community, api: Api, peer: PeerFactory
) -> None:
    ana_id = community.pat_ana.id
    avi = await peer(community.pat_avi.token)
    lee = await peer(community.mod_lee.token)
    ana = await peer(community.pat_ana.token)
    for who in (avi, lee, ana):
        assert (await who.call("join", {"room_id": community.group_a}))["ok"]
    assert (await ana.call("join", {"room_id": community.commons}))["ok"]
    lounge_before = await ana.call("join", {"room_id": community.lounge})
    assert outcome(lounge_before) == "forbidden"

    reply = await api.post(f"/api/users/{ana_id}/graduate", token=community.mod_lee.token)
    assert reply.status == 200, reply.body
    assert reply.body["user"]["id"] == ana_id
    assert reply.body["user"]["role"] == "alumni"

    notice = await ana.wait_for("notice", lambda n: n.get("kind") == "graduated")
    assert isinstance(notice["text"], str) and notice["text"]
    gone = await avi.wait_for(
        "presence",
        lambda p: (
            p["room_id"] == community.group_a
            and p["user"]["id"] == ana_id
            and p["status"] == "offline"
        ),
    )
    assert set(gone["user"]) == {"id", "display_name", "role"}
    assert gone["user"]["display_name"] == "Ana"

    # The group goes on without her: avi's message reaches avi and lee, not ana.
    sent = await avi.call(
        "send", {"room_id": community.group_a, "body": "after", "client_id": new_client_id()}
    )
    assert sent["ok"], sent
    message_id = sent["message"]["id"]
    await lee.wait_for("message", lambda m: m["id"] == message_id)
    await avi.wait_for("message", lambda m: m["id"] == message_id)
    await barrier(ana)
    assert [m for m in ana.received("message") if m["room_id"] == community.group_a] == []
    assert ana.client.connected

    # Rooms outside the cohort stay as they were: the commons still reaches her.
    common = await lee.call(
        "send", {"room_id": community.commons, "body": "all", "client_id": new_client_id()}
    )
    assert common["ok"], common
    await ana.wait_for("message", lambda m: m["id"] == common["message"]["id"])

    # Her live socket now has the alumni's rights.
    assert outcome(await ana.call("join", {"room_id": community.lounge})) == "ok"
    assert outcome(await ana.call("join", {"room_id": community.group_a})) == "forbidden"
    assert outcome(await ana.call("history", {"room_id": community.group_a})) == "forbidden"
    refused_send = await ana.call(
        "send", {"room_id": community.group_a, "body": "still here?", "client_id": new_client_id()}
    )
    assert outcome(refused_send) == "forbidden"

    me = await api.get("/api/me", token=community.pat_ana.token)
    assert me.status == 200, me.body
    assert me.body["user"]["role"] == "alumni"
    rooms = await api.get("/api/rooms", token=community.pat_ana.token)
    assert sorted(r["id"] for r in rooms.body["rooms"]) == sorted(
        [community.lounge, community.commons]
    )
    page = await api.get(f"/api/rooms/{community.group_a}/messages", token=community.pat_ana.token)
    assert page.status == 403 and page.error_code == "forbidden", page.body
    presence = await api.get(
        f"/api/rooms/{community.group_a}/presence", token=community.pat_avi.token
    )
    assert ana_id not in {user["id"] for user in presence.body["online"]}


async def test_graduating_twice_is_a_conflict(community: Community, api: Api) -> None:
    path = f"/api/users/{community.pat_ana.id}/graduate"
    first = await api.post(path, token=community.mod_lee.token)
    assert first.status == 200, first.body
    second = await api.post(path, token=community.mod_lee.token)
    assert second.status == 409, second.body
    assert second.error_code == "conflict"


@pytest.mark.parametrize("who", ["pat_avi", "alum_dee"])
async def test_non_staff_cannot_graduate_anyone(community: Community, api: Api, who: str) -> None:
    reply = await api.post(
        f"/api/users/{community.pat_ana.id}/graduate", token=community.people[who].token
    )
    assert reply.status == 403, reply.body
    assert reply.error_code == "forbidden"
    me = await api.get("/api/me", token=community.pat_ana.token)
    assert me.body["user"]["role"] == "patient"


async def test_graduating_an_unknown_user_is_not_found(community: Community, api: Api) -> None:
    reply = await api.post("/api/users/999999/graduate", token=community.mod_lee.token)
    assert reply.status == 404, reply.body
    assert reply.error_code == "not_found"
