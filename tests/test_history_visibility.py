"""History visibility per room (docs/privacy.md, "Who sees which history"): a member reads a
room's history since joining its audience (`since_joined`, group rooms), all of it (`all`), or
since its current meeting session opened (`since_session`, meeting rooms); staff read it all.
Checked on every way in: the join's page and its `since` catch-up, history pages (socket and
HTTP), unread counts in the room list and the digest, and the single messages one reacts to,
reports or edits (a hidden one is `not_found`, as if it were not there)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col

from server.accounts import store as account_store
from server.accounts.models import CohortMembership
from server.app import CORE
from server.notify.digest import missed
from server.rooms.catch_up import OutageCatchUp
from server.rooms.http import MESSAGES, ROOMS
from tests.conftest import PeerFactory
from tests.support import (
    Api,
    Community,
    FakeClock,
    Peer,
    Person,
    RunningServer,
    audit,
    barrier,
    create_room,
    daily_meeting,
    joined,
    ok,
    patch_room,
    refused,
    register,
    send,
    sign_in,
)

pytestmark = pytest.mark.persistence


# ----- what a person reads, every way in -----


def bodies(messages: list[dict[str, Any]]) -> list[str]:
    return [message["body"] for message in messages]


async def on_join(peer: Peer, room_id: int, **extra: Any) -> list[str]:
    return bodies((await joined(peer, room_id, **extra))["messages"])


async def paged_over_http(api: Api, person: Person, room_id: int) -> list[str]:
    """The whole history one page of one at a time, newest first, as a client pages back;
    oldest first in the answer."""
    seen: list[str] = []
    query = "limit=1"
    while True:
        reply = await api.get(f"/api/rooms/{room_id}/messages?{query}", person.token)
        assert reply.status == 200, reply.body
        seen = bodies(reply.body["messages"]) + seen
        if not reply.body["has_more"]:
            return seen
        query = f"limit=1&before={reply.body['messages'][0]['id']}"


async def paged_over_socket(peer: Peer, room_id: int, before: int) -> dict[str, Any]:
    page = ok(await peer.call("history", {"room_id": room_id, "before": before, "limit": 100}))
    return {"messages": page["messages"], "has_more": page["has_more"]}


async def room_listed(api: Api, person: Person, room_id: int) -> dict[str, Any]:
    reply = await api.get("/api/rooms", person.token)
    assert reply.status == 200, reply.body
    [room] = [room for room in reply.body["rooms"] if room["id"] == room_id]
    return dict(room)


async def digest_counts(server: RunningServer, person: Person) -> dict[str, int]:
    """What the person's daily digest would count per room now (server/notify/digest.py)."""
    async with server.app[CORE].sessions() as session:
        actor = await account_store.load_actor(session, person.id)
        assert actor is not None
        found = await missed(session, server.app[ROOMS].access, actor, 0, server.clock.now())
    return dict(found.rooms)


async def react(peer: Peer, message: dict[str, Any], emoji: str) -> Any:
    return await peer.call("react", {"message_id": message["id"], "emoji": emoji})


async def report(api: Api, person: Person, message: dict[str, Any]) -> Any:
    return await api.post(
        f"/api/messages/{message['id']}/reports", {"reason": "unkind"}, token=person.token
    )


# ----- since_joined -----


