"""Staff run rooms after making them (docs/api/, docs/protocol-additions.md): slow mode and a
contact policy from the start; a room archived is closed to its members (their sockets leave
it and are told, it leaves their lists, their sends are refused, crisis words still reach
staff) and read-only for staff, until brought back; a kind or an audience changed where no
history reaches someone who could not read it before. And a person's page says when they
were last seen: connected or posting, at most once a minute, on any process."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from server.accounts.people import SEEN_FLUSH_S
from server.kernel.actors import Actor, Role
from server.rooms.models import Room
from server.rooms.policy import audience_channels, may_enter, room_channels
from tests.cluster import Cluster, in_room
from tests.conftest import PeerFactory
from tests.support import (
    Api,
    Community,
    Peer,
    Person,
    RunningServer,
    audit,
    barrier,
    close,
    create_room,
    eventually,
    joined,
    ok,
    parse_utc,
    patch_room,
    refused,
    refused_with,
    register,
    send,
    try_send,
)
from tests.test_crisis_flow import CRISIS, crisis_alert


async def room_ids(api: Api, person: Person, query: str = "") -> list[int]:
    reply = await api.get(f"/api/rooms{query}", person.token)
    assert reply.status == 200, reply.body
    return [room["id"] for room in reply.body["rooms"]]


async def room_audit(api: Api, c: Community, room_id: int) -> list[tuple[str, str]]:
    return [(e["action"], e["reason"]) for e in await audit(api, c.mod_lee, room_id)]


async def change(api: Api, staff: Person, room_id: int, **fields: object) -> Any:
    return await api.call("PATCH", f"/api/rooms/{room_id}", token=staff.token, json=fields)


# ----- made with its limits -----


async def test_a_room_is_made_with_slow_mode_and_a_contact_policy(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    room_id = await create_room(
        api, c.mod_lee, name="Quiet corner", kind="peer", audience="everyone",
        slow_mode_s=60, contact_policy="block",
    )  # fmt: skip
    [room] = [r for r in (await api.get("/api/rooms", c.pat_ana.token)).body["rooms"]
              if r["id"] == room_id]  # fmt: skip
    assert (room["slow_mode_s"], room["contact_policy"], room["archived"]) == (60, "block", False)

    ana = await peer(c.pat_ana.token)
    await send(ana, room_id, "first thought")
    waited = refused(await try_send(ana, room_id, "second thought"), "rate_limited")
    assert 0 < waited["retry_after_s"] <= 60, waited
    refused(await try_send(await peer(c.pat_bo.token), room_id, "call 555-123-4567"), "blocked")
    actions = [action for action, _ in await room_audit(api, c, room_id)]
    assert actions.count("room_created") == 1, actions


# ----- archived -----


async def test_an_archived_room_is_closed_to_its_members_and_read_only_for_staff(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    people = (c.pat_ana, c.pat_avi, c.alum_dee, c.mod_lee)
    ana, avi, dee, lee = [await peer(person.token) for person in people]
    await joined(ana, c.group_a)
    said = await send(ana, c.group_a, "what I said before")

    archived = await patch_room(api, c.mod_lee, c.group_a, archived=True)
    assert archived["archived"] is True
    # Those in the room see it change, then leave it; its whole audience is told.
    assert (await ana.wait_for("room_updated"))["archived"] is True
    for member in (ana, avi):
        notice = await member.wait_for("notice", lambda n: n["kind"] == "room_archived")
        assert notice["room_id"] == c.group_a and "Group A" in notice["text"], notice
    await barrier(dee)
    assert dee.received("notice") == []

    # Members: gone from their lists, and every way in refused, saying why.
    assert c.group_a not in await room_ids(api, c.pat_ana, "?status=all")
    error = refused(await ana.call("join", {"room_id": c.group_a}), "forbidden")
    assert "archived" in error["message"]
    refused(await try_send(ana, c.group_a, "is anyone here?"), "forbidden")
    history = await api.get(f"/api/rooms/{c.group_a}/messages", c.pat_ana.token)
    refused_with(history, 403, "forbidden")
    # Crisis words there are not posted, and still reach staff at once.
    refused(await try_send(ana, c.group_a, CRISIS), "forbidden")
    await crisis_alert(lee, c.pat_ana, c.group_a, None)

    # Staff: left out of the list unless asked, and read its history; nobody posts.
    assert c.group_a not in await room_ids(api, c.mod_lee)
    assert c.group_a in await room_ids(api, c.mod_lee, "?status=all")
    page = await joined(lee, c.group_a)
    assert [m["body"] for m in page["messages"]] == ["what I said before"]
    assert page["room"]["archived"] is True
    refused(await try_send(lee, c.group_a, "a note"), "room_locked")
    react = await lee.call("react", {"message_id": said["id"], "emoji": "👍"})
    refused(react, "room_locked")

    # Brought back: open to its members again, who join it anew.
    assert (await patch_room(api, c.mod_lee, c.group_a, archived=False))["archived"] is False
    assert c.group_a in await room_ids(api, c.pat_ana)
    welcome = await send(lee, c.group_a, "welcome back")
    await barrier(ana)
    assert welcome["id"] not in [m["id"] for m in ana.received("message")]
    await joined(ana, c.group_a)
    await send(ana, c.group_a, "back again")
    actions = {action for action, _ in await room_audit(api, c, c.group_a)}
    assert {"room_archived", "room_unarchived"} <= actions, actions


def test_an_archived_rooms_channels_are_staffs_alone() -> None:
    """What goes to a room's audience (rooms/activity.py) reaches exactly those who may enter
    it: of an archived room, staff."""
    now = datetime.now(UTC)
    rooms = [
        Room(name=a, kind="peer", audience=a, cohort_id=1 if a == "cohort" else None,
             member_id=7 if a == "person" else None, created_at=now, archived_at=now)
        for a in ("everyone", "alumni", "cohort", "person")
    ]  # fmt: skip
    for role in Role:
        actor = Actor(7, "someone", role, frozenset({1}))
        for room in rooms:
            follows = bool(audience_channels(actor) & set(room_channels(room)))
            assert follows == may_enter(actor, room) == actor.is_staff, (role, room.audience)


# ----- kind and audience -----


async def test_group_and_peer_rooms_change_kind_and_a_meeting_room_stays_one(
    api: Api, community: Community
) -> None:
    c = community
    assert (await patch_room(api, c.mod_lee, c.group_a, kind="peer"))["kind"] == "peer"
    assert ("room_kind_changed", "now peer") in await room_audit(api, c, c.group_a)
    meeting = await create_room(
        api, c.mod_lee, name="Evening", kind="meeting", audience="cohort", cohort_id=c.cohort_a
    )
    refused_with(await change(api, c.mod_lee, meeting, kind="peer"), 409, "conflict", "kind")
    refused_with(await change(api, c.mod_lee, c.commons, kind="meeting"), 409, "conflict", "kind")


async def test_an_audience_may_narrow_and_those_left_out_leave_at_once(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    bo = await peer(c.pat_bo.token)
    await joined(bo, c.commons)
    await send(bo, c.commons, "said to everyone")

    narrowed = await patch_room(api, c.mod_lee, c.commons, audience="cohort", cohort_id=c.cohort_a)
    assert (narrowed["audience"], narrowed["cohort_id"]) == ("cohort", c.cohort_a)
    ana = await peer(c.pat_ana.token)
    await joined(ana, c.commons)
    after = await send(ana, c.commons, "said to cohort A")
    await barrier(bo)
    assert after["id"] not in [m["id"] for m in bo.received("message")]
    refused(await try_send(bo, c.commons, "still here?"), "forbidden")
    assert c.commons not in await room_ids(api, c.pat_bo)
    assert c.commons in await room_ids(api, c.pat_ana)
    reasons = [r for a, r in await room_audit(api, c, c.commons) if a == "room_audience_changed"]
    assert reasons == [f"now cohort {c.cohort_a}"], reasons


async def test_an_audience_that_would_read_earlier_history_is_refused(
    server: RunningServer, api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    await send(await peer(c.alum_dee.token), c.lounge, "alumni only")
    await send(await peer(c.pat_ana.token), c.group_a, "cohort A only")
    # `all`: anyone who ever joins would read it all.
    refused_with(await change(api, c.mod_lee, c.lounge, audience="everyone"), 409, "conflict")
    # `since_joined`: Cohort B's people joined before it was said.
    refused_with(
        await change(api, c.mod_lee, c.group_a, cohort_id=c.cohort_b), 409, "conflict", "audience"
    )
    # Nothing changed meanwhile.
    assert c.lounge in await room_ids(api, c.alum_dee)
    assert c.group_a in await room_ids(api, c.pat_ana)

    # A cohort whose people all joined after it was said reads none of it: allowed.
    await server.clock.advance(minutes=1)
    cohort = await api.post("/api/cohorts", {"name": "Cohort C"}, c.mod_lee.token)
    cohort_c = cohort.body["cohort"]["id"]
    cy = await register(api, c.mod_lee, "pat_cy", "patient", cohort_c)
    moved = await patch_room(api, c.mod_lee, c.group_a, cohort_id=cohort_c)
    assert moved["cohort_id"] == cohort_c
    page = await joined(await peer(cy.token), c.group_a)
    assert page["messages"] == [] and page["has_more"] is False
    assert c.group_a not in await room_ids(api, c.pat_ana)

    # A room nobody wrote in yet may be for anyone.
    fresh = await create_room(api, c.mod_lee, name="New", kind="peer", audience="alumni")
    assert (await patch_room(api, c.mod_lee, fresh, audience="everyone"))["cohort_id"] is None


@pytest.mark.parametrize(
    ("fields", "status", "code", "field"),
    [({"audience": "cohort"}, 422, "invalid", "cohort_id"),
     ({"cohort_id": 1}, 422, "invalid", "cohort_id"),
     ({"kind": "group"}, 422, "invalid", "audience"),
     ({"audience": "cohort", "cohort_id": 999_999}, 404, "not_found", None),
     ({"kind": "support"}, 422, "invalid", "kind"),
     ({"audience": "person"}, 422, "invalid", "audience"),
     ({"archived": "yes"}, 422, "invalid", "archived"),
     ({"cohort_id": 0}, 422, "invalid", "cohort_id")],
)  # fmt: skip
async def test_bad_room_changes_are_refused_naming_the_field(
    api: Api,
    community: Community,
    fields: dict[str, object],
    status: int,
    code: str,
    field: str | None,
) -> None:
    """On the Commons (a peer room for everyone), which stays as it was."""
    c = community
    refused_with(await change(api, c.mod_lee, c.commons, **fields), status, code, field)
    [room] = [r for r in (await api.get("/api/rooms", c.mod_lee.token)).body["rooms"]
              if r["id"] == c.commons]  # fmt: skip
    assert (room["kind"], room["audience"], room["cohort_id"]) == ("peer", "everyone", None)


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"slow_mode_s": -1}, "slow_mode_s"),
     ({"slow_mode_s": 3601}, "slow_mode_s"),
     ({"slow_mode_s": "30"}, "slow_mode_s"),
     ({"contact_policy": "hide"}, "contact_policy")],
)  # fmt: skip
async def test_bad_limits_at_creation_are_invalid(
    api: Api, community: Community, fields: dict[str, object], field: str
) -> None:
    room = {"name": "Limits", "kind": "peer", "audience": "everyone", **fields}
    reply = await api.post("/api/rooms", room, community.mod_lee.token)
    refused_with(reply, 422, "invalid", field)


async def test_only_staff_make_change_or_archive_rooms(api: Api, community: Community) -> None:
    c = community
    for person in (c.pat_ana, c.alum_dee):
        for fields in ({"archived": True}, {"audience": "everyone"}, {"kind": "peer"}):
            refused_with(await change(api, person, c.group_a, **fields), 403, "forbidden")
        made = await api.post(
            "/api/rooms", {"name": "Mine", "kind": "peer", "audience": "everyone"}, person.token
        )
        refused_with(made, 403, "forbidden")
    refused_with(await change(api, c.mod_lee, 999_999, archived=True), 404, "not_found")
    refused_with(await api.get("/api/rooms?status=archived", c.mod_lee.token), 422, "invalid")


# ----- last seen -----


def to_the_ms(moment: datetime) -> datetime:
    """A moment as the API writes it: to the millisecond."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


