"""Meetings in a real browser: a live occurrence shows in the patient's local time with an
enabled Join and a check-in form; the moderator's attendance table lists the patient and the
CSV download carries them (docs/web-client.md, meetings and console)."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from urllib.parse import urljoin

import pytest
from playwright.async_api import Route, expect

from tests.browser.conftest import TabFactory
from tests.browser.pages import (
    RECONNECT_MS,
    SESSION_OPTIONS,
    lee_at_the_console,
    live_meeting,
    local_time_pattern,
    show_attendance,
)
from tests.support import Api, Community, FakeClock, RunningServer, eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_patient_joins_and_checks_in_and_shows_in_attendance(
    browse: TabFactory, server: RunningServer, api: Api, community: Community, clock: FakeClock
) -> None:
    c = community
    meeting = await live_meeting(api, c, clock)
    patient = await browse()
    await patient.sign_in(c.pat_ana)
    await patient.nav.get_by_role("link", name="Meetings").click()
    await expect(patient.heading("Meetings")).to_be_visible()

    upcoming = patient.page.get_by_role("list", name="Upcoming meetings")
    items = upcoming.get_by_role("listitem").filter(has_text=meeting.title)
    live = items.first
    # Today's occurrence, at its local wall-clock time (not UTC), is live and can be joined.
    await expect(live).to_contain_text(local_time_pattern(meeting.starts_at))
    await expect(live).to_contain_text("live")
    join = live.get_by_role("link", name="Join")
    await expect(join).to_be_enabled()
    await expect(join).to_have_attribute("href", f"#/meetings/{meeting.id}")
    await expect(live.get_by_role("link", name="Video link")).to_have_attribute(
        "href", "https://video.example.org/iop-evening-group"
    )
    # The calendar feed behind "Add to calendar" carries the meeting.
    feed = await patient.page.get_by_role("link", name="Add to calendar").get_attribute("href")
    assert feed, "Add to calendar has no address"
    calendar = await patient.page.request.get(urljoin(server.url + "/", feed))
    assert calendar.ok and "text/calendar" in calendar.headers["content-type"], calendar
    assert meeting.title in await calendar.text()
    # Tomorrow's is listed, but not open yet.
    await expect(items).not_to_have_count(1)
    later = items.nth(1)
    await expect(later).to_contain_text("scheduled")
    if await later.get_by_role("link", name="Join").count():
        await expect(later.get_by_role("link", name="Join")).to_be_disabled()

    # Check in while live.
    mood = patient.page.get_by_role("radiogroup", name="Mood")
    await expect(mood.get_by_role("radio")).to_have_count(5)
    await mood.get_by_role("radio").nth(3).check()
    await patient.page.get_by_role("textbox", name="Note").fill("Tired but here")
    await patient.page.get_by_role("button", name="Check in", exact=True).click()

    async def checked_in() -> dict[str, object] | None:
        reply = await api.get(
            f"/api/meetings/{meeting.id}/attendance?occurrence={meeting.occurrence}",
            c.mod_lee.token,
        )
        assert reply.status == 200, reply.body
        rows = [a for a in reply.body["attendees"] if a["user"]["id"] == c.pat_ana.id]
        return rows[0] if rows and rows[0]["checkin"] else None

    row = await eventually(checked_in, "Ana's check-in to be stored")
    assert row["checkin"]["mood"] == 4 and row["checkin"]["note"] == "Tired but here", row  # type: ignore[index]

    # Join opens the meeting page, its chat beside the call: she can post while it is live.
    await join.click()
    await patient.in_meeting(meeting.title)
    await patient.send("Here from my phone")
    await expect(patient.message("Here from my phone")).not_to_contain_text("Sending")
    late = round((clock.now() - meeting.starts_at).total_seconds() / 60, 1)
    await clock.advance(minutes=5)  # she stays five minutes (the server's clock)

    # The moderator's attendance table lists her; the CSV has her too.
    console = await lee_at_the_console(browse, c)
    attendance = await show_attendance(console, meeting)
    # Everyone expected is listed; Ana's row carries her check-in, Avi (absent) has none.
    table = attendance.get_by_role("table")
    ana = table.get_by_role("row").filter(has_text="Ana")
    await expect(ana).to_have_count(1, timeout=RECONNECT_MS)
    await expect(ana).to_contain_text("Tired but here")
    await expect(ana).to_contain_text("4")
    await expect(table.get_by_role("row").filter(has_text="Avi")).not_to_contain_text(
        "Tired but here"
    )

    async with console.page.expect_download() as waiting:
        await attendance.get_by_role("link", name="Download CSV").click()
    download = await waiting.value
    saved = Path(await download.path())
    rows = {
        r["display_name"]: r
        for r in csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8-sig")))
    }
    assert set(rows) == {"Ana", "Avi"}, rows
    assert (rows["Ana"]["mood"], rows["Ana"]["note"]) == ("4", "Tired but here"), rows
    assert rows["Ana"]["first_joined_at"] and not rows["Avi"]["first_joined_at"], rows
    present = (float(rows["Ana"]["minutes_present"]), float(rows["Ana"]["late_minutes"]))
    assert present == (5.0, late), rows
    assert download.suggested_filename.endswith(".csv"), download.suggested_filename


async def test_switching_meetings_while_sessions_load_lists_only_the_chosen_meetings(
    browse: TabFactory, api: Api, community: Community, clock: FakeClock
) -> None:
    """A slow answer for the meeting first shown must not add its sessions to the list of the
    meeting chosen since (staff would read the attendance of the wrong session)."""
    c = community
    first = await live_meeting(api, c, clock, title="Evening group", minutes_ago=20)
    second = await live_meeting(api, c, clock, title="Morning check-in", minutes_ago=45)
    console = await browse(desktop=True)
    release = asyncio.Event()

    async def hold(route: Route) -> None:
        await release.wait()
        await route.continue_()

    await console.page.route(f"**/api/meetings/{first.id}/occurrences*", hold)
    await console.sign_in(c.mod_lee)
    await console.open_console()
    attendance = console.region("Attendance")
    meetings = attendance.get_by_role("combobox", name="Meeting")
    await expect(meetings.locator("option")).to_have_count(2)
    await meetings.select_option(label=second.title)
    sessions = attendance.get_by_role("combobox", name="Occurrence").locator(SESSION_OPTIONS)
    await expect(sessions).to_have_count(1)

    async with console.page.expect_response(f"**/api/meetings/{first.id}/occurrences*"):
        release.set()
    # Let the page handle the late answer (two frames), then look again.
    await console.page.evaluate(
        "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
    )
    await expect(sessions).to_have_count(1)
    assert second.occurrence[:16] in (await sessions.first.get_attribute("value") or "")
