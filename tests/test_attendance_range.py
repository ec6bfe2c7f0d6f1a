"""Attendance over two weeks for a cohort (GET /api/attendance): sessions that started in the
range, cancelled ones left out, per person sessions, minutes, late arrivals and moods with low
ones flagged, and the same as CSV with the meeting, local date and time zone on every row."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import PeerFactory
from tests.support import (
    Api,
    Community,
    FakeClock,
    Person,
    create_room,
    joined,
    register,
    with_settings,
)

# Monday 2 November 2026; the meeting is Mondays and Wednesdays at 18:00 in Chicago (CST).
T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
FIRST = datetime(2026, 11, 3, 0, 0, tzinfo=UTC)  # Monday 2 Nov, 18:00 CST
CANCELLED = datetime(2026, 11, 5, 0, 0, tzinfo=UTC)  # Wednesday 4 Nov
SECOND = datetime(2026, 11, 10, 0, 0, tzinfo=UTC)  # Monday 9 Nov
RANGE = "since=2026-11-02T00:00:00Z&until=2026-11-11T00:00:00Z"

# Tokens outlive the days the fake clock is moved across.
pytestmark = with_settings(token_ttl_hours=24 * 800)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


async def attend(
    peer: PeerFactory,
    api: Api,
    clock: FakeClock,
    who: Person,
    room: int,
    meeting: int,
    arrive: datetime,
    leave: datetime,
    mood: int,
) -> None:
    clock.current = arrive
    connection = await peer(who.token)
    await joined(connection, room)
    checked_in = await api.post(f"/api/meetings/{meeting}/checkins", {"mood": mood}, who.token)
    assert checked_in.status == 201, checked_in.body
    clock.current = leave
    left = await connection.call("leave", {"room_id": room})
    assert left["ok"], left


async def evening_group(api: Api, c: Community) -> tuple[int, int]:
    """Cohort A's meeting room and its Monday and Wednesday evening series (from FIRST)."""
    room = await create_room(
        api, c.mod_lee, name="Evening", kind="meeting", audience="cohort", cohort_id=c.cohort_a
    )
    created = await api.post(
        "/api/meetings",
        {"title": "Evening group", "room_id": room, "rrule": "FREQ=WEEKLY;BYDAY=MO,WE",
         "starts_at": "2026-11-02T18:00:00", "timezone": "America/Chicago",
         "duration_minutes": 180, "lobby_minutes": 15},
        c.mod_lee.token,
    )  # fmt: skip
    assert created.status == 201, created.body
    return room, int(created.body["meeting"]["id"])


async def test_two_weeks_of_a_cohorts_sessions_per_person_and_as_csv(
    api: Api, community: Community, clock: FakeClock, peer: PeerFactory
) -> None:
    c = community
    room, meeting = await evening_group(api, c)
    cancel = await api.post(
        f"/api/meetings/{meeting}/cancel",
        {"occurrence": "2026-11-05T00:00:00Z", "reason": "holiday"},
        c.mod_lee.token,
    )
    assert cancel.status == 200, cancel.body

    await attend(peer, api, clock, c.pat_ana, room, meeting, FIRST + minutes(10),
                 FIRST + minutes(70), mood=2)  # fmt: skip
    await attend(peer, api, clock, c.pat_ana, room, meeting, SECOND, SECOND + minutes(180),
                 mood=4)  # fmt: skip
    await attend(peer, api, clock, c.pat_avi, room, meeting, SECOND + minutes(2),
                 SECOND + minutes(32), mood=5)  # fmt: skip
    clock.current = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)

    reply = await api.get(f"/api/attendance?cohort_id={c.cohort_a}&{RANGE}", c.mod_lee.token)
    assert reply.status == 200, reply.body
    sessions = reply.body["sessions"]
    assert [(s["starts_at"], s["local_start"], s["timezone"]) for s in sessions] == [
        ("2026-11-03T00:00:00.000Z", "2026-11-02 18:00", "America/Chicago"),
        ("2026-11-10T00:00:00.000Z", "2026-11-09 18:00", "America/Chicago"),
    ]
    people = {p["user"]["display_name"]: p for p in reply.body["people"]}
    assert set(people) == {"Ana", "Avi"}  # staff run the sessions; they are not listed
    ana, avi = people["Ana"], people["Avi"]
    assert (ana["sessions"], ana["attended"], ana["minutes"], ana["late"]) == (2, 2, 240.0, 1)
    assert [(m["mood"], m["low"]) for m in ana["moods"]] == [(2, True), (4, False)]
    assert ana["low_moods"] == 1
    assert (avi["sessions"], avi["attended"], avi["minutes"], avi["late"]) == (2, 1, 30.0, 0)

    # One meeting alone gives the same; another cohort's meetings are not in cohort B's.
    alone = await api.get(f"/api/attendance?meeting_id={meeting}&{RANGE}", c.mod_lee.token)
    assert alone.body["sessions"] == sessions
    other = await api.get(f"/api/attendance?cohort_id={c.cohort_b}&{RANGE}", c.mod_lee.token)
    assert other.body == {"sessions": [], "people": []}

    headers = {"Authorization": f"Bearer {c.mod_lee.token}"}
    url = f"{api.base_url}/api/attendance?cohort_id={c.cohort_a}&{RANGE}&format=csv"
    async with api.session.get(url, headers=headers) as response:
        assert response.status == 200 and response.content_type == "text/csv"
        rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [(r["date"], r["local_start"], r["timezone"], r["display_name"], r["mood"],
             r["low_mood"]) for r in rows] == [
        ("2026-11-02", "18:00", "America/Chicago", "Ana", "2", "yes"),
        ("2026-11-02", "18:00", "America/Chicago", "Avi", "", ""),
        ("2026-11-09", "18:00", "America/Chicago", "Ana", "4", ""),
        ("2026-11-09", "18:00", "America/Chicago", "Avi", "5", ""),
    ]  # fmt: skip
    assert {r["meeting"] for r in rows} == {"Evening group"}
    assert {r["meeting_id"] for r in rows} == {str(meeting)}


