"""Scheduled meetings: occurrence expansion across daylight-saving changes, series validation,
lifecycle notices (once, also with two servers), the posting window, attendance and
check-ins, ICS feeds and confidentiality between cohorts (docs/api/, Meetings)."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from dateutil.rrule import rrulestr
from icalendar import Calendar

from server.app import CORE
from server.meetings.models import MeetingSeries
from tests.conftest import PeerFactory
from tests.support import (
    Api,
    Community,
    FakeClock,
    Peer,
    Person,
    Reply,
    RunningServer,
    audit,
    barrier,
    barrier_through_redis,
    build_community,
    create_room,
    eventually,
    joined,
    ok,
    public,
    refused,
    register,
    server_settings,
    start_server,
    try_send,
)

pytestmark = pytest.mark.persistence

CHICAGO = ZoneInfo("America/Chicago")
# A Tuesday before the series' first occurrence (Monday 2026-10-26, 18:00 CDT = 23:00Z).
T0 = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
FIRST = datetime(2026, 10, 26, 23, 0, tzinfo=UTC)
DURATION = timedelta(minutes=180)
LOBBY = timedelta(minutes=15)
MEETING_DAYS = (0, 2, 3)  # Monday, Wednesday, Thursday
VIDEO_URL = "https://video.example.org/iop-a-evening-7f3k9q"
TITLE = "Cohort A evening group"
CRISIS = "I want to kill myself"
LIFECYCLE_KINDS = ("meeting_lobby_open", "meeting_started", "meeting_ended")

SERIES: dict[str, Any] = {
    "title": TITLE,
    "rrule": "FREQ=WEEKLY;BYDAY=MO,WE,TH",
    "starts_at": "2026-10-26T18:00:00",
    "timezone": "America/Chicago",
    "duration_minutes": 180,
    "lobby_minutes": 15,
    "video_url": VIDEO_URL,
}

# The meeting clock ticks on the fake clock, every TICK of it; tokens outlive the months the
# fake clock is moved across.
TICK = 5.0
SETTINGS: dict[str, Any] = {"meeting_tick_s": TICK, "token_ttl_hours": 24 * 800}


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


# ----- a server with a fake clock at T0 and a fast meeting clock -----


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def server(
    database_url: str, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[RunningServer]:
    running = await start_server(server_settings(database_url, tmp_path, **SETTINGS), clock)
    yield running
    await running.stop()


# ----- helpers -----


def z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc(text: str) -> datetime:
    assert isinstance(text, str) and text.endswith("Z"), text
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert moment.utcoffset() == timedelta(0), text
    return moment


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def failed(reply: Reply, status: int, code: str, field: str | None = None) -> None:
    assert reply.status == status, (reply.status, reply.body)
    assert reply.error_code == code, reply.body
    message = reply.body["error"]["message"]
    assert isinstance(message, str) and message, reply.body
    if field is not None:
        assert field in message, (field, reply.body)


async def meeting_room(api: Api, c: Community, cohort_id: int | None = None) -> int:
    return await create_room(
        api,
        c.mod_lee,
        name="Evening group",
        kind="meeting",
        audience="cohort",
        cohort_id=cohort_id or c.cohort_a,
    )


async def create_meeting(api: Api, c: Community, room_id: int, **fields: Any) -> dict[str, Any]:
    reply = await api.post(
        "/api/meetings", {**SERIES, "room_id": room_id, **fields}, token=c.mod_lee.token
    )
    assert reply.status == 201, reply.body
    meeting = reply.body["meeting"]
    assert isinstance(meeting["id"], int), meeting
    return dict(meeting)


async def upcoming(api: Api, person: Person, days: int) -> list[dict[str, Any]]:
    reply = await api.get(f"/api/meetings/upcoming?days={days}", token=person.token)
    assert reply.status == 200, reply.body
    return list(reply.body["occurrences"])


def expected_starts(since: datetime, until: datetime) -> list[datetime]:
    """The series worked out by hand: Mon/Wed/Thu at 18:00 Chicago wall-clock time, from
    2026-10-26; those not ended at `since` that start before `until` (UTC)."""
    day = max(since.astimezone(CHICAGO).date() - timedelta(days=1), date(2026, 10, 26))
    last = until.astimezone(CHICAGO).date() + timedelta(days=1)
    starts = []
    while day <= last:
        if day.weekday() in MEETING_DAYS:
            start = datetime.combine(day, time(18, 0), tzinfo=CHICAGO).astimezone(UTC)
            if start + DURATION > since and start < until:
                starts.append(start)
        day += timedelta(days=1)
    return starts


def check_occurrence(item: dict[str, Any], meeting: dict[str, Any]) -> datetime:
    """An upcoming occurrence's own consistency; answers its UTC start."""
    start = utc(item["starts_at"])
    local = start.astimezone(CHICAGO)
    assert (local.hour, local.minute, local.second) == (18, 0, 0), item
    assert local.weekday() in MEETING_DAYS, item
    assert utc(item["ends_at"]) == start + DURATION, item
    assert utc(item["lobby_opens_at"]) == start - LOBBY, item
    assert item["meeting_id"] == meeting["id"], item
    assert item["room_id"] == meeting["room_id"], item
    assert item["title"] == TITLE, item
    return start


def meeting_notices(peer: Peer, meeting_id: int) -> list[dict[str, Any]]:
    return [
        notice
        for notice in peer.received("notice")
        if notice.get("kind") in LIFECYCLE_KINDS and notice.get("meeting_id") == meeting_id
    ]