async def test_a_late_member_of_a_cohort_reads_its_room_only_from_joining(
    api: Api, server: RunningServer, community: Community, clock: FakeClock, peer: PeerFactory
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    before = [await send(ana, c.group_a, text) for text in ("a hard week", "I relapsed")]
    await clock.advance(minutes=5)
    cy_person = await register(api, c.mod_lee, "pat_cy", "patient", c.cohort_a)
    cy = await peer(cy_person.token)

    room = await joined(cy, c.group_a)
    assert room["room"]["history_visibility"] == "since_joined"
    assert room["messages"] == [] and room["has_more"] is False
    listed = await room_listed(api, cy_person, c.group_a)
    assert listed["unread_count"] == 0 and listed["last_message_id"] is None
    assert await digest_counts(server, cy_person) == {}

    await clock.advance(minutes=5)
    after = [await send(ana, c.group_a, text) for text in ("welcome Cy", "glad you came")]
    mine = await send(cy, c.group_a, "thank you")
    wanted = ["welcome Cy", "glad you came", "thank you"]
    assert await on_join(cy, c.group_a) == wanted
    assert await on_join(cy, c.group_a, since=0) == wanted
    assert await on_join(cy, c.group_a, since=before[0]["id"]) == wanted
    assert await on_join(cy, c.group_a, since=after[0]["id"]) == wanted[1:]
    # Paging back stops where Cy joined, and says there is no more.
    page = await paged_over_socket(cy, c.group_a, before=after[0]["id"])
    assert page == {"messages": [], "has_more": False}
    assert await paged_over_http(api, cy_person, c.group_a) == wanted
    listed = await room_listed(api, cy_person, c.group_a)
    assert listed["unread_count"] == 2 and listed["last_message_id"] == mine["id"]
    assert await digest_counts(server, cy_person) == {"Group A": 2}

    # Acting on what Cy cannot read answers as if it were not there.
    emoji = room["reaction_emojis"][0]
    refused(await react(cy, before[1], emoji), "not_found")
    reported = await report(api, cy_person, before[1])
    assert (reported.status, reported.error_code) == (404, "not_found"), reported.body
    assert ok(await react(cy, after[0], emoji))["reactions"] == {emoji: 1}
    assert (await report(api, cy_person, after[0])).status == 201

    # Those who were there, and staff, read it all.
    everything = ["a hard week", "I relapsed", *wanted]
    avi = await peer(c.pat_avi.token)
    lee = await peer(c.mod_lee.token)
    assert await on_join(avi, c.group_a) == everything
    assert await on_join(lee, c.group_a) == everything
    assert await paged_over_http(api, c.mod_lee, c.group_a) == everything
    assert (await room_listed(api, c.pat_avi, c.group_a))["unread_count"] == 5
    assert ok(await react(lee, before[1], emoji))["reactions"] == {emoji: 1}


async def test_a_membership_from_before_joining_times_were_kept_reads_everything(
    api: Api, server: RunningServer, community: Community, clock: FakeClock, peer: PeerFactory
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    await send(ana, c.group_a, "said before Cy came")
    await clock.advance(minutes=5)
    cy_person = await register(api, c.mod_lee, "pat_cy", "patient", c.cohort_a)
    cy = await peer(cy_person.token)
    assert await on_join(cy, c.group_a) == []
    # A membership the upgrade found has no joining time: its person has read it all already.
    async with server.app[CORE].sessions() as session:
        await session.execute(
            update(CohortMembership)
            .where(col(CohortMembership.user_id) == cy_person.id)
            .values(joined_at=None)
        )
        await session.commit()
    assert await on_join(cy, c.group_a) == ["said before Cy came"]


async def test_a_member_moved_to_another_cohort_reads_its_room_from_the_move(
    api: Api, community: Community, clock: FakeClock, peer: PeerFactory
) -> None:
    c = community
    bo = await peer(c.pat_bo.token)
    await send(bo, c.group_b, "cohort B only, before Ana")
    await clock.advance(minutes=5)
    to_b = {"cohort_id": c.cohort_b}
    moved = await api.patch(f"/api/users/{c.pat_ana.id}", to_b, c.mod_lee.token)
    assert moved.status == 200, moved.body
    await clock.advance(minutes=5)
    await send(bo, c.group_b, "welcome Ana")

    ana = await peer(c.pat_ana.token)
    assert await on_join(ana, c.group_b) == ["welcome Ana"]
    assert await paged_over_http(api, c.pat_ana, c.group_b) == ["welcome Ana"]
    assert (await room_listed(api, c.pat_ana, c.group_b))["unread_count"] == 1
    # Moving her to the cohort she is in keeps her joining time.
    again = await api.patch(f"/api/users/{c.pat_ana.id}", to_b, c.mod_lee.token)
    assert again.status == 200, again.body
    assert await on_join(ana, c.group_b) == ["welcome Ana"]


async def test_an_everyone_room_counts_from_the_account_and_alumni_from_graduation(
    api: Api, community: Community, clock: FakeClock, peer: PeerFactory
) -> None:
    c = community
    drop_in = await create_room(
        api, c.mod_lee, name="Drop-in", kind="peer", audience="everyone",
        history_visibility="since_joined",
    )  # fmt: skip
    lounge = await patch_room(api, c.mod_lee, c.lounge, history_visibility="since_joined")
    assert lounge["history_visibility"] == "since_joined"
    lee = await peer(c.mod_lee.token)
    await send(lee, drop_in, "drop-in news")
    await send(lee, c.lounge, "lounge news")
    await clock.advance(minutes=5)
    cy_person = await register(api, c.mod_lee, "pat_cy", "patient", c.cohort_a)
    graduated = await api.post(f"/api/users/{c.pat_avi.id}/graduate", token=c.mod_lee.token)
    assert graduated.status == 200, graduated.body
    await clock.advance(minutes=5)
    await send(lee, drop_in, "drop-in later")
    await send(lee, c.lounge, "lounge later")

    cy = await peer(cy_person.token)
    assert await on_join(cy, drop_in) == ["drop-in later"]
    # Avi's account is old: the drop-in room shows him all. The lounge, from his graduation.
    avi = await peer((await sign_in(api, "pat_avi")).token)
    assert await on_join(avi, drop_in) == ["drop-in news", "drop-in later"]
    assert await on_join(avi, c.lounge) == ["lounge later"]
    # Dee was invited as an alumna long ago and never graduated here: from her account.
    dee = await peer(c.alum_dee.token)
    assert await on_join(dee, c.lounge) == ["lounge news", "lounge later"]


# ----- all, and staff changing the setting -----


async def test_staff_change_the_setting_audited_and_it_applies_to_the_next_read(
    api: Api, community: Community, clock: FakeClock, peer: PeerFactory
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    early = await send(ana, c.group_a, "early")
    await clock.advance(minutes=5)
    cy_person = await register(api, c.mod_lee, "pat_cy", "patient", c.cohort_a)
    cy = await peer(cy_person.token)
    assert await on_join(cy, c.group_a) == []

    changed = await patch_room(api, c.mod_lee, c.group_a, history_visibility="all")
    assert changed["history_visibility"] == "all"
    update_seen = await cy.wait_for("room_updated", lambda r: r["history_visibility"] == "all")
    assert update_seen["id"] == c.group_a
    assert await on_join(cy, c.group_a) == ["early"]
    assert await paged_over_http(api, cy_person, c.group_a) == ["early"]
    assert (await room_listed(api, cy_person, c.group_a))["unread_count"] == 1
    emoji = (await joined(cy, c.group_a))["reaction_emojis"][0]
    assert ok(await react(cy, early, emoji))["reactions"] == {emoji: 1}

    await patch_room(api, c.mod_lee, c.group_a, history_visibility="since_joined")
    assert await on_join(cy, c.group_a) == []
    refused(await react(cy, early, emoji), "not_found")

    entries = [
        e for e in await audit(api, c.mod_lee, c.group_a)
        if e["action"] == "room_history_visibility_changed"
    ]  # fmt: skip
    assert sorted(e["reason"] for e in entries) == ["now all", "now since_joined"], entries
    assert all(e["actor"]["id"] == c.mod_lee.id for e in entries), entries
    # Saving the same value again changes nothing and records nothing.
    await patch_room(api, c.mod_lee, c.group_a, history_visibility="since_joined")
    again = await audit(api, c.mod_lee, c.group_a)
    assert len([e for e in again if e["action"] == "room_history_visibility_changed"]) == 2


async def test_each_kind_has_its_default_and_a_peer_room_shows_all(
    api: Api, community: Community, clock: FakeClock, peer: PeerFactory
) -> None:
    c = community
    rooms = (await api.get("/api/rooms", c.mod_lee.token)).body["rooms"]
    kinds = {room["id"]: room["history_visibility"] for room in rooms}
    assert kinds[c.group_a] == kinds[c.group_b] == "since_joined"
    assert kinds[c.lounge] == kinds[c.commons] == "all"
    meeting = await create_room(
        api, c.mod_lee, name="Tuesday session", kind="meeting", audience="cohort",
        cohort_id=c.cohort_a,
    )  # fmt: skip
    check_ins = await create_room(
        api, c.mod_lee, name="Check-ins", kind="peer", audience="cohort", cohort_id=c.cohort_a
    )
    chosen = await create_room(
        api, c.mod_lee, name="Quiet group", kind="group", audience="cohort",
        cohort_id=c.cohort_a, history_visibility="all",
    )  # fmt: skip
    rooms = (await api.get("/api/rooms", c.mod_lee.token)).body["rooms"]
    kinds = {room["id"]: room["history_visibility"] for room in rooms}
    assert (kinds[meeting], kinds[check_ins], kinds[chosen]) == ("since_session", "all", "all")

    ana = await peer(c.pat_ana.token)
    await send(ana, check_ins, "first check-in")
    await clock.advance(minutes=5)
    cy_person = await register(api, c.mod_lee, "pat_cy", "patient", c.cohort_a)
    cy = await peer(cy_person.token)
    assert await on_join(cy, check_ins) == ["first check-in"]
    assert await paged_over_http(api, cy_person, check_ins) == ["first check-in"]


@pytest.mark.parametrize(
    "fields",
    [
        {"history_visibility": "never"},
        {"history_visibility": "ALL"},
        {"history_visibility": 3},
        {"history_visibility": ["all"]},
    ],
)
async def test_unknown_visibilities_are_invalid(
    api: Api, community: Community, fields: dict[str, Any]
) -> None:
    c = community
    patched = await api.patch(f"/api/rooms/{c.group_a}", fields, c.mod_lee.token)
    assert (patched.status, patched.error_code) == (422, "invalid"), patched.body
    assert "history_visibility" in patched.body["error"]["message"]
    room = {"name": "New room", "kind": "peer", "audience": "everyone", **fields}
    created = await api.post("/api/rooms", room, c.mod_lee.token)
    assert (created.status, created.error_code) == (422, "invalid"), created.body


async def test_only_staff_change_it_and_only_in_a_room_that_exists(
    api: Api, community: Community
) -> None:
    c = community
    wanted = {"history_visibility": "all"}
    for person in (c.pat_ana, c.alum_dee):
        reply = await api.patch(f"/api/rooms/{c.group_a}", wanted, person.token)
        assert (reply.status, reply.error_code) == (403, "forbidden"), reply.body
    missing = await api.patch("/api/rooms/999999", wanted, c.mod_lee.token)
    assert (missing.status, missing.error_code) == (404, "not_found"), missing.body
    anonymous = await api.patch(f"/api/rooms/{c.group_a}", wanted)
    assert anonymous.status == 401, anonymous.body
    rooms = (await api.get("/api/rooms", c.mod_lee.token)).body["rooms"]
    assert {r["id"]: r["history_visibility"] for r in rooms}[c.group_a] == "since_joined"


# ----- since_session -----


async def meeting_room_of(api: Api, staff: Person, meeting_id: int) -> int:
    reply = await api.get("/api/meetings", staff.token)
    assert reply.status == 200, reply.body
    [meeting] = [m for m in reply.body["meetings"] if m["id"] == meeting_id]
    return int(meeting["room_id"])


async def test_a_meeting_room_shows_its_current_session_only(
    api: Api, server: RunningServer, community: Community, clock: FakeClock, peer: PeerFactory
) -> None:
    c = community
    meeting = await daily_meeting(api, c, clock, timedelta(hours=2))
    room = await meeting_room_of(api, c.mod_lee, meeting)
    lee = await peer(c.mod_lee.token)
    await send(lee, room, "notes before any session")
    await clock.advance(seconds=1)
    ana = await peer(c.pat_ana.token)
    # No session has opened: nothing from before now.
    joined_early = await joined(ana, room)
    assert joined_early["room"]["history_visibility"] == "since_session"
    assert joined_early["messages"] == [] and joined_early["has_more"] is False
    listed = await room_listed(api, c.pat_ana, room)
    assert listed["unread_count"] == 0 and listed["last_message_id"] is None

    # The lobby opens (15 minutes before the start): the session's window opens with it.
    await clock.advance(hours=1, minutes=46)
    mine = await send(ana, room, "here early")
    welcome = await send(lee, room, "welcome all")
    assert await on_join(ana, room) == ["here early", "welcome all"]
    assert await on_join(ana, room, since=0) == ["here early", "welcome all"]
    page = await paged_over_socket(ana, room, before=mine["id"])
    assert page == {"messages": [], "has_more": False}
    assert (await room_listed(api, c.pat_avi, room))["unread_count"] == 2
    assert await digest_counts(server, c.pat_avi) == {"Evening": 2}
    everything = ["notes before any session", "here early", "welcome all"]
    assert await on_join(lee, room) == everything

    # The session over, its talk stays until the next one's lobby opens.
    await clock.advance(hours=4)
    assert await on_join(ana, room) == ["here early", "welcome all"]

    # The next day's lobby: yesterday is gone for members, not for staff. (A new sign-in:
    # the day outlives the first one's token.)
    clock.current += timedelta(hours=20)
    ana_person = await sign_in(api, "pat_ana")
    ana = await peer(ana_person.token)
    second = await joined(ana, room)
    assert second["messages"] == [] and second["has_more"] is False
    emoji = second["reaction_emojis"][0]
    refused(await react(ana, welcome, emoji), "not_found")
    refused(await ana.call("edit", {"message_id": mine["id"], "body": "edited"}), "not_found")
    reported = await report(api, ana_person, welcome)
    assert (reported.status, reported.error_code) == (404, "not_found"), reported.body
    assert await paged_over_http(api, ana_person, room) == []
    await send(ana, room, "day two")
    assert await on_join(ana, room) == ["day two"]
    lee_person = await sign_in(api, "mod_lee")
    assert await paged_over_http(api, lee_person, room) == [*everything, "day two"]


# ----- after a Redis outage -----


async def test_the_catch_up_after_an_outage_hands_nobody_what_they_may_not_read(
    api: Api, server: RunningServer, community: Community, clock: FakeClock, peer: PeerFactory
) -> None:
    """rooms/catch_up.py, run here on one process with the server's own Socket.IO delivery:
    a message that one socket's person may not read goes to the others' sockets only."""
    c = community
    start = clock.now()
    ana, avi = await peer(c.pat_ana.token), await peer(c.pat_avi.token)
    for each in (ana, avi):
        await joined(each, c.group_a)
    early = await send(ana, c.group_a, "before Cy")
    await clock.advance(minutes=5)
    cy = await peer((await register(api, c.mod_lee, "pat_cy", "patient", c.cohort_a)).token)
    await joined(cy, c.group_a)
    later = await send(ana, c.group_a, "welcome Cy")

    core = server.app[CORE]

    async def deliver_here(room: str, event: str, data: Any) -> None:
        await core.sio.emit(event, data, room=room)

    catch_up = OutageCatchUp(
        core.hub, server.app[MESSAGES], deliver_here, server.app[ROOMS].recheck_room_here
    )
    await catch_up(start)  # as if every message since the start had been missed
    await barrier(ana, avi, cy)
    received = {
        name: [m["id"] for m in each.received("message")]
        for name, each in (("ana", ana), ("avi", avi), ("cy", cy))
    }
    # Live, then again from the catch-up (clients keep one per id).
    assert received["avi"] == [early["id"], later["id"], early["id"], later["id"]], received
    assert received["cy"] == [later["id"], later["id"]], received