async def seen(api: Api, staff: Person, person: Person) -> Any:
    reply = await api.get(f"/api/users/{person.id}", staff.token)
    assert reply.status == 200, reply.body
    value = reply.body["user"]["last_seen_at"]
    return parse_utc(value) if value else None


async def test_connecting_and_posting_say_when_a_person_was_last_seen(
    server: RunningServer, api: Api, community: Community, peer: PeerFactory
) -> None:
    c, clock = community, server.clock

    async def written() -> Any:
        """When Ana was last seen, once what was noted meanwhile has been written."""
        await clock.advance(seconds=SEEN_FLUSH_S)
        return await seen(api, c.mod_lee, c.pat_ana)

    signed_in = await seen(api, c.mod_lee, c.pat_ana)
    assert signed_in is not None  # registering signed her in

    await clock.advance(minutes=10)
    connected = to_the_ms(clock.now())
    ana: Peer = await peer(c.pat_ana.token)
    assert await seen(api, c.mod_lee, c.pat_ana) == signed_in  # noted, not yet written
    assert await written() == connected

    await clock.advance(seconds=30)
    await send(ana, c.group_a, "still here")
    assert await written() == connected  # within the minute: not noted again

    await clock.advance(minutes=2)
    posted = to_the_ms(clock.now())
    await send(ana, c.group_a, "and here")
    assert await written() == posted

    await clock.advance(minutes=5)
    left = to_the_ms(clock.now())
    await close(server, ana)
    assert await written() == left
    listed = await api.get("/api/users?role=patient", c.mod_lee.token)
    [row] = [u for u in listed.body["users"] if u["id"] == c.pat_ana.id]
    assert parse_utc(row["last_seen_at"]) == left


