"""Staff scheduling on the Meetings screen, in a real browser at phone width: a moderator
schedules a Mon/Wed series in a meeting room of Cohort A, edits it to Tue/Thu, and cancels one
upcoming session with a reason, or moves one to another time; a patient of Cohort A is told
over Socket.IO and sees the session cancelled or moved on her Meetings screen, with no staff
controls."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect

from tests.browser.conftest import PeerFactory, TabFactory
from tests.browser.pages import TIMEZONE, serious_axe_violations
from tests.support import Api, Community, FakeClock, create_room, parse_utc

pytestmark = pytest.mark.asyncio(loop_scope="session")

TITLE = "Evening IOP"
REASON = "Staff training day. Back on Thursday as usual."


async def series_of(api: Api, c: Community, title: str) -> dict[str, Any]:
    reply = await api.get("/api/meetings", c.mod_lee.token)
    assert reply.status == 200, reply.body
    found = [m for m in reply.body["meetings"] if m["title"] == title]
    assert len(found) == 1, reply.body
    return dict(found[0])


async def meeting_room(api: Api, c: Community) -> int:
    """Cohort A's meeting room, made through the API."""
    return await create_room(
        api, c.mod_lee, name="IOP meeting room", kind="meeting", audience="cohort",
        cohort_id=c.cohort_a,
    )  # fmt: skip


async def test_a_moderator_schedules_edits_and_cancels_a_session_and_ana_is_told(
    browse: TabFactory, api: Api, community: Community, clock: FakeClock, peer: PeerFactory
) -> None:
    c = community
    room_id = await meeting_room(api, c)
    start = (clock.now().astimezone(ZoneInfo(TIMEZONE)) + timedelta(days=1)).date().isoformat()

    lee = await browse()  # on a phone
    await lee.sign_in(c.mod_lee)
    await lee.nav.get_by_role("link", name="Meetings").click()
    await expect(lee.heading("Meetings")).to_be_visible()

    # Schedule a Mon/Wed series.
    await lee.page.get_by_role("button", name="Schedule a session series").click()
    form = lee.page.get_by_role("form", name="Schedule a session series")
    await expect(form.get_by_role("textbox", name="Title")).to_be_focused()
    await form.get_by_role("textbox", name="Title").fill(TITLE)
    await form.get_by_role("combobox", name="Room").select_option(label="IOP meeting room")
    days = form.get_by_role("group", name="Days of week")
    await days.get_by_role("checkbox", name="Mon").check()
    await days.get_by_role("checkbox", name="Wed").check()
    await form.get_by_label("Start date").fill(start)
    await form.get_by_label("Time", exact=True).fill("18:00")
    await expect(form.get_by_role("combobox", name="Time zone")).to_have_value(TIMEZONE)
    await expect(form.get_by_role("spinbutton", name="Duration (minutes)")).to_have_value("180")
    await expect(form.get_by_role("spinbutton", name="Lobby (minutes)")).to_have_value("15")
    await form.get_by_role("button", name="Schedule", exact=True).click()

    listed = lee.page.get_by_role("list", name="Session series").get_by_role("listitem")
    item = listed.filter(has_text=TITLE)
    await expect(item).to_contain_text("Weekly on Mon, Wed")
    await expect(form).to_have_count(0)
    series = await series_of(api, c, TITLE)
    assert series["rrule"] == "FREQ=WEEKLY;BYDAY=MO,WE", series
    assert series["starts_at"].startswith(f"{start}T18:00"), series
    assert (series["room_id"], series["timezone"]) == (room_id, TIMEZONE), series
    assert (series["duration_minutes"], series["lobby_minutes"]) == (180, 15), series

    # Edit it to Tue/Thu: the same form, pre-filled.
    await item.get_by_role("button", name="Edit series").click()
    edit = lee.page.get_by_role("form", name=f"Edit series {TITLE}")
    await expect(edit.get_by_role("textbox", name="Title")).to_have_value(TITLE)
    days = edit.get_by_role("group", name="Days of week")
    await expect(days.get_by_role("checkbox", name="Mon")).to_be_checked()
    await days.get_by_role("checkbox", name="Mon").uncheck()
    await days.get_by_role("checkbox", name="Wed").uncheck()
    await days.get_by_role("checkbox", name="Tue").check()
    await days.get_by_role("checkbox", name="Thu").check()
    await edit.get_by_role("button", name="Save changes").click()
    await expect(item).to_contain_text("Weekly on Tue, Thu")
    series = await series_of(api, c, TITLE)
    assert series["rrule"] == "FREQ=WEEKLY;BYDAY=TU,TH", series

    # Ana, of Cohort A, is connected when the session is cancelled.
    ana_peer = await peer(c.pat_ana.token)
    upcoming = lee.page.get_by_role("list", name="Upcoming meetings")
    sessions = upcoming.get_by_role("listitem").filter(has_text=TITLE)
    first = sessions.first
    await expect(first).to_contain_text("Status: scheduled")
    occurrence = await first.locator("time").get_attribute("datetime")
    assert occurrence, "the session has no datetime"
    await first.get_by_role("button", name=re.compile(r"^Cancel this session")).click()
    dialog = lee.page.get_by_role("dialog", name="Cancel this session?")
    reason = dialog.get_by_role("textbox", name="Reason")
    await expect(reason).to_be_focused()
    await expect(reason).to_have_attribute("maxlength", "300")
    await reason.fill(REASON)
    await dialog.get_by_role("button", name="Cancel session").click()
    await expect(dialog).to_have_count(0)
    await expect(sessions.first).to_contain_text("Status: cancelled")

    series = await series_of(api, c, TITLE)
    assert series["cancelled"] == [occurrence], series
    notice = await ana_peer.wait_for("notice", lambda n: n.get("kind") == "meeting_cancelled")
    assert notice["reason"] == REASON and notice["meeting_id"] == series["id"], notice
    assert notice["starts_at"] == occurrence, notice

    # Ana sees it cancelled, and no staff controls.
    ana = await browse()
    await ana.sign_in(c.pat_ana)
    await ana.nav.get_by_role("link", name="Meetings").click()
    mine = ana.page.get_by_role("list", name="Upcoming meetings").get_by_role("listitem")
    theirs = mine.filter(has_text=TITLE)
    await expect(theirs.first).to_contain_text("Status: cancelled")
    await expect(theirs.nth(1)).to_contain_text("Status: scheduled")
    for name in ("Schedule a session series", "Edit series"):
        await expect(ana.page.get_by_role("button", name=name)).to_have_count(0)
    await expect(
        ana.page.get_by_role("button", name=re.compile("Cancel this session"))
    ).to_have_count(0)
    await expect(ana.heading("Session series")).to_have_count(0)