@pytest.mark.parametrize(
    "query",
    [RANGE, "cohort_id=1", "cohort_id=1&since=2026-11-02T00:00:00Z",
     "cohort_id=1&since=2026-11-10T00:00:00Z&until=2026-11-02T00:00:00Z",
     "cohort_id=1&since=2026-01-01T00:00:00Z&until=2026-06-01T00:00:00Z",
     "cohort_id=x&" + RANGE, "cohort_id=1&since=monday&until=2026-11-11T00:00:00Z"],
)  # fmt: skip
async def test_bad_ranges_are_invalid(api: Api, community: Community, query: str) -> None:
    reply = await api.get(f"/api/attendance?{query}", community.mod_lee.token)
    assert reply.status == 422 and reply.error_code == "invalid", reply.body


async def test_attendance_is_for_staff(api: Api, community: Community) -> None:
    c = community
    reply = await api.get(f"/api/attendance?cohort_id={c.cohort_a}&{RANGE}", c.pat_ana.token)
    assert reply.status == 403 and reply.error_code == "forbidden", reply.body


async def test_each_session_expects_the_cohort_as_it_was_when_it_started(
    api: Api, community: Community, clock: FakeClock
) -> None:
    """A patient who registered after a session, graduated before it, or was deactivated
    before it is not counted absent from it; before that, they were expected."""
    c = community
    await evening_group(api, c)

    # After the sessions of 2 and 4 November, before that of 9 November.
    clock.current = datetime(2026, 11, 6, 12, 0, tzinfo=UTC)
    newcomer = await register(api, c.mod_lee, "pat_cy", "patient", c.cohort_a)
    graduated = await api.post(f"/api/users/{c.pat_avi.id}/graduate", {}, c.mod_lee.token)
    assert graduated.status == 200, graduated.body
    deactivated = await api.post(f"/api/users/{c.pat_ana.id}/deactivate", {}, c.mod_lee.token)
    assert deactivated.status == 200, deactivated.body

    clock.current = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)
    report = await api.get(f"/api/attendance?cohort_id={c.cohort_a}&{RANGE}", c.mod_lee.token)
    assert report.status == 200, report.body
    expected = {
        session["starts_at"][:10]: sorted(
            row["user"]["display_name"] for row in session["attendees"]
        )
        for session in report.body["sessions"]
    }
    assert expected == {
        "2026-11-03": ["Ana", "Avi"],
        "2026-11-05": ["Ana", "Avi"],
        "2026-11-10": [newcomer.display_name],
    }, expected
    sessions = {p["user"]["display_name"]: p["sessions"] for p in report.body["people"]}
    assert sessions == {"Ana": 2, "Avi": 2, newcomer.display_name: 1}, sessions
