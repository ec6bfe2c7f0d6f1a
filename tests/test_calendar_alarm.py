"""The calendar feed reminds: every session's event carries a display alarm 15 minutes before
it starts, naming the session, a moved session's event too; a cancelled one has none. The
feed stays the same from one fetch to the next (docs/meetings.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from icalendar import Calendar

from server.meetings.calendar import REMINDER_BEFORE, series_events
from server.meetings.models import MeetingSeries
from server.meetings.occurrences import Exceptions
from tests.support import Api, Community, FakeClock, with_settings
from tests.test_meetings import (
    CHICAGO,
    FIRST,
    SETTINGS,
    T0,
    TITLE,
    create_meeting,
    fetch_text,
    meeting_room,
    z,
)

# Monday's 18:00 Chicago session (FIRST) held on Tuesday at 19:00 instead; Wednesday's moved to
# Thursday morning and then cancelled.
MOVED = datetime(2026, 10, 27, 19, 0, tzinfo=CHICAGO).astimezone(UTC)
WEDNESDAY = datetime(2026, 10, 28, 18, 0, tzinfo=CHICAGO).astimezone(UTC)
THURSDAY_MORNING = datetime(2026, 10, 29, 10, 0, tzinfo=CHICAGO).astimezone(UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def alarms_of(event: Any) -> list[Any]:
    return [part for part in event.subcomponents if part.name == "VALARM"]


def assert_reminds(event: Any, title: str) -> None:
    """One display alarm, 15 minutes before the start, naming the session."""
    [alarm] = alarms_of(event)
    assert str(alarm["ACTION"]) == "DISPLAY", alarm.to_ical()
    trigger = alarm["TRIGGER"]
    assert trigger.dt == -timedelta(minutes=15), alarm.to_ical()
    assert trigger.params.get("RELATED", "START") == "START", alarm.to_ical()
    assert title in str(alarm["DESCRIPTION"]), alarm.to_ical()
    assert b"TRIGGER:-PT15M" in alarm.to_ical()


def is_cancelled(event: Any) -> bool:
    return str(event.get("STATUS", "")) == "CANCELLED"


@pytest.mark.persistence
@with_settings(**SETTINGS)
async def test_every_session_in_the_feed_reminds_15_minutes_before(
    api: Api, community: Community
) -> None:
    c = community
    meeting = await create_meeting(api, c, await meeting_room(api, c))
    mid = meeting["id"]
    for occurrence, starts_at in (
        (FIRST, "2026-10-27T19:00:00"),
        (WEDNESDAY, "2026-10-29T10:00:00"),
    ):
        body = {"occurrence": z(occurrence), "starts_at": starts_at}
        reply = await api.post(f"/api/meetings/{mid}/move", body, token=c.mod_lee.token)
        assert reply.status == 200, reply.body
    cancel = {"occurrence": z(THURSDAY_MORNING)}
    reply = await api.post(f"/api/meetings/{mid}/cancel", cancel, token=c.mod_lee.token)
    assert reply.status == 200, reply.body

    token = (await api.get("/api/me/calendar-token", token=c.pat_ana.token)).body["token"]
    status, _, text = await fetch_text(api, f"/api/calendar.ics?token={token}")
    assert status == 200, text
    events: list[Any] = [
        e for e in Calendar.from_ical(text).walk("VEVENT") if str(e.get("SUMMARY")) == TITLE
    ]
    assert len(events) == 3, text
    series, moved, cancelled = events
    assert "RRULE" in series and moved["DTSTART"].dt.astimezone(UTC) == MOVED, text
    assert moved["RECURRENCE-ID"].dt.astimezone(UTC) == FIRST, text
    assert cancelled["RECURRENCE-ID"].dt.astimezone(UTC) == WEDNESDAY, text
    assert_reminds(series, TITLE)
    assert_reminds(moved, TITLE)
    # A session that will not be held reminds nobody.
    assert is_cancelled(cancelled) and alarms_of(cancelled) == [], text

    # Nothing in it changes between two fetches (calendar apps compare them).
    again = await fetch_text(api, f"/api/calendar.ics?token={token}")
    assert again == (status, "text/calendar", text)


def test_the_reminder_is_built_for_each_event_of_a_series() -> None:
    series = MeetingSeries(
        id=7,
        title="Morning check-in",
        room_id=3,
        rrule="FREQ=DAILY",
        starts_at="2026-10-26T09:00:00",
        timezone="America/Chicago",
        duration_minutes=30,
        lobby_minutes=10,
        video_url=None,
        created_at=T0,
    )
    first = datetime(2026, 10, 26, 14, 0, tzinfo=UTC)
    second = first + timedelta(days=1)
    moved_to = first + timedelta(hours=3)
    exceptions = Exceptions(cancelled=frozenset({second}), moved={first: moved_to})
    made = series_events(series, exceptions, "https://peerrooms.example.org", T0)
    assert REMINDER_BEFORE == timedelta(minutes=15)
    assert [len(alarms_of(event)) for event in made] == [1, 1]
    for event in made:
        assert_reminds(event, "Morning check-in")
    # Built twice, the same bytes.
    again = series_events(series, exceptions, "https://peerrooms.example.org", T0)
    assert [e.to_ical() for e in made] == [e.to_ical() for e in again]
