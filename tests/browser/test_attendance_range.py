"""Attendance over a date range in the moderator console, on a phone: a cohort's weekly
sessions over two weeks, who came to how many, a low mood flagged in words and drawn as a marked
point of a chart named in words, the CSV of the same range (meeting, local date and time zone on
every row), nothing serious for axe; a range that ends before it starts is refused before
anything is asked, and a range without sessions says so (docs/web-client.md, docs/console.md).
A patient has no console at all (test_chat.py)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Locator, Request, expect

from tests.browser.conftest import PeerFactory, TabFactory
from tests.browser.pages import (
    MEETING_ZONE,
    TIMEZONE,
    Tab,
    describe_violations,
    serious_axe_violations,
)
from tests.support import Api, Community, FakeClock, Person, create_room, joined

pytestmark = pytest.mark.asyncio(loop_scope="session")

REGION = "Attendance over a date range"
TITLE = "Evening group"
# The series' wall-clock start; both sessions are days before today, whatever today's hour.
STARTS = time(10, 0)


@dataclass
class Weekly:
    """A weekly series of cohort A's whose first two sessions are over."""

    id: int
    room_id: int
    first: datetime  # aware, in MEETING_ZONE
    second: datetime


async def weekly_meeting(api: Api, c: Community, clock: FakeClock) -> Weekly:
    """Scheduled (on the server's clock) a little before its first session, nine days ago."""
    today = datetime.now(MEETING_ZONE).date()
    first = datetime.combine(today - timedelta(days=9), STARTS, tzinfo=MEETING_ZONE)
    second = datetime.combine(today - timedelta(days=2), STARTS, tzinfo=MEETING_ZONE)
    clock.current = (first - timedelta(hours=1)).astimezone(UTC)
    room_id = await create_room(
        api, c.mod_lee, name=TITLE, kind="meeting", audience="cohort", cohort_id=c.cohort_a
    )
    reply = await api.post(
        "/api/meetings",
        {
            "title": TITLE,
            "room_id": room_id,
            "rrule": "FREQ=WEEKLY",
            "starts_at": first.replace(tzinfo=None).isoformat(timespec="seconds"),
            "timezone": TIMEZONE,
            "duration_minutes": 90,
            "lobby_minutes": 15,
        },
        token=c.mod_lee.token,
    )
    assert reply.status == 201, reply.body
    return Weekly(reply.body["meeting"]["id"], room_id, first, second)


async def attend(
    peer: PeerFactory,
    api: Api,
    clock: FakeClock,
    who: Person,
    meeting: Weekly,
    arrive: datetime,
    stay: timedelta,
    mood: int | None,
) -> None:
    """In the meeting room from `arrive` for `stay` (the server's clock), checking in once."""
    clock.current = arrive.astimezone(UTC)
    connection = await peer(who.token)
    await joined(connection, meeting.room_id)
    if mood is not None:
        checked_in = await api.post(
            f"/api/meetings/{meeting.id}/checkins", {"mood": mood}, who.token
        )
        assert checked_in.status == 201, checked_in.body
    clock.current = (arrive + stay).astimezone(UTC)
    left = await connection.call("leave", {"room_id": meeting.room_id})
    assert left["ok"], left
    await connection.disconnect()


def utc_midnight(day: date) -> str:
    moment = datetime.combine(day, time(0), tzinfo=MEETING_ZONE).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def moderator_on_a_phone(browse: TabFactory, c: Community) -> Tab:
    """Lee on the console in a phone-sized tab that lets axe-core's script in."""
    console = await browse(bypass_csp=True)
    await console.sign_in(c.mod_lee)
    await console.open_console()
    return console


async def choose_range(report: Locator, cohort: str, first: date, last: date) -> None:
    cohorts = report.get_by_role("combobox", name="Cohort")
    await expect(cohorts.locator("option", has_text=cohort)).to_have_count(1)
    await cohorts.select_option(label=cohort)
    await report.get_by_label("From", exact=True).fill(first.isoformat())
    await report.get_by_label("To", exact=True).fill(last.isoformat())


