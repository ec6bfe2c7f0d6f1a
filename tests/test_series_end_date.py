"""A series' end date (its RRULE's UNTIL): the series ends with the last session of that day on
its own wall clock, whether the end is given as the web form sends it (a time on that clock),
as a date, or as a UTC time; edits move the end; the calendar feed writes it in UTC, as RFC
5545 wants beside a zoned start (docs/api/, POST /api/meetings)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from tests.support import Api, Community, FakeClock, Person, create_room
from tests.test_meetings import CHICAGO, failed, fetch_text, utc

# Before the first session: Monday 1 March 2027. Chicago's clocks go forward on 14 March.
T0 = datetime(2027, 2, 25, 12, 0, tzinfo=UTC)
MEETING_DAYS = (0, 2)  # Monday, Wednesday
SESSION_TIME = time(19, 0)  # 19:00 local: already the next day in UTC, in both CST and CDT
SERIES: dict[str, Any] = {
    "title": "Cohort A evening group",
    "rrule": "FREQ=WEEKLY;BYDAY=MO,WE",
    "starts_at": "2027-03-01T19:00:00",
    "timezone": "America/Chicago",
    "duration_minutes": 120,
    "lobby_minutes": 15,
}
# How the series keeps an end of Wednesday 31 March, however it was given.
KEPT_END = "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270331T235959"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def sessions_through(last: date) -> list[datetime]:
    """The series worked out by hand: Mon/Wed at 19:00 Chicago wall-clock time from 1 March
    through `last`, as UTC."""
    day, starts = date(2027, 3, 1), []
    while day <= last:
        if day.weekday() in MEETING_DAYS:
            starts.append(datetime.combine(day, SESSION_TIME, tzinfo=CHICAGO).astimezone(UTC))
        day += timedelta(days=1)
    return starts


async def schedule(api: Api, c: Community, **fields: Any) -> dict[str, Any]:
    room = await create_room(
        api, c.mod_lee, name="Evening", kind="meeting", audience="cohort", cohort_id=c.cohort_a
    )
    reply = await api.post("/api/meetings", {**SERIES, "room_id": room, **fields}, c.mod_lee.token)
    assert reply.status == 201, reply.body
    return dict(reply.body["meeting"])


async def starts(api: Api, staff: Person, meeting_id: int) -> list[datetime]:
    """Every occurrence the series has from now on (the listing reaches past its end)."""
    path = f"/api/meetings/{meeting_id}/occurrences?past_days=0&days=120"
    reply = await api.get(path, staff.token)
    assert reply.status == 200, reply.body
    return [utc(occurrence["starts_at"]) for occurrence in reply.body["occurrences"]]


async def change(api: Api, staff: Person, meeting_id: int, **fields: Any) -> dict[str, Any]:
    reply = await api.patch(f"/api/meetings/{meeting_id}", fields, staff.token)
    assert reply.status == 200, reply.body
    return dict(reply.body["meeting"])


@pytest.mark.parametrize(
    "until",
    [
        "20270331T235959",  # what the web form sends: the end of the day on the series' clock
        "20270331",  # a date: the same day
        "20270401T045959Z",  # a UTC time: 23:59:59 in Chicago (CDT, UTC-5) that day
    ],
)
async def test_a_series_ends_with_the_last_session_of_its_end_date_on_its_own_clock(
    api: Api, community: Community, until: str
) -> None:
    c = community
    meeting = await schedule(api, c, rrule=f"FREQ=WEEKLY;BYDAY=MO,WE;UNTIL={until}")
    assert meeting["rrule"] == KEPT_END, meeting

    listed = await starts(api, c.mod_lee, meeting["id"])
    assert listed == sessions_through(date(2027, 3, 31))
    assert len(listed) == 10
    # Across the change to daylight-saving time the sessions stay at 19:00 local...
    assert listed[0] == datetime(2027, 3, 2, 1, 0, tzinfo=UTC)  # Monday 1 March, CST
    # ...and the last, on the end date itself, starts after midnight UTC.
    assert listed[-1] == datetime(2027, 4, 1, 0, 0, tzinfo=UTC)  # Wednesday 31 March, CDT
    # Members see the same sessions.
    upcoming = await api.get("/api/meetings/upcoming?days=60", c.pat_ana.token)
    assert [utc(o["starts_at"]) for o in upcoming.body["occurrences"]] == listed

    # The calendar feed gives the end in UTC, beside its zoned start (RFC 5545 3.3.10).
    token = (await api.get("/api/me/calendar-token", c.pat_ana.token)).body["token"]
    status, _, ics = await fetch_text(api, f"/api/calendar.ics?token={token}")
    assert status == 200
    assert "RRULE:FREQ=WEEKLY;UNTIL=20270401T045959Z;BYDAY=MO,WE" in ics, ics


async def test_editing_the_end_date_moves_the_last_session(api: Api, community: Community) -> None:
    c = community
    meeting = await schedule(api, c)
    assert len(await starts(api, c.mod_lee, meeting["id"])) > 30  # no end: weeks on end

    # An end date from the form: Wednesday 17 March, after the clocks went forward.
    changed = await change(
        api, c.mod_lee, meeting["id"], rrule=f"{SERIES['rrule']};UNTIL=20270317T235959"
    )
    assert changed["rrule"].endswith("UNTIL=20270317T235959"), changed
    assert await starts(api, c.mod_lee, meeting["id"]) == sessions_through(date(2027, 3, 17))

    # A UTC end at the very start of Wednesday 10 March's session (19:00 CST = 01:00Z): it
    # is the last, and the series keeps the end on its own clock.
    changed = await change(
        api, c.mod_lee, meeting["id"], rrule=f"{SERIES['rrule']};UNTIL=20270311T010000Z"
    )
    assert changed["rrule"] == f"{SERIES['rrule']};UNTIL=20270310T190000", changed
    assert await starts(api, c.mod_lee, meeting["id"]) == sessions_through(date(2027, 3, 10))

    # A new time zone keeps the end date a day of the series' own clock.
    changed = await change(api, c.mod_lee, meeting["id"], timezone="America/New_York")
    assert changed["rrule"] == f"{SERIES['rrule']};UNTIL=20270310T190000", changed
    listed = await starts(api, c.mod_lee, meeting["id"])
    assert listed[-1] == datetime(2027, 3, 11, 0, 0, tzinfo=UTC)  # 19:00 EST, 10 March


@pytest.mark.parametrize(
    "rrule",
    [
        "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=2027-03-31",
        "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270231",
        "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270331T2359",
        "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270331T235959+0100",
        "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4;UNTIL=20270331T235959",
        "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270331;UNTIL=20270430",
    ],
)
async def test_an_end_date_that_is_not_a_day_or_a_time_is_refused_and_changes_nothing(
    api: Api, community: Community, rrule: str
) -> None:
    c = community
    meeting = await schedule(api, c, rrule=KEPT_END)
    room = meeting["room_id"]
    new = await api.post(
        "/api/meetings", {**SERIES, "room_id": room, "rrule": rrule}, c.mod_lee.token
    )
    failed(new, 422, "invalid", "rrule")
    edit = await api.patch(f"/api/meetings/{meeting['id']}", {"rrule": rrule}, c.mod_lee.token)
    failed(edit, 422, "invalid", "rrule")

    listed = await api.get("/api/meetings", c.mod_lee.token)
    assert [m["rrule"] for m in listed.body["meetings"]] == [KEPT_END]