def notice_counts(peer: Peer, meeting_id: int) -> Counter[str]:
    return Counter(notice["kind"] for notice in meeting_notices(peer, meeting_id))


async def ticks(clock: FakeClock, count: int = 1) -> None:
    """Let the meeting clock tick `count` times; each tick has ended when this answers."""
    for _ in range(count):
        await clock.advance(seconds=TICK)


async def wait_for_notice(
    peer: Peer, kind: str, meeting: dict[str, Any], starts: datetime
) -> dict[str, Any]:
    notice = await peer.wait_for(
        "notice", lambda n: n.get("kind") == kind and n.get("meeting_id") == meeting["id"]
    )
    assert notice["room_id"] == meeting["room_id"], notice
    assert utc(notice["starts_at"]) == starts, notice
    assert isinstance(notice["text"], str) and notice["text"], notice
    return dict(notice)


async def fetch_text(api: Api, path: str, token: str | None = None) -> tuple[int, str, str]:
    """A non-JSON answer (ICS, CSV): status, content type and text."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with api.session.get(api.base_url + path, headers=headers) as response:
        return response.status, response.content_type, await response.text()


async def attendance(
    api: Api, staff: Person, meeting_id: int, occurrence: datetime
) -> dict[int, dict[str, Any]]:
    reply = await api.get(
        f"/api/meetings/{meeting_id}/attendance?occurrence={z(occurrence)}", token=staff.token
    )
    assert reply.status == 200, reply.body
    rows = reply.body["attendees"]
    by_user = {row["user"]["id"]: row for row in rows}
    assert len(by_user) == len(rows), rows
    return by_user


async def check_in(api: Api, person: Person, meeting_id: int, **body: Any) -> Reply:
    return await api.post(f"/api/meetings/{meeting_id}/checkins", body, token=person.token)


def timed(row: dict[str, Any]) -> dict[str, Any]:
    """An attendance row with its times as datetimes, to compare instants, not spellings."""
    return {
        **row,
        **{
            key: None if row[key] is None else utc(row[key])
            for key in ("first_joined_at", "last_left_at")
        },
    }


def exdates_of(event: Any) -> list[datetime]:
    found = event.get("EXDATE")
    if found is None:
        return []
    lists = found if isinstance(found, list) else [found]
    return [entry.dt.astimezone(UTC) for exdate in lists for entry in exdate.dts]


def unfolded(ics: str) -> str:
    return ics.replace("\r\n ", "").replace("\r\n\t", "")


# ----- occurrences -----


async def test_occurrences_follow_the_wall_clock_across_daylight_saving_changes(
    api: Api, community: Community, clock: FakeClock
) -> None:
    c = community
    room = await meeting_room(api, c)
    meeting = await create_meeting(api, c, room)
    assert {key: meeting[key] for key in SERIES} == SERIES
    assert meeting["room_id"] == room

    # Autumn: CDT ends on 2026-11-01, so 18:00 local moves from 23:00Z to 00:00Z.
    listed = await upcoming(api, c.pat_ana, 21)
    starts = [check_occurrence(item, meeting) for item in listed]
    assert starts == expected_starts(T0, T0 + timedelta(days=21))
    assert len(starts) == 7
    assert {item["status"] for item in listed} == {"scheduled"}
    assert starts[0] == at("2026-10-26T23:00:00Z")  # Monday, CDT
    assert starts[2] == at("2026-10-29T23:00:00Z")  # Thursday, CDT
    assert starts[3] == at("2026-11-03T00:00:00Z")  # Monday 2 Nov, CST
    assert {s.hour for s in starts if s < datetime(2026, 11, 1, tzinfo=UTC)} == {23}
    assert {s.hour for s in starts if s > datetime(2026, 11, 2, tzinfo=UTC)} == {0}

    # The status moves with the clock: lobby, live, then the ended one is not listed.
    clock.current = FIRST - minutes(16)
    assert [o["status"] for o in (await upcoming(api, c.pat_ana, 7))[:2]] == [
        "scheduled",
        "scheduled",
    ]
    clock.current = FIRST - minutes(10)
    assert [o["status"] for o in (await upcoming(api, c.pat_ana, 7))[:2]] == [
        "lobby",
        "scheduled",
    ]
    clock.current = FIRST + minutes(179)
    live = await upcoming(api, c.pat_ana, 7)
    assert utc(live[0]["starts_at"]) == FIRST, live
    assert [o["status"] for o in live[:2]] == ["live", "scheduled"]
    clock.current = FIRST + DURATION
    after = await upcoming(api, c.pat_ana, 7)
    assert utc(after[0]["starts_at"]) == at("2026-10-28T23:00:00Z"), after
    assert FIRST not in [utc(o["starts_at"]) for o in after]
    assert [check_occurrence(o, meeting) for o in after] == expected_starts(
        clock.now(), clock.now() + timedelta(days=7)
    )

    # Cancelling one occurrence: it stays listed, as cancelled.
    cancelled = datetime(2026, 11, 5, 0, 0, tzinfo=UTC)  # Wednesday 4 Nov, 18:00 CST
    reply = await api.post(
        f"/api/meetings/{meeting['id']}/cancel", {"occurrence": z(cancelled)}, token=c.mod_lee.token
    )
    assert reply.status == 200, reply.body
    assert reply.body["meeting"]["id"] == meeting["id"]
    listed = await upcoming(api, c.pat_ana, 14)
    statuses = {utc(o["starts_at"]): o["status"] for o in listed}
    assert statuses[cancelled] == "cancelled", listed
    assert [s for s, status in statuses.items() if status == "cancelled"] == [cancelled]
    assert [utc(o["starts_at"]) for o in listed] == expected_starts(
        clock.now(), clock.now() + timedelta(days=14)
    )

    # Times that are not occurrences: the Wednesday at its summer-time UTC hour, a Tuesday,
    # and no time at all.
    for bad in ("2026-11-04T23:00:00Z", "2026-11-04T00:00:00Z", "next wednesday"):
        reply = await api.post(
            f"/api/meetings/{meeting['id']}/cancel", {"occurrence": bad}, token=c.mod_lee.token
        )
        failed(reply, 422, "invalid", "occurrence")
    assert [o["status"] for o in await upcoming(api, c.pat_ana, 14)].count("cancelled") == 1

    # Spring: CDT starts on 2027-03-14, so 18:00 local moves back from 00:00Z to 23:00Z.
    clock.current = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    listed = await upcoming(api, c.pat_ana, 30)
    starts = [check_occurrence(item, meeting) for item in listed]
    assert starts == expected_starts(clock.now(), clock.now() + timedelta(days=30))
    assert {item["status"] for item in listed} == {"scheduled"}
    assert at("2027-03-12T00:00:00Z") in starts  # Thursday 11 Mar, CST
    assert at("2027-03-15T23:00:00Z") in starts  # Monday 15 Mar, CDT
    assert {s.hour for s in starts if s < datetime(2027, 3, 14, tzinfo=UTC)} == {0}
    assert {s.hour for s in starts if s > datetime(2027, 3, 15, tzinfo=UTC)} == {23}


# ----- series validation -----


BAD_SERIES: list[tuple[str, dict[str, Any]]] = [
    ("rrule", {"rrule": "FREQ=SOMETIMES"}),
    ("rrule", {"rrule": "BYDAY=MO"}),
    ("rrule", {"rrule": "FREQ=MINUTELY"}),
    ("timezone", {"timezone": "Mars/Olympus"}),
    ("duration_minutes", {"duration_minutes": -30}),
    ("duration_minutes", {"duration_minutes": 0}),
    ("starts_at", {"starts_at": "2026-10-26T18:00:00-05:00"}),
    ("starts_at", {"starts_at": "next monday at six"}),
    ("video_url", {"video_url": "http://video.example.org/iop-a"}),
    ("video_url", {"video_url": "javascript:alert(1)"}),
]


async def test_staff_list_past_and_coming_occurrences_to_pick_an_attendance_report(
    api: Api, community: Community, clock: FakeClock
) -> None:
    c = community
    meeting = await create_meeting(api, c, await meeting_room(api, c))
    mid = meeting["id"]
    clock.current = at("2026-11-05T00:30:00Z")  # Wednesday 4 Nov's session is live (CST)
    cancelled = at("2026-11-03T00:00:00Z")  # Monday 2 Nov, 18:00 CST
    await api.post(f"/api/meetings/{mid}/cancel", {"occurrence": z(cancelled)}, c.mod_lee.token)

    reply = await api.get(f"/api/meetings/{mid}/occurrences?past_days=10&days=3", c.mod_lee.token)
    assert reply.status == 200, reply.body
    listed = reply.body["occurrences"]
    since, until = clock.now() - timedelta(days=10), clock.now() + timedelta(days=3)
    # Ended ones from ten days back, through the live one, to the coming three days.
    assert [utc(o["starts_at"]) for o in listed] == expected_starts(since, until)
    status = {utc(o["starts_at"]): o["status"] for o in listed}
    assert status[FIRST] == "ended"
    assert status[cancelled] == "cancelled"
    assert status[at("2026-11-05T00:00:00Z")] == "live"
    assert status[at("2026-11-06T00:00:00Z")] == "scheduled"
    assert {o["meeting_id"] for o in listed} == {mid}

    # The defaults are two weeks back and one ahead; only staff read this list.
    default = await api.get(f"/api/meetings/{mid}/occurrences", c.mod_lee.token)
    assert [utc(o["starts_at"]) for o in default.body["occurrences"]] == expected_starts(
        clock.now() - timedelta(days=14), clock.now() + timedelta(days=7)
    )
    failed(await api.get(f"/api/meetings/{mid}/occurrences", c.pat_ana.token), 403, "forbidden")
    failed(await api.get("/api/meetings/999999/occurrences", c.mod_lee.token), 404, "not_found")
    for query in ("past_days=-1", "past_days=367", "days=abc", "days=1.5"):
        reply = await api.get(f"/api/meetings/{mid}/occurrences?{query}", c.mod_lee.token)
        failed(reply, 422, "invalid", field=query.partition("=")[0])


async def test_bad_series_input_is_refused_naming_the_field(api: Api, community: Community) -> None:
    c = community
    room = await meeting_room(api, c)
    for field, change in BAD_SERIES:
        reply = await api.post(
            "/api/meetings", {**SERIES, "room_id": room, **change}, token=c.mod_lee.token
        )
        failed(reply, 422, "invalid", field)

    not_a_meeting_room = await api.post(
        "/api/meetings", {**SERIES, "room_id": c.group_a}, token=c.mod_lee.token
    )
    failed(not_a_meeting_room, 422, "invalid", "room_id")

    by_patient = await api.post("/api/meetings", {**SERIES, "room_id": room}, token=c.pat_ana.token)
    failed(by_patient, 403, "forbidden")

    # Nothing above was stored; the unchanged series is accepted.
    listed = await api.get("/api/meetings", token=c.mod_lee.token)
    assert listed.status == 200, listed.body
    assert listed.body["meetings"] == []
    meeting = await create_meeting(api, c, room)
    listed = await api.get("/api/meetings", token=c.mod_lee.token)
    assert [m["id"] for m in listed.body["meetings"]] == [meeting["id"]]


async def test_a_one_off_session_is_one_occurrence(
    api: Api, community: Community, clock: FakeClock
) -> None:
    c = community
    # The console's "One session only": Tuesday 27 October at 19:00 Chicago time.
    only = at("2026-10-28T00:00:00Z")
    fields = {"rrule": "FREQ=DAILY;COUNT=1", "starts_at": "2026-10-27T19:00:00"}
    meeting = await create_meeting(api, c, await meeting_room(api, c), **fields)
    assert meeting["rrule"] == "FREQ=DAILY;COUNT=1", meeting
    occurrences = f"/api/meetings/{meeting['id']}/occurrences?past_days=30&days=90"
    listed = (await api.get(occurrences, c.mod_lee.token)).body["occurrences"]
    assert [(utc(o["starts_at"]), o["status"]) for o in listed] == [(only, "scheduled")]
    assert [utc(o["starts_at"]) for o in await upcoming(api, c.pat_ana, 90)] == [only]

    # Once held, nothing more is coming; staff still find it to read its attendance.
    clock.current = only + DURATION
    assert await upcoming(api, c.pat_ana, 90) == []
    listed = (await api.get(occurrences, c.mod_lee.token)).body["occurrences"]
    assert [(utc(o["starts_at"]), o["status"]) for o in listed] == [(only, "ended")]


async def test_only_staff_cancel_a_session_and_a_refused_cancel_changes_nothing(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    meeting = await create_meeting(api, c, await meeting_room(api, c))
    ana = await peer(c.pat_ana.token)
    path = f"/api/meetings/{meeting['id']}/cancel"
    body = {"occurrence": z(FIRST), "reason": "No group today"}
    for person in (c.pat_ana, c.alum_dee):
        failed(await api.post(path, body, token=person.token), 403, "forbidden")
    failed(await api.post(path, body), 401, "unauthorized")

    listed = await api.get("/api/meetings", token=c.mod_lee.token)
    assert [m["cancelled"] for m in listed.body["meetings"]] == [[]], listed.body
    assert {o["status"] for o in await upcoming(api, c.pat_ana, 7)} == {"scheduled"}
    await barrier(ana)
    assert [n for n in ana.received("notice") if n.get("kind") == "meeting_cancelled"] == []
    assert [e for e in await audit(api, c.mod_lee) if e["action"] == "meeting_cancelled"] == []


# ----- lifecycle notices -----


async def test_lifecycle_notices_reach_the_audience_exactly_once(
    api: Api, community: Community, peer: PeerFactory, clock: FakeClock
) -> None:
    c = community
    room = await meeting_room(api, c)
    meeting = await create_meeting(api, c, room)
    clock.current = FIRST - minutes(16)
    ana = await peer(c.pat_ana.token)
    await joined(ana, room)
    lee = await peer(c.mod_lee.token)
    bo = await peer(c.pat_bo.token)
    await joined(bo, c.group_b)
    await ticks(clock)
    await barrier(ana, lee)
    assert meeting_notices(ana, meeting["id"]) == []
    assert meeting_notices(lee, meeting["id"]) == []

    clock.current = FIRST - minutes(14)
    await ticks(clock)
    for person in (ana, lee):
        await wait_for_notice(person, "meeting_lobby_open", meeting, FIRST)
    await ticks(clock, 3)
    await barrier(ana, lee)
    for person in (ana, lee):
        assert notice_counts(person, meeting["id"]) == {"meeting_lobby_open": 1}

    clock.current = FIRST + minutes(1)
    await ticks(clock)
    for person in (ana, lee):
        await wait_for_notice(person, "meeting_started", meeting, FIRST)
    clock.current = FIRST + DURATION + minutes(1)
    await ticks(clock)
    for person in (ana, lee):
        await wait_for_notice(person, "meeting_ended", meeting, FIRST)

    await ticks(clock, 10)
    await barrier(ana, lee, bo)
    for person in (ana, lee):
        assert notice_counts(person, meeting["id"]) == dict.fromkeys(LIFECYCLE_KINDS, 1)
    assert [n for n in bo.received("notice") if n.get("kind") in LIFECYCLE_KINDS] == []


async def two_servers_announce_once(
    settings_overrides: dict[str, Any],
    database_url: str,
    tmp_path: Path,
    clock: FakeClock,
    check: Callable[[Community, dict[str, Peer], int], None],
    settle: Callable[[list[Peer]], Awaitable[None]],
) -> None:
    """Two servers on one database (and the same fake clock) run their meeting clocks; each
    socket is connected to one of them; `check` judges the notices received once `settle`
    has proved that every notice sent has arrived."""
    settings = server_settings(database_url, tmp_path, **SETTINGS, **settings_overrides)
    servers = [await start_server(settings, clock)]
    peers: dict[str, Peer] = {}
    try:
        servers.append(await start_server(settings, clock))
        one, two = servers
        async with aiohttp.ClientSession() as session:
            api = Api(one.url, session)
            c = await build_community(one, api)
            room = await meeting_room(api, c)
            meeting = await create_meeting(api, c, room)
            clock.current = FIRST - minutes(16)
            for name, person, url in [
                ("ana@1", c.pat_ana, one.url),
                ("ana@2", c.pat_ana, two.url),
                ("lee@1", c.mod_lee, one.url),
                ("lee@2", c.mod_lee, two.url),
                ("avi@2", c.pat_avi, two.url),
                ("bo@1", c.pat_bo, one.url),
                ("bo@2", c.pat_bo, two.url),
            ]:
                peers[name] = await Peer(url, person.token).connect()
            await joined(peers["ana@2"], room)
            moments = (FIRST - minutes(14), FIRST + minutes(1), FIRST + DURATION + minutes(1))
            for moment in moments:
                clock.current = moment
                # Each advance ticks both servers' meeting clocks at once, as two processes
                # would: both try to claim the transition.
                await ticks(clock, 8)
            await settle(list(peers.values()))
            check(c, peers, meeting["id"])
    finally:
        for connected in peers.values():
            await connected.disconnect()
        for running in servers:
            await running.stop()


def every_socket_once(c: Community, peers: dict[str, Peer], meeting_id: int) -> None:
    once = dict.fromkeys(LIFECYCLE_KINDS, 1)
    for name in ("ana@1", "ana@2", "lee@1", "lee@2", "avi@2"):
        assert notice_counts(peers[name], meeting_id) == once, (name, peers[name].events)
    for name in ("bo@1", "bo@2"):
        assert peers[name].received("notice") == [], (name, peers[name].events)


def once_across_both_servers(c: Community, peers: dict[str, Peer], meeting_id: int) -> None:
    # Without Redis a notice reaches the sockets of the process that sent it only; what the
    # database claim guarantees is that exactly one process sends each one.
    for who in ("ana", "lee"):
        total = notice_counts(peers[f"{who}@1"], meeting_id) + notice_counts(
            peers[f"{who}@2"], meeting_id
        )
        assert total == dict.fromkeys(LIFECYCLE_KINDS, 1), (who, total)
    for name in ("bo@1", "bo@2"):
        assert peers[name].received("notice") == [], (name, peers[name].events)


async def test_two_servers_sharing_redis_send_each_notice_once_to_every_socket(
    database_url: str, tmp_path: Path, clock: FakeClock, redis_url: str, redis_prefix: str
) -> None:
    async def settle(peers: list[Peer]) -> None:
        # A notice reaches the other server's sockets through Redis.
        await barrier_through_redis(redis_url, redis_prefix, *peers)

    await two_servers_announce_once(
        {"redis_url": redis_url, "redis_prefix": redis_prefix},
        database_url,
        tmp_path,
        clock,
        every_socket_once,
        settle,
    )


async def test_two_servers_on_one_database_claim_each_notice_once(
    database_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    async def settle(peers: list[Peer]) -> None:
        await barrier(*peers)

    await two_servers_announce_once(
        {}, database_url, tmp_path, clock, once_across_both_servers, settle
    )


# ----- posting window -----


async def test_meeting_room_takes_member_posts_only_in_lobby_and_live_windows(
    api: Api, community: Community, peer: PeerFactory, clock: FakeClock
) -> None:
    c = community
    room = await meeting_room(api, c)
    meeting = await create_meeting(api, c, room)
    ana = await peer(c.pat_ana.token)
    avi = await peer(c.pat_avi.token)
    lee = await peer(c.mod_lee.token)
    for connected in (ana, avi, lee):
        await joined(connected, room)
    delivered: list[str] = []

    async def posts(author: Peer, body: str) -> None:
        ack = ok(await try_send(author, room, body))
        assert ack["message"]["body"] == body, ack
        await avi.wait_for("message", lambda m: m["body"] == body)
        delivered.append(body)

    clock.current = FIRST - LOBBY - minutes(1)
    refused(await try_send(ana, room, "am I early?"), "meeting_closed")
    await posts(lee, "The lobby opens at a quarter to six.")
    await posts(ana, CRISIS)  # nobody in crisis is silenced
    await ana.wait_for("notice", lambda n: n["kind"] == "crisis_resources")

    clock.current = FIRST - LOBBY
    await posts(ana, "hello from the lobby")
    clock.current = FIRST + minutes(30)
    await posts(ana, "glad to be here")
    clock.current = FIRST + DURATION - minutes(1)
    await posts(ana, "thanks everyone")
    clock.current = FIRST + DURATION
    refused(await try_send(ana, room, "one more thing"), "meeting_closed")
    clock.current = FIRST + DURATION + minutes(60)
    refused(await try_send(ana, room, "anyone still here?"), "meeting_closed")
    await posts(lee, "See you on Wednesday.")

    # A cancelled occurrence opens no window.
    wednesday = FIRST + timedelta(days=2)
    reply = await api.post(
        f"/api/meetings/{meeting['id']}/cancel", {"occurrence": z(wednesday)}, token=c.mod_lee.token
    )
    assert reply.status == 200, reply.body
    clock.current = wednesday + minutes(30)
    refused(await try_send(ana, room, "is it on today?"), "meeting_closed")
    await posts(lee, "Today's group is cancelled.")

    history = await api.get(f"/api/rooms/{room}/messages?limit=100", token=c.mod_lee.token)
    assert history.status == 200, history.body
    assert [m["body"] for m in history.body["messages"]] == delivered


# ----- attendance and check-ins -----


async def test_attendance_counts_time_in_the_live_window_once(
    api: Api, community: Community, peer: PeerFactory, clock: FakeClock
) -> None:
    c = community
    pat_cal = await register(api, c.mod_lee, "pat_cal", "patient", c.cohort_a)
    room = await meeting_room(api, c)
    meeting = await create_meeting(api, c, room)
    mid = meeting["id"]
    start = FIRST

    async def report() -> dict[int, dict[str, Any]]:
        return await attendance(api, c.mod_lee, mid, start)

    async def left_at(person: Person, moment: datetime) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            row = (await report())[person.id]
            return row if row["last_left_at"] and utc(row["last_left_at"]) == moment else None

        return await eventually(probe, f"{person.username} to have left at {z(moment)}")

    clock.current = start - minutes(20)
    failed(await check_in(api, c.pat_ana, mid, mood=3), 403, "meeting_closed")

    clock.current = start - minutes(5)  # lobby
    failed(await check_in(api, c.pat_ana, mid, mood=3), 403, "meeting_closed")
    cal = await peer(pat_cal.token)
    await joined(cal, room)

    clock.current = start + minutes(10)
    tab1 = await peer(c.pat_ana.token)
    await joined(tab1, room)
    clock.current = start + minutes(25)
    tab2 = await peer(c.pat_ana.token)
    await joined(tab2, room)

    clock.current = start + minutes(30)
    for mood in (0, 6):
        failed(await check_in(api, c.pat_ana, mid, mood=mood), 422, "invalid", "mood")
    saved = await check_in(api, c.pat_ana, mid, mood=4, note="steady tonight")
    assert saved.status == 201, saved.body
    assert saved.body["checkin"]["mood"] == 4
    assert saved.body["checkin"]["note"] == "steady tonight"
    saved = await check_in(api, pat_cal, mid, mood=2, note="tired")
    assert saved.status == 201, saved.body

    clock.current = start + minutes(40)
    ok(await tab1.call("leave", {"room_id": room}))  # the second tab is still open
    mid_way = (await report())[c.pat_ana.id]
    assert mid_way["last_left_at"] is None, mid_way
    assert mid_way["minutes_present"] == 30, mid_way

    clock.current = start + minutes(50)
    await tab2.disconnect()  # both tabs gone for twenty minutes
    await left_at(c.pat_ana, start + minutes(50))

    clock.current = start + minutes(60)
    await cal.disconnect()
    await left_at(pat_cal, start + minutes(60))

    clock.current = start + minutes(70)
    back = await peer(c.pat_ana.token)
    await joined(back, room)
    clock.current = start + DURATION - minutes(30)
    await back.disconnect()
    await left_at(c.pat_ana, start + DURATION - minutes(30))

    clock.current = start + DURATION + minutes(20)
    failed(await check_in(api, c.pat_ana, mid, mood=3), 403, "meeting_closed")

    rows = await report()
    assert set(rows) == {c.pat_ana.id, c.pat_avi.id, pat_cal.id}, rows
    assert timed(rows[c.pat_ana.id]) == {
        "user": public(c.pat_ana),
        "first_joined_at": start + minutes(10),
        "last_left_at": start + minutes(150),
        "minutes_present": 120,
        "minutes_in_call": 0,  # chat only: no video call here
        "late_minutes": 10,
        "checkin": {"mood": 4, "note": "steady tonight"},
    }
    assert timed(rows[c.pat_avi.id]) == {
        "user": public(c.pat_avi),
        "first_joined_at": None,
        "last_left_at": None,
        "minutes_present": 0,
        "minutes_in_call": 0,  # chat only: no video call here
        "late_minutes": None,
        "checkin": None,
    }
    assert timed(rows[pat_cal.id]) == {
        "user": public(pat_cal),
        "first_joined_at": start - minutes(5),
        "last_left_at": start + minutes(60),
        "minutes_present": 60,
        "minutes_in_call": 0,  # chat only: no video call here
        "late_minutes": 0,
        "checkin": {"mood": 2, "note": "tired"},
    }

    # The CSV says the same.
    status, content_type, text = await fetch_text(
        api, f"/api/meetings/{mid}/attendance?occurrence={z(start)}&format=csv", c.mod_lee.token
    )
    assert status == 200, text
    assert content_type == "text/csv"
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames is not None
    assert {
        "user_id",
        "display_name",
        "first_joined_at",
        "last_left_at",
        "minutes_present",
        "late_minutes",
        "mood",
        "note",
    } <= set(reader.fieldnames), reader.fieldnames
    csv_rows = {int(row["user_id"]): row for row in reader}
    assert set(csv_rows) == set(rows), text

    def cell(value: Any) -> str:
        return "" if value is None else str(value)

    for user_id, row in rows.items():
        line = csv_rows[user_id]
        checkin = row["checkin"] or {}
        assert line["display_name"] == row["user"]["display_name"], line
        assert line["first_joined_at"] == cell(row["first_joined_at"]), line
        assert line["last_left_at"] == cell(row["last_left_at"]), line
        assert float(line["minutes_present"]) == row["minutes_present"], line
        late = row["late_minutes"]
        assert (None if line["late_minutes"] == "" else float(line["late_minutes"])) == late, line
        assert line["mood"] == cell(checkin.get("mood")), line
        assert line["note"] == cell(checkin.get("note")), line

    # Not for patients, in either format.
    failed(
        await api.get(f"/api/meetings/{mid}/attendance?occurrence={z(start)}", c.pat_ana.token),
        403,
        "forbidden",
    )
    status, _, text = await fetch_text(
        api, f"/api/meetings/{mid}/attendance?occurrence={z(start)}&format=csv", c.pat_ana.token
    )
    assert status == 403, text
    assert "steady tonight" not in text
    # Only occurrences have reports.
    failed(
        await api.get(
            f"/api/meetings/{mid}/attendance?occurrence={z(start + minutes(60))}",
            c.mod_lee.token,
        ),
        422,
        "invalid",
        "occurrence",
    )


# ----- calendar feeds -----


async def test_calendar_feed_matches_the_upcoming_occurrences(
    api: Api, community: Community, clock: FakeClock
) -> None:
    c = community
    room = await meeting_room(api, c)
    meeting = await create_meeting(api, c, room)
    cancelled = datetime(2026, 11, 5, 0, 0, tzinfo=UTC)  # Wednesday 4 Nov, 18:00 CST
    reply = await api.post(
        f"/api/meetings/{meeting['id']}/cancel", {"occurrence": z(cancelled)}, token=c.mod_lee.token
    )
    assert reply.status == 200, reply.body

    first = await api.get("/api/me/calendar-token", token=c.pat_ana.token)
    assert first.status == 200, first.body
    token = first.body["token"]
    assert isinstance(token, str) and len(token) >= 16, first.body
    again = await api.get("/api/me/calendar-token", token=c.pat_ana.token)
    assert again.status == 200 and again.body["token"] == token, again.body

    status, content_type, text = await fetch_text(api, f"/api/calendar.ics?token={token}")
    assert status == 200, text
    assert content_type == "text/calendar"
    calendar = Calendar.from_ical(text)
    events = [e for e in calendar.walk("VEVENT") if str(e.get("SUMMARY")) == TITLE]
    assert len(events) == 1, text
    event: Any = events[0]

    dtstart: Any = event["DTSTART"]
    assert dtstart.params.get("TZID") == "America/Chicago", event.to_ical()
    assert dtstart.dt.strftime("%Y-%m-%d %H:%M") == "2026-10-26 18:00", dtstart.dt
    assert dtstart.dt.astimezone(UTC) == FIRST, dtstart.dt
    assert "RRULE" in event, event.to_ical()
    exdates = exdates_of(event)
    assert exdates == [cancelled], exdates
    assert any(
        VIDEO_URL in str(event.get(name, "")) for name in ("URL", "LOCATION", "DESCRIPTION")
    ), event.to_ical()

    rule = rrulestr(event["RRULE"].to_ical().decode(), dtstart=dtstart.dt)
    now = clock.now()
    from_feed = [
        moment.astimezone(UTC)
        for moment in rule.between(now, now + timedelta(days=60), inc=True)
        if moment.astimezone(UTC) not in exdates
    ]
    listed = [
        utc(o["starts_at"])
        for o in await upcoming(api, c.pat_ana, 60)
        if o["meeting_id"] == meeting["id"] and o["status"] != "cancelled"
    ]
    assert from_feed == listed
    assert cancelled not in listed
    assert len(listed) == len(expected_starts(now, now + timedelta(days=60))) - 1
    assert {moment.hour for moment in listed} == {23, 0}  # both sides of 1 November

    # A cohort B patient's feed has no event of cohort A's meeting.
    bo_token = (await api.get("/api/me/calendar-token", token=c.pat_bo.token)).body["token"]
    assert bo_token != token
    status, _, bo_text = await fetch_text(api, f"/api/calendar.ics?token={bo_token}")
    assert status == 200, bo_text
    assert Calendar.from_ical(bo_text).walk("VEVENT") == [], bo_text
    assert VIDEO_URL not in unfolded(bo_text)

    # Revoked: the old link stops working; a new token is a new link.
    revoked = await api.call("DELETE", "/api/me/calendar-token", token=c.pat_ana.token)
    assert revoked.status == 204, revoked.body
    failed(await api.get(f"/api/calendar.ics?token={token}"), 401, "unauthorized")
    failed(await api.get("/api/calendar.ics"), 401, "unauthorized")
    renewed = await api.get("/api/me/calendar-token", token=c.pat_ana.token)
    assert renewed.status == 200 and renewed.body["token"] != token, renewed.body
    status, _, text = await fetch_text(api, f"/api/calendar.ics?token={renewed.body['token']}")
    assert status == 200 and TITLE in text, text


# ----- confidentiality -----


async def test_another_cohorts_meeting_and_its_video_link_stay_hidden(
    api: Api, community: Community, peer: PeerFactory, clock: FakeClock
) -> None:
    c = community
    room = await meeting_room(api, c)
    meeting = await create_meeting(api, c, room)
    mid = meeting["id"]
    bo = await peer(c.pat_bo.token)
    await joined(bo, c.group_b)
    ana = await peer(c.pat_ana.token)
    await joined(ana, room)
    bo_saw: list[str] = []

    async def as_bo(method: str, path: str, body: Any = None) -> Reply:
        reply = await api.call(method, path, token=c.pat_bo.token, json=body)
        bo_saw.append(json.dumps(reply.body))
        return reply

    listed = await as_bo("GET", "/api/meetings")
    assert listed.status == 200, listed.body
    assert mid not in [m["id"] for m in listed.body["meetings"]]
    rooms = await as_bo("GET", "/api/rooms")
    assert rooms.status == 200, rooms.body
    assert room not in [r["id"] for r in rooms.body["rooms"]]
    refused(await bo.call("join", {"room_id": room}), "forbidden")
    bo_saw.append(json.dumps(await try_send(bo, room, "hello?")))

    # The meeting runs: lobby, live (Bo tries to check in), ended.
    for kind, moment in zip(
        LIFECYCLE_KINDS,
        (FIRST - minutes(10), FIRST + minutes(1), FIRST + DURATION + minutes(1)),
        strict=True,
    ):
        clock.current = moment
        await ticks(clock)
        soon = await as_bo("GET", "/api/meetings/upcoming?days=30")
        assert soon.status == 200, soon.body
        assert mid not in [o["meeting_id"] for o in soon.body["occurrences"]]
        if kind == "meeting_started":
            checkin = await as_bo("POST", f"/api/meetings/{mid}/checkins", {"mood": 3})
            assert checkin.status in (403, 404), checkin.body
            report = await as_bo("GET", f"/api/meetings/{mid}/attendance?occurrence={z(FIRST)}")
            failed(report, 403, "forbidden")
        await wait_for_notice(ana, kind, meeting, FIRST)
    token = (await as_bo("GET", "/api/me/calendar-token")).body["token"]
    status, _, feed = await fetch_text(api, f"/api/calendar.ics?token={token}")
    assert status == 200, feed
    bo_saw.append(unfolded(feed))
    await barrier(bo)

    # The same link does reach cohort A, so its absence above means something.
    ana_listed = await api.get("/api/meetings", token=c.pat_ana.token)
    assert VIDEO_URL in json.dumps(ana_listed.body)
    assert VIDEO_URL in json.dumps(ana.events)

    everything = "\n".join([*bo_saw, json.dumps(bo.events)])
    assert len(bo_saw) >= 8
    assert VIDEO_URL not in everything
    assert TITLE not in everything


# ----- rights and links (an outside probe found these could be dodged) -----


async def calendar_events(api: Api, person: Person) -> list[Any]:
    token = (await api.get("/api/me/calendar-token", token=person.token)).body["token"]
    status, _, text = await fetch_text(api, f"/api/calendar.ics?token={token}")
    assert status == 200, text
    return list(Calendar.from_ical(text).walk("VEVENT"))


async def test_a_ban_from_the_room_hides_its_meetings_notices_calendar_and_video_link(
    api: Api, community: Community, peer: PeerFactory, clock: FakeClock
) -> None:
    c = community
    room = await meeting_room(api, c)
    meeting = await create_meeting(api, c, room)
    reply = await api.post(
        f"/api/rooms/{room}/bans", {"user_id": c.pat_ana.id, "reason": "t"}, token=c.mod_lee.token
    )
    assert reply.status == 201, reply.body

    listed = await api.get("/api/meetings", token=c.pat_ana.token)
    assert meeting["id"] not in [m["id"] for m in listed.body["meetings"]], listed.body
    assert [o for o in await upcoming(api, c.pat_ana, 14) if o["meeting_id"] == meeting["id"]] == []
    assert [
        e for e in await calendar_events(api, c.pat_ana) if VIDEO_URL in str(e.get("URL"))
    ] == []
    # Avi, in the same cohort and not banned, still has all of it.
    assert any(o["meeting_id"] == meeting["id"] for o in await upcoming(api, c.pat_avi, 14))
    assert any(VIDEO_URL in str(e.get("URL")) for e in await calendar_events(api, c.pat_avi))

    ana, avi = await peer(c.pat_ana.token), await peer(c.pat_avi.token)
    clock.current = FIRST + minutes(1)
    await ticks(clock)
    started = await wait_for_notice(avi, "meeting_started", meeting, FIRST)
    assert started["video_url"] == VIDEO_URL
    await barrier(ana)
    assert meeting_notices(ana, meeting["id"]) == []


@pytest.mark.parametrize(
    "link",
    [
        VIDEO_URL + "\r\nX-INJECTED:yes",
        VIDEO_URL + "\nX-INJECTED:yes",
        "https://video.example.org/a b",
        "https://user:secret@video.example.org/a",
        "javascript:alert(1)",
        "https://",
        "https://" + "a" * 500 + ".org",
    ],
)
async def test_a_video_link_is_parsed_and_a_bad_one_refused(
    api: Api, community: Community, link: str
) -> None:
    room = await meeting_room(api, community)
    reply = await api.post(
        "/api/meetings",
        {**SERIES, "room_id": room, "video_url": link},
        token=community.mod_lee.token,
    )
    failed(reply, 422, "invalid", "video_url")


async def test_one_bad_stored_link_leaves_every_calendar_working(
    api: Api, community: Community, server: RunningServer
) -> None:
    """A link stored before links were parsed (here written straight to the database) is left
    out of the feed; the feed and the other meetings stay."""
    c = community
    room = await meeting_room(api, c)
    bad = await create_meeting(api, c, room)
    good = await create_meeting(api, c, room, title="Morning check-in")
    async with server.app[CORE].sessions() as session:
        series = await session.get(MeetingSeries, bad["id"])
        assert series is not None
        series.video_url = VIDEO_URL + "\r\nX-INJECTED:yes"
        session.add(series)
        await session.commit()

    events = await calendar_events(api, c.pat_ana)
    titles = sorted(str(e.get("SUMMARY")) for e in events)
    assert titles == sorted([TITLE, "Morning check-in"])
    [broken] = [e for e in events if str(e.get("SUMMARY")) == TITLE]
    assert "X-INJECTED" not in str(broken.get("URL")) and broken.get("LOCATION") is None
    assert good["video_url"] == VIDEO_URL