async def test_two_weeks_of_a_cohort_per_person_with_low_moods_charted_and_as_csv(
    browse: TabFactory,
    api: Api,
    community: Community,
    clock: FakeClock,
    peer: PeerFactory,
    axe_script: Path,
) -> None:
    c = community
    meeting = await weekly_meeting(api, c, clock)
    # Week one: Ana comes ten minutes late and low; Avi comes on time and does not check in.
    await attend(peer, api, clock, c.pat_ana, meeting, meeting.first + timedelta(minutes=10),
                 timedelta(minutes=60), mood=2)  # fmt: skip
    await attend(peer, api, clock, c.pat_avi, meeting, meeting.first, timedelta(minutes=30),
                 mood=None)  # fmt: skip
    # Week two: Ana on time and better; Avi misses it.
    await attend(peer, api, clock, c.pat_ana, meeting, meeting.second, timedelta(minutes=60),
                 mood=4)  # fmt: skip
    clock.current = datetime.now(UTC)

    console = await moderator_on_a_phone(browse, c)
    report = console.region(REGION)
    first_day, last_day = meeting.first.date(), datetime.now(MEETING_ZONE).date()
    # The form opens on the last two weeks, today included, in the browser's calendar.
    await expect(report.get_by_label("To", exact=True)).to_have_value(last_day.isoformat())
    await expect(report.get_by_label("From", exact=True)).to_have_value(
        (last_day - timedelta(days=13)).isoformat()
    )
    csv_link = report.get_by_role("link", name="Download CSV")
    await expect(csv_link).to_have_attribute("aria-disabled", "true")

    await choose_range(report, "Cohort A", first_day, last_day)
    async with console.page.expect_response(
        lambda r: "/api/attendance?" in r.url and "format=csv" not in r.url
    ) as answered:
        await report.get_by_role("button", name="Show report").click()
    response = await answered.value
    assert response.status == 200, await response.text()
    query = parse_qs(urlsplit(response.url).query)
    assert query == {
        "cohort_id": [str(c.cohort_a)],
        "since": [utc_midnight(first_day)],
        "until": [utc_midnight(last_day + timedelta(days=1))],
    }, query

    await expect(report.get_by_role("status")).to_contain_text("2 sessions from")
    table = report.get_by_role("table", name="Attendance by person")
    rows = table.locator("tbody tr")
    await expect(rows).to_have_count(2)
    headers = await table.locator("thead th").all_inner_texts()
    assert headers == ["Person", "Attended", "Minutes", "Late arrivals", "Low moods", "Moods"]
    for header in await table.locator("thead th").all():
        await expect(header).to_have_attribute("scope", "col")
    ana, avi = rows.filter(has_text="Ana"), rows.filter(has_text="Avi")
    assert [await cell.inner_text() for cell in await ana.locator("td").all()][:5] == [
        "Ana", "2 of 2", "120", "1", "1 low",
    ]  # fmt: skip
    assert [await cell.inner_text() for cell in await avi.locator("td").all()][:5] == [
        "Avi", "1 of 2", "30", "0", "None",
    ]  # fmt: skip
    # The low mood is flagged in words, and drawn as a marked point of a chart said in words.
    await expect(ana.locator(".attendance-low")).to_have_text("1 low")
    chart = ana.get_by_role("img", name="Moods: 2 (low), 4")
    await expect(chart).to_be_visible()
    await expect(chart.locator(".mood-point.low")).to_have_count(1)
    await expect(chart.locator(".mood-point")).to_have_count(2)
    await expect(avi).to_contain_text("No check-ins")

    # On a phone the table scrolls inside its own box; the page never scrolls sideways.
    box = report.get_by_role("region", name="Attendance by person table")
    assert await box.evaluate("box => box.scrollWidth > box.clientWidth")
    assert await console.page.evaluate(
        """() => [document.documentElement, document.querySelector('main')]
            .every(el => el && el.scrollWidth <= el.clientWidth)"""
    )
    found = await serious_axe_violations(console.page)
    assert not found, describe_violations("attendance over a date range", found)

    # The CSV is the server's for the same range: every row says its meeting, day and zone.
    await expect(csv_link).not_to_have_attribute("aria-disabled", "true")
    async with console.page.expect_download() as downloading:
        await csv_link.click()
    download = await downloading.value
    assert download.suggested_filename == (
        f"attendance-cohort-a-{first_day.isoformat()}-to-{last_day.isoformat()}.csv"
    ), download.suggested_filename
    # Bytes, not read_text: the file is compared as sent, CRLF line ends and all.
    saved = Path(await download.path()).read_bytes().decode("utf-8")
    headers_sent = {"Authorization": f"Bearer {c.mod_lee.token}"}
    from_api = (
        f"{api.base_url}/api/attendance?cohort_id={c.cohort_a}&since={query['since'][0]}"
        f"&until={query['until'][0]}&format=csv"
    )
    async with api.session.get(from_api, headers=headers_sent) as answer:
        assert answer.status == 200 and answer.content_type == "text/csv"
        assert saved == await answer.text()
    table_rows = list(csv.DictReader(io.StringIO(saved.lstrip("\ufeff"))))
    days = [meeting.first.date().isoformat(), meeting.second.date().isoformat()]
    assert [(r["meeting"], r["date"], r["local_start"], r["timezone"], r["display_name"],
             r["mood"], r["low_mood"]) for r in table_rows] == [
        (TITLE, days[0], "10:00", TIMEZONE, "Ana", "2", "yes"),
        (TITLE, days[0], "10:00", TIMEZONE, "Avi", "", ""),
        (TITLE, days[1], "10:00", TIMEZONE, "Ana", "4", ""),
        (TITLE, days[1], "10:00", TIMEZONE, "Avi", "", ""),
    ]  # fmt: skip
    assert {r["meeting_id"] for r in table_rows} == {str(meeting.id)}