async def test_a_patient_cannot_read_when_another_was_last_seen(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    for path in (f"/api/users/{c.pat_ana.id}", "/api/users"):
        refused_with(await api.get(path, c.pat_avi.token), 403, "forbidden")
    await joined(await peer(c.pat_ana.token), c.group_a)
    page = ok(await (await peer(c.pat_avi.token)).call("join", {"room_id": c.group_a}))
    assert all("last_seen_at" not in user for user in page["online"]), page["online"]


# ----- across processes -----


@pytest.mark.slow
async def test_archived_and_seen_through_one_process_hold_on_the_other(
    cluster: Cluster, peer: PeerFactory
) -> None:
    people, room = cluster.community, cluster.community.group_a
    before = await seen(cluster.api_a, people.mod_lee, people.pat_ana)
    (ana,) = await in_room(peer, room, (people.pat_ana, cluster.b))

    async def seen_since() -> bool:
        """Her connection to B was seen, and A's answer says so."""
        after = await seen(cluster.api_a, people.mod_lee, people.pat_ana)
        return after is not None and (before is None or after > before)

    await eventually(seen_since, "B to write when Ana was seen", timeout=3 * SEEN_FLUSH_S)

    changed = await cluster.api_a.call(
        "PATCH", f"/api/rooms/{room}", token=people.mod_lee.token, json={"archived": True}
    )
    assert changed.status == 200, changed.body
    await ana.wait_for("notice", lambda n: n["kind"] == "room_archived")
    refused(await try_send(ana, room, "said after it closed"), "forbidden")
