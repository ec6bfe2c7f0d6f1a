"""Moving one occurrence of a meeting series to another time: its members are told, and its
lobby, notices, posting window, check-ins, attendance and calendar entry go with it
(docs/meetings.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from icalendar import Calendar

from tests.conftest import PeerFactory
from tests.support import (
    Api,
    Community,
    FakeClock,
    audit,
    barrier,
    joined,
    ok,
    refused,
    try_send,
    with_settings,
)
from tests.test_meetings import (
    CHICAGO,
    FIRST,
    LOBBY,
    SETTINGS,
    T0,
    TITLE,
    attendance,
    check_in,
    create_meeting,
    failed,
    fetch_text,
    meeting_notices,
    meeting_room,
    ticks,
    upcoming,
    utc,
    z,
)

# The meetings tests' settings (their meeting clock's tick) on the usual server.
pytestmark = [pytest.mark.persistence, with_settings(**SETTINGS)]

# Monday's 18:00 Chicago group (FIRST) held on Tuesday at 19:00 instead.
MOVED_LOCAL = "2026-10-27T19:00:00"
MOVED = datetime(2026, 10, 27, 19, 0, tzinfo=CHICAGO).astimezone(UTC)
WEDNESDAY = datetime(2026, 10, 28, 18, 0, tzinfo=CHICAGO).astimezone(UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def moves(meeting: dict[str, Any]) -> list[tuple[datetime, datetime]]:
    return [(utc(m["from"]), utc(m["to"])) for m in meeting["moved"]]


async def move(
    api: Api, c: Community, meeting_id: int, occurrence: str, starts_at: str, reason: str = ""
) -> Any:
    body = {"occurrence": occurrence, "starts_at": starts_at, "reason": reason}
    return await api.post(f"/api/meetings/{meeting_id}/move", body, token=c.mod_lee.token)


async def test_a_moved_session_is_told_to_its_members_and_held_at_the_new_time(
    api: Api, community: Community, peer: PeerFactory, clock: FakeClock
) -> None:
    c = community
    room = await meeting_room(api, c)
    meeting = await create_meeting(api, c, room)
    ana, bo = await peer(c.pat_ana.token), await peer(c.pat_bo.token)

    reply = await move(api, c, meeting["id"], z(FIRST), MOVED_LOCAL, "The room is booked.")
    assert reply.status == 200, reply.body
    assert moves(reply.body["meeting"]) == [(FIRST, MOVED)], reply.body

    notice = await ana.wait_for("notice", lambda n: n.get("kind") == "meeting_moved")
    assert (utc(notice["moved_from"]), utc(notice["starts_at"])) == (FIRST, MOVED), notice
    assert notice["reason"] == "The room is booked." and notice["meeting_id"] == meeting["id"]
    assert "Mon 26 Oct 18:00" in notice["text"] and "Tue 27 Oct 19:00" in notice["text"], notice
    await barrier(bo)
    assert not [n for n in bo.received("notice") if n.get("kind") == "meeting_moved"]
    [entry] = [e for e in await audit(api, c.mod_lee) if e["action"] == "meeting_moved"]
    assert entry["room_id"] == room and "booked" in entry["reason"], entry

    listed = [o for o in await upcoming(api, c.pat_ana, 10) if o["meeting_id"] == meeting["id"]]
    starts = [utc(o["starts_at"]) for o in listed]
    assert FIRST not in starts and starts[0] == MOVED and starts[1] == WEDNESDAY, listed
    assert utc(listed[0]["moved_from"]) == FIRST and listed[1]["moved_from"] is None, listed
    assert utc(listed[0]["ends_at"]) == MOVED + timedelta(minutes=180), listed[0]

    # Nothing happens at the old time; the lobby opens, and members may post, at the new one.
    await joined(ana, room)
    clock.current = FIRST - LOBBY + timedelta(minutes=1)
    await ticks(clock)
    refused(await try_send(ana, room, "is anyone here?"), "meeting_closed")
    await barrier(ana)
    assert meeting_notices(ana, meeting["id"]) == []
    clock.current = MOVED - LOBBY + timedelta(minutes=1)
    await ticks(clock)
    lobby = await ana.wait_for("notice", lambda n: n.get("kind") == "meeting_lobby_open")
    assert utc(lobby["starts_at"]) == MOVED, lobby
    ok(await try_send(ana, room, "here early"))

    clock.current = MOVED + timedelta(minutes=5)
    checked = await check_in(api, c.pat_ana, meeting["id"], mood=4)
    assert checked.status == 201 and utc(checked.body["checkin"]["occurrence"]) == MOVED
    rows = await attendance(api, c.mod_lee, meeting["id"], MOVED)
    assert rows[c.pat_ana.id]["checkin"]["mood"] == 4, rows
    failed(
        await api.get(
            f"/api/meetings/{meeting['id']}/attendance?occurrence={z(FIRST)}", c.mod_lee.token
        ),
        422,
        "invalid",
        "occurrence",
    )


async def test_the_calendar_carries_a_moved_session_as_its_own_event(
    api: Api, community: Community
) -> None:
    c = community
    meeting = await create_meeting(api, c, await meeting_room(api, c))
    assert (await move(api, c, meeting["id"], z(FIRST), MOVED_LOCAL)).status == 200
    token = (await api.get("/api/me/calendar-token", token=c.pat_ana.token)).body["token"]

    status, _, text = await fetch_text(api, f"/api/calendar.ics?token={token}")
    assert status == 200, text
    events: list[Any] = [
        e for e in Calendar.from_ical(text).walk("VEVENT") if str(e.get("SUMMARY")) == TITLE
    ]
    assert len(events) == 2, text
    series, moved = events
    assert "RRULE" in series and "RECURRENCE-ID" not in series, text
    assert str(moved["UID"]) == str(series["UID"]), text
    assert moved["RECURRENCE-ID"].dt.astimezone(UTC) == FIRST, text
    assert moved["DTSTART"].dt.astimezone(UTC) == MOVED, text
    assert moved["DTSTART"].params.get("TZID") == "America/Chicago", text


async def test_a_move_that_cannot_be_kept_is_refused_and_changes_nothing(
    api: Api, community: Community, clock: FakeClock
) -> None:
    c = community
    meeting = await create_meeting(api, c, await meeting_room(api, c))
    mid = meeting["id"]

    body = {"occurrence": z(FIRST), "starts_at": MOVED_LOCAL}
    refused_for_ana = await api.post(f"/api/meetings/{mid}/move", body, token=c.pat_ana.token)
    failed(refused_for_ana, 403, "forbidden")
    failed(await move(api, c, 999_999, z(FIRST), MOVED_LOCAL), 404, "not_found")
    for occurrence, starts_at, field in (
        (z(FIRST + timedelta(hours=1)), MOVED_LOCAL, "occurrence"),  # no occurrence then
        ("monday", MOVED_LOCAL, "occurrence"),
        (z(FIRST), "tuesday evening", "starts_at"),
        (z(FIRST), "2026-10-27T19:00:00-05:00", "starts_at"),  # an offset, not wall clock
        (z(FIRST), "2026-10-19T19:00:00", "starts_at"),  # in the past
        (z(FIRST), "2026-10-28T18:00:00", "starts_at"),  # Wednesday's session is then
    ):
        failed(await move(api, c, mid, occurrence, starts_at), 422, "invalid", field)
    assert (await move(api, c, mid, z(FIRST), MOVED_LOCAL, "x" * 301)).status == 422

    cancel = {"occurrence": z(WEDNESDAY)}
    assert (await api.post(f"/api/meetings/{mid}/cancel", cancel, c.mod_lee.token)).status == 200
    failed(await move(api, c, mid, z(WEDNESDAY), "2026-10-29T10:00:00"), 422, "invalid")
    clock.current = FIRST - timedelta(minutes=10)  # Monday's lobby is open
    failed(await move(api, c, mid, z(FIRST), MOVED_LOCAL), 422, "invalid", "lobby")

    meetings = await api.get("/api/meetings", token=c.mod_lee.token)
    [series] = [m for m in meetings.body["meetings"] if m["id"] == mid]
    assert series["moved"] == [] and [utc(t) for t in series["cancelled"]] == [WEDNESDAY]


async def test_a_moved_session_moves_again_by_its_new_time_and_back_to_its_own(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    mid = (await create_meeting(api, c, await meeting_room(api, c)))["id"]
    assert (await move(api, c, mid, z(FIRST), MOVED_LOCAL)).status == 200

    # Once moved, the session is named by its new start; the old one names nothing.
    failed(await move(api, c, mid, z(FIRST), "2026-10-27T20:00:00"), 422, "invalid")
    later = await move(api, c, mid, z(MOVED), "2026-10-27T20:00:00")
    assert later.status == 200, later.body
    assert moves(later.body["meeting"]) == [(FIRST, MOVED + timedelta(hours=1))], later.body

    ana = await peer(c.pat_ana.token)
    back = await move(api, c, mid, z(MOVED + timedelta(hours=1)), "2026-10-26T18:00:00")
    assert back.status == 200 and back.body["meeting"]["moved"] == [], back.body
    notice = await ana.wait_for("notice", lambda n: n.get("kind") == "meeting_moved")
    assert utc(notice["starts_at"]) == FIRST, notice
    listed = [o for o in await upcoming(api, c.pat_ana, 10) if o["meeting_id"] == mid]
    assert utc(listed[0]["starts_at"]) == FIRST and listed[0]["moved_from"] is None, listed