async def test_a_refused_schedule_says_why(
    browse: TabFactory, api: Api, community: Community
) -> None:
    c = community
    await meeting_room(api, c)
    lee = await browse()
    await lee.sign_in(c.mod_lee)
    await lee.nav.get_by_role("link", name="Meetings").click()
    await lee.page.get_by_role("button", name="Schedule a session series").click()
    form = lee.page.get_by_role("form", name="Schedule a session series")
    await form.get_by_role("textbox", name="Title").fill(TITLE)
    await form.get_by_role("combobox", name="Room").select_option(label="IOP meeting room")
    # Keyboard only: "One session only" needs no days.
    await form.get_by_role("checkbox", name="One session only").press("Space")
    await expect(form.get_by_role("checkbox", name="Mon")).to_be_disabled()
    await form.get_by_role("spinbutton", name="Duration (minutes)").fill("100000")
    await form.get_by_role("button", name="Schedule", exact=True).press("Enter")
    await expect(form.get_by_role("alert")).to_contain_text(re.compile("Duration", re.I))
    reply = await api.get("/api/meetings", c.mod_lee.token)
    assert reply.body["meetings"] == [], reply.body


async def test_a_moderator_moves_a_session_and_ana_sees_where_it_went(
    browse: TabFactory,
    api: Api,
    community: Community,
    clock: FakeClock,
    peer: PeerFactory,
    axe_script: Path,
) -> None:
    c = community
    room_id = await meeting_room(api, c)
    zone = ZoneInfo(TIMEZONE)
    day = (clock.now().astimezone(zone) + timedelta(days=1)).date()
    created = await api.post(
        "/api/meetings",
        {"title": TITLE, "room_id": room_id, "rrule": "FREQ=DAILY;COUNT=3",
         "starts_at": f"{day.isoformat()}T18:00:00", "timezone": TIMEZONE,
         "duration_minutes": 180, "lobby_minutes": 15},
        c.mod_lee.token,
    )  # fmt: skip
    assert created.status == 201, created.body
    ana_peer = await peer(c.pat_ana.token)

    lee = await browse(bypass_csp=True)  # on a phone; axe-core's script may run
    await lee.sign_in(c.mod_lee)
    await lee.nav.get_by_role("link", name="Meetings").click()
    sessions = lee.page.get_by_role("list", name="Upcoming meetings").get_by_role("listitem")
    first = sessions.filter(has_text=TITLE).first
    await expect(first).to_contain_text("Status: scheduled")
    assert not await serious_axe_violations(lee.page), "the staff Meetings screen"

    await first.get_by_role("button", name=re.compile(r"^Move this session")).click()
    dialog = lee.page.get_by_role("dialog", name="Move this session")
    # The form starts at the session's own date and time, on the series' clock.
    await expect(dialog.get_by_label("New date")).to_have_value(day.isoformat())
    await expect(dialog.get_by_label("New start time")).to_have_value("18:00")
    await expect(dialog).to_contain_text(f"Local time in {TIMEZONE}")
    assert not await serious_axe_violations(lee.page), "the move dialog"
    # Onto the next day's session: refused, and the dialog says why.
    await dialog.get_by_label("New date").fill((day + timedelta(days=1)).isoformat())
    await dialog.get_by_role("button", name="Move session").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("another occurrence")
    await dialog.get_by_label("New date").fill(day.isoformat())
    await dialog.get_by_label("New start time").fill("19:30")
    await dialog.get_by_role("textbox", name="Reason").fill("The room is booked until 19:00.")
    await dialog.get_by_role("button", name="Move session").click()
    await expect(dialog).to_have_count(0)

    moved_to = datetime.combine(day, time(19, 30), tzinfo=zone).astimezone(UTC)
    notice = await ana_peer.wait_for("notice", lambda n: n.get("kind") == "meeting_moved")
    assert parse_utc(notice["starts_at"]) == moved_to, notice
    assert notice["reason"] == "The room is booked until 19:00.", notice
    series = await series_of(api, c, TITLE)
    assert [parse_utc(m["to"]) for m in series["moved"]] == [moved_to], series

    ana = await browse()
    await ana.sign_in(c.pat_ana)
    await ana.nav.get_by_role("link", name="Meetings").click()
    mine = ana.page.get_by_role("list", name="Upcoming meetings").get_by_role("listitem")
    moved = mine.filter(has_text=TITLE).first
    await expect(moved).to_contain_text("Moved from")
    shown = await moved.locator("time").get_attribute("datetime")
    assert shown and parse_utc(shown) == moved_to, shown
    await expect(
        ana.page.get_by_role("button", name=re.compile("Move this session"))
    ).to_have_count(0)