async def test_a_range_that_ends_before_it_starts_sends_nothing_and_an_empty_one_says_so(
    browse: TabFactory, community: Community, axe_script: Path
) -> None:
    c = community
    console = await moderator_on_a_phone(browse, c)
    asked: list[str] = []

    def note(request: Request) -> None:
        if "/api/attendance" in request.url:
            asked.append(request.url)

    console.page.on("request", note)
    report = console.region(REGION)
    today = datetime.now(MEETING_ZONE).date()

    # Nothing chosen yet: the cohort is asked for first.
    await report.get_by_role("button", name="Show report").click()
    await expect(report.get_by_role("alert")).to_contain_text("Cohort:")
    await expect(report.get_by_role("combobox", name="Cohort")).to_be_focused()

    await choose_range(report, "Cohort B", today, today - timedelta(days=3))
    await report.get_by_role("button", name="Show report").click()
    await expect(report.get_by_role("alert")).to_contain_text(
        "To: the last day cannot come before the first (From)."
    )
    await expect(report.get_by_label("To", exact=True)).to_be_focused()
    await expect(report.get_by_role("table")).to_have_count(0)
    found = await serious_axe_violations(console.page)
    assert not found, describe_violations("attendance range refused", found)
    assert asked == []

    # A range in which no session started: said so, with no table, and the alert gone.
    await choose_range(report, "Cohort B", today - timedelta(days=3), today)
    await report.get_by_role("button", name="Show report").click()
    await expect(report.get_by_text("No sessions started in this range.")).to_be_visible()
    await expect(report.get_by_role("status")).to_contain_text("0 sessions from")
    await expect(report.get_by_role("alert")).to_be_hidden()
    await expect(report.get_by_role("table")).to_have_count(0)
    assert len(asked) == 2, asked  # the report and its CSV
