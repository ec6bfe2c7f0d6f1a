"""A coordinator's walkthrough (issue #19), in one test, through the web client at a phone's
width: from an empty install, where only `peerrooms create-admin` has run, to a running
program. The admin signs in, creates Cohort A with a group room and a meeting room, schedules a
daily session series in the meeting room, and invites two patients, who register from the
links in browsers of their own and open the group room; one of them attends today's session
and checks in. The admin graduates the other (out of the group room, alumni now), cancels an
upcoming session with a reason the remaining patient is told in her tab, mutes her in the group
room for a chosen length and lifts it from the console (she posts again), hands her a password
reset code (she chooses a new password in another browser, her first one is signed out and
signs in with it), deactivates her while she is connected (both her tabs are signed out, and
she cannot sign in again), and downloads the cohort's attendance over two weeks as a CSV
whose rows say the meeting, the day and the time zone. Each screen has its own detailed tests
(test_program.py, test_meeting_admin.py, test_invites.py, test_people.py, test_console.py,
test_attendance_range.py); this one checks that they make one coordinator's day together.

The empty install: a browser test's server (tests/browser/conftest.py) runs in this process on
`database_url`, which tests/templates.py copies from the schema-only template for a test that
starts a server without asking for the `community`: every migration applied and no row in any
table but Alembic's, which is what a new database holds once `create-admin` has migrated it.
This module's `database_url` wraps that fixture and runs the real command on it, in a process
of its own (tests/processes.py: `run_cli` with `server_env`, the settings a peerrooms process
gets: the same database URL, data directory and secret key as the server's), before the
`server` fixture starts on it: the order of an install, and nothing else made in between.

Time: the series is scheduled (through the form) to have started nine days before the server's
fake clock, every day at twenty minutes before its now, so today's session is live when the
patients arrive and the report has sessions that started; the clock is moved on half an hour
while one patient is in the meeting room, which is her time there.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import expect

from tests.browser.conftest import TabFactory
from tests.browser.pages import MEETING_ZONE, TIMEZONE, Tab
from tests.browser.test_attendance_range import REGION as RANGE_REPORT
from tests.browser.test_attendance_range import choose_range
from tests.browser.test_invites import code_of, fill_registration
from tests.browser.test_program import cohort_id, cohort_item, room_item
from tests.processes import run_cli, server_env
from tests.support import PASSWORD, Api, FakeClock, Person, sign_in

pytestmark = pytest.mark.asyncio(loop_scope="session")

ADMIN = "coordinator"
ADMIN_NAME = "Sam"
COHORT = "Cohort A"
GROUP = "Cohort A group"
MEETING_ROOM = "Cohort A meeting room"
TITLE = "Cohort A session"
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CANCEL_REASON = "Staff training day. Back the day after, as usual."
NEW_PASSWORD = "a fresh start passphrase"
SIGN_IN_ENDED = "Your sign-in has ended. Please sign in again."
# "At once" for a tab whose sign-in ended: the server closes its socket there and then; the
# client tries again after 1.5 s (web/src/connection.ts) and, refused, signs out.
AT_ONCE_MS = 5_000


@pytest_asyncio.fixture(loop_scope="session")
async def database_url(database_url: str, tmp_path: Path) -> str:
    """The test's database (schema only, see the module's docstring) once `peerrooms
    create-admin` has run on it, with the settings of the server that will serve it."""
    said = await run_cli(
        server_env(database_url, tmp_path),
        "create-admin", "--username", ADMIN, "--password", PASSWORD,
        "--display-name", ADMIN_NAME,
    )  # fmt: skip
    assert f"admin {ADMIN} created" in said, said
    return database_url


async def registered(browse: TabFactory, link: str, username: str, display_name: str) -> Tab:
    """A patient, signed out in a browser of her own, registers from an invite link (its code
    already filled in) and opens her cohort's group room."""
    tab = await browse()
    await tab.page.goto(link)
    await expect(tab.heading("Register")).to_be_visible()
    await expect(tab.page.get_by_role("textbox", name="Invite code")).to_have_value(code_of(link))
    await fill_registration(tab, username, display_name)
    await expect(tab.heading("Rooms")).to_be_visible()
    await expect(tab.connection).to_have_text("Connected")
    await expect(tab.room_item(MEETING_ROOM)).to_be_visible()
    await tab.room_item(GROUP).get_by_role("link").click()
    await tab.in_room(GROUP)
    return tab


async def go_to(tab: Tab, link: str, heading: str) -> None:
    """A screen, from the main navigation."""
    await tab.nav.get_by_role("link", name=link, exact=True).click()
    await expect(tab.heading(heading)).to_be_visible()


async def back_in_the_group_room(tab: Tab) -> None:
    await go_to(tab, "Rooms", "Rooms")
    await tab.room_item(GROUP).get_by_role("link").click()
    await tab.in_room(GROUP)


async def signed_out(tab: Tab) -> None:
    """The tab is on the signed-out screen, saying why, at once."""
    await expect(tab.heading("Sign in")).to_be_visible(timeout=AT_ONCE_MS)
    await expect(tab.alert(SIGN_IN_ENDED)).to_be_visible()
    await expect(tab.connection).to_have_text("Offline")


async def user(api: Api, admin: Person, user_id: int) -> dict[str, Any]:
    reply = await api.get(f"/api/users/{user_id}", admin.token)
    assert reply.status == 200, reply.body
    return dict(reply.body["user"])


async def test_a_coordinator_takes_an_empty_install_to_a_running_program(
    browse: TabFactory, api: Api, clock: FakeClock
) -> None:
    # ----- 0. The install holds its admin and nothing else. -----
    admin = await sign_in(api, ADMIN)
    people = await api.get("/api/users", admin.token)
    assert [(p["display_name"], p["role"]) for p in people.body["users"]] == [
        (ADMIN_NAME, "admin")
    ], people.body
    assert (await api.get("/api/cohorts?status=all", admin.token)).body["cohorts"] == []
    assert (await api.get("/api/rooms", admin.token)).body["rooms"] == []

    # ----- 1. The admin signs in and makes Cohort A, its group room and its meeting room. -----
    coordinator = await browse()  # on a phone, as everyone here
    await coordinator.sign_in(admin)
    await go_to(coordinator, "Cohorts and rooms", "Cohorts and rooms")
    cohorts = coordinator.region("Cohorts")
    await cohorts.get_by_role("textbox", name="New cohort name").fill(COHORT)
    await cohorts.get_by_role("button", name="Create cohort").click()
    await expect(cohort_item(coordinator, COHORT)).to_be_visible()
    rooms = coordinator.region("Rooms")
    for name, kind in ((GROUP, "Group"), (MEETING_ROOM, "Meeting")):
        await rooms.get_by_role("textbox", name="Room name").fill(name)
        await rooms.get_by_role("combobox", name="Kind").select_option(label=kind)
        await rooms.get_by_role("combobox", name="Audience").select_option(label="One cohort")
        await rooms.get_by_role("combobox", name="Cohort").select_option(label=COHORT)
        await rooms.get_by_role("button", name="Create room").click()
        await expect(room_item(coordinator, name)).to_contain_text(kind)
        await expect(room_item(coordinator, name)).to_contain_text(COHORT)
    cohort_a = await cohort_id(api, admin, COHORT)
    stored = {r["name"]: r for r in (await api.get("/api/rooms", admin.token)).body["rooms"]}
    assert {
        name: (room["kind"], room["audience"], room["cohort_id"]) for name, room in stored.items()
    } == {
        GROUP: ("group", "cohort", cohort_a),
        MEETING_ROOM: ("meeting", "cohort", cohort_a),
    }, stored
    group_id, meeting_room_id = stored[GROUP]["id"], stored[MEETING_ROOM]["id"]

    # ----- 2. A session series in the meeting room: every day, today's live now. -----
    starts = (clock.now().astimezone(MEETING_ZONE) - timedelta(minutes=20)).replace(
        second=0, microsecond=0
    )
    first_day = starts.date() - timedelta(days=9)
    await go_to(coordinator, "Meetings", "Meetings")
    await coordinator.page.get_by_role("button", name="Schedule a session series").click()
    form = coordinator.page.get_by_role("form", name="Schedule a session series")
    await form.get_by_role("textbox", name="Title").fill(TITLE)
    await form.get_by_role("combobox", name="Room").select_option(label=MEETING_ROOM)
    week = form.get_by_role("group", name="Days of week")
    for day in DAYS:
        await week.get_by_role("checkbox", name=day).check()
    await form.get_by_label("Start date").fill(first_day.isoformat())
    await form.get_by_label("Time", exact=True).fill(starts.strftime("%H:%M"))
    await expect(form.get_by_role("combobox", name="Time zone")).to_have_value(TIMEZONE)
    await form.get_by_role("button", name="Schedule", exact=True).click()
    series_list = coordinator.page.get_by_role("list", name="Session series")
    await expect(series_list.get_by_role("listitem").filter(has_text=TITLE)).to_contain_text(
        "Weekly on " + ", ".join(DAYS)
    )
    upcoming = coordinator.page.get_by_role("list", name="Upcoming meetings")
    sessions = upcoming.get_by_role("listitem").filter(has_text=TITLE)
    await expect(sessions.first).to_contain_text("Status: live now")
    [series] = (await api.get("/api/meetings", admin.token)).body["meetings"]
    assert series["rrule"] == "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU", series
    assert series["starts_at"].startswith(f"{first_day}T{starts:%H:%M}"), series
    assert (series["room_id"], series["timezone"]) == (meeting_room_id, TIMEZONE), series

    # ----- 3. Invites for two patients of Cohort A; each registers from her link. -----
    await coordinator.open_invites()
    shown = coordinator.region("Invite link")
    links: list[str] = []
    for _ in range(2):
        await coordinator.create_invite(role="Patient", cohort=COHORT)
        box = shown.get_by_role("textbox", name="Invite link")
        for earlier in links:  # the new invite's link, not the one shown before it
            await expect(box).not_to_have_value(earlier)
        links.append(await coordinator.shown_invite_link())
        await expect(shown.get_by_role("status").first).to_have_text(
            f"Invite created: Patient invite, {COHORT}."
        )
    for link in links:
        await expect(coordinator.invite_item(code_of(link))).to_contain_text("0/1 uses")
    ana = await registered(browse, links[0], "pat_ana", "Ana")
    avi = await registered(browse, links[1], "pat_avi", "Avi")
    await ana.send("Hello, I am Ana.")
    await expect(avi.message("Hello, I am Ana.")).to_be_visible()

    # Ana goes to today's session: checks in (a low mood) and is in its room for half an hour,
    # so the attendance report (step 9) has someone who came.
    await go_to(ana, "Meetings", "Meetings")
    listed = ana.page.get_by_role("list", name="Upcoming meetings").get_by_role("listitem")
    today = listed.filter(has_text=TITLE).first
    await expect(today).to_contain_text("Status: live now")
    mood = today.get_by_role("radiogroup", name="Mood")
    await mood.get_by_role("radio", name="2", exact=True).check()
    await today.get_by_role("button", name="Check in", exact=True).click()
    await expect(today).to_contain_text("Checked in.")
    await today.get_by_role("link", name="Join").click()
    await ana.in_meeting(TITLE)
    # No media server on this install: the page says so, and the chat is the session.
    video = ana.page.get_by_role("region", name="Video", exact=True)
    await expect(video).to_contain_text("Video calls are not set up on this server.")
    await expect(ana.whos_here).to_contain_text("Ana")  # the server has her in the room
    late = round((clock.now() - starts).total_seconds() / 60, 1)
    await clock.advance(minutes=30)
    await back_in_the_group_room(ana)

    # ----- 4. Avi graduates: out of the group room at once, and alumni. -----
    await coordinator.open_people()
    await coordinator.open_person("Avi")
    avi_id = int(coordinator.page.url.rsplit("/", 1)[1])
    graduation = coordinator.region("Graduation")
    await graduation.get_by_role("button", name="Graduate").click()
    dialog = coordinator.page.get_by_role("dialog", name="Graduate Avi?")
    await dialog.get_by_role("button", name="Graduate").click()
    await expect(graduation.get_by_role("status")).to_have_text(
        "Avi graduated: they are alumni now."
    )
    await expect(coordinator.region("Details")).to_contain_text("Alumni")
    # His tab leaves the group room for the room list, where no room of Cohort A is left
    # (none of the alumni's exists yet); the server lets him into neither.
    await expect(avi.heading("Rooms")).to_be_visible()
    await expect(avi.alert("Congratulations on graduating")).to_be_visible()
    await expect(avi.page.get_by_text("There are no rooms for you yet.")).to_be_visible()
    graduate = await user(api, admin, avi_id)
    assert graduate["role"] == "alumni" and graduate["graduated_at"], graduate
    alumnus = await sign_in(api, "pat_avi")
    assert (await api.get("/api/rooms", alumnus.token)).body["rooms"] == []
    shut = await api.get(f"/api/rooms/{group_id}/messages", alumnus.token)
    assert shut.status == 403, shut.body

    # ----- 5. An upcoming session cancelled with a reason; Ana is told in her tab. -----
    await go_to(coordinator, "Meetings", "Meetings")
    tomorrow = sessions.filter(has_text="Status: scheduled").first
    occurrence = await tomorrow.locator("time").get_attribute("datetime")
    assert occurrence, "the session has no datetime"
    await tomorrow.get_by_role("button", name=re.compile(r"^Cancel this session")).click()
    dialog = coordinator.page.get_by_role("dialog", name="Cancel this session?")
    await dialog.get_by_role("textbox", name="Reason").fill(CANCEL_REASON)
    await dialog.get_by_role("button", name="Cancel session").click()
    await expect(dialog).to_have_count(0)
    cancelled = sessions.filter(has=coordinator.page.locator(f'time[datetime="{occurrence}"]'))
    await expect(cancelled).to_contain_text("Status: cancelled")
    told = ana.alert(CANCEL_REASON)
    await expect(told).to_contain_text(f"{TITLE} on")
    await expect(told).to_contain_text("is cancelled.")
    [series] = (await api.get("/api/meetings", admin.token)).body["meetings"]
    assert series["cancelled"] == [occurrence], series

    # ----- 6. Ana muted in the group room for an hour, then the mute lifted in the console. -----
    await back_in_the_group_room(coordinator)
    dialog = await coordinator.moderate("Ana")
    await dialog.get_by_role("combobox", name="How long").select_option(label="1 hour")
    await dialog.get_by_label("Reason").fill("Cooling off")
    await dialog.get_by_role("button", name="Mute").click()
    await expect(dialog).to_be_hidden()
    await expect(ana.alert("You are muted")).to_be_visible()
    await ana.send("Am I still here?")
    await expect(ana.message("Am I still here?")).to_contain_text("Not sent")

    await go_to(coordinator, "Moderator console", "Moderator console")
    restrictions = coordinator.region("Mutes and bans")
    await expect(restrictions.get_by_role("listitem").filter(has_text="Ana")).to_contain_text(
        f"muted in {GROUP} until"
    )
    await restrictions.get_by_role("button", name=f"Lift mute on Ana in {GROUP}").click()
    await expect(restrictions.get_by_role("status")).to_have_text(f"Mute on Ana in {GROUP} lifted.")
    await expect(ana.alert("You are muted")).to_have_count(0)
    await ana.send("Thank you, I am calmer now.")
    posted = ana.message("Thank you, I am calmer now.")
    await expect(posted).to_be_visible()
    await expect(posted).not_to_contain_text(re.compile("Sending|Not sent"))
    mutes = await api.get(f"/api/rooms/{group_id}/mutes", admin.token)
    assert mutes.body["mutes"] == [], mutes.body

    # ----- 7. A password reset code for Ana: a new password, and her old sign-in ends. -----
    await coordinator.open_people()
    await coordinator.open_person("Ana")
    ana_id = int(coordinator.page.url.rsplit("/", 1)[1])
    reset = coordinator.region("Password reset")
    await reset.get_by_role("button", name="Create password reset code").click()
    reset_link = reset.get_by_role("textbox", name="Reset link")
    await expect(reset_link).to_have_value(re.compile(r"/#/reset\?code=\S+"))
    link = await reset_link.input_value()
    ana_again = await browse()  # another browser of hers
    await ana_again.page.goto(link)
    await expect(ana_again.heading("Choose a new password")).to_be_visible()
    await expect(ana_again.page.get_by_role("textbox", name="Reset code")).to_have_value(
        code_of(link)
    )
    await ana_again.page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    await ana_again.page.get_by_role("button", name="Set new password").click()
    await expect(ana_again.heading("Rooms")).to_be_visible()
    await expect(ana_again.connection).to_have_text("Connected")
    # The first tab's sign-in has ended; she signs in there with the new password, back to
    # the room she was in. The old password is no good any more.
    await signed_out(ana)
    await ana.fill_sign_in("pat_ana", NEW_PASSWORD)
    await ana.in_room(GROUP)
    old = await api.post("/api/auth/login", {"username": "pat_ana", "password": PASSWORD})
    assert old.status == 401, old.body

    # ----- 8. Ana deactivated while connected: signed out at once, and no way back in. -----
    account = coordinator.region("Account")
    await account.get_by_role("button", name="Deactivate").click()
    dialog = coordinator.page.get_by_role("dialog", name="Deactivate Ana?")
    await dialog.get_by_role("button", name="Deactivate").click()
    await expect(dialog).to_have_count(0)
    await expect(coordinator.region("Details")).to_contain_text("Deactivated")
    await signed_out(ana)
    await signed_out(ana_again)
    await ana.fill_sign_in("pat_ana", NEW_PASSWORD)
    await expect(ana.alert("This account has been deactivated")).to_be_visible()
    await expect(ana.heading("Sign in")).to_be_visible()
    assert (await user(api, admin, ana_id))["status"] == "deactivated"

    # ----- 9. Cohort A's attendance over two weeks, and as a CSV. -----
    await go_to(coordinator, "Moderator console", "Moderator console")
    report = coordinator.region(RANGE_REPORT)
    last_day = datetime.now(MEETING_ZONE).date()
    await choose_range(report, COHORT, last_day - timedelta(days=13), last_day)
    await report.get_by_role("button", name="Show report").click()
    started = (starts.date() - first_day).days + 1  # today's included; tomorrow's has not
    await expect(report.get_by_role("status")).to_contain_text(f"{started} sessions from")
    rows = report.get_by_role("table", name="Attendance by person").locator("tbody tr")
    ana_row = rows.filter(has_text="Ana")
    # Person, Attended, Minutes, Late arrivals, Low moods; then her moods drawn. (Of how many
    # sessions is not pinned here: the report counts the ones before she registered too.)
    await expect(ana_row.locator("td:nth-child(-n+5)")).to_have_text(
        ["Ana", re.compile(r"^1 of \d+$"), "30", "1", "1 low"]
    )
    await expect(ana_row.get_by_role("img", name="Moods: 2 (low)")).to_be_visible()
    csv_link = report.get_by_role("link", name="Download CSV")
    async with coordinator.page.expect_download() as downloading:
        await csv_link.click()
    download = await downloading.value
    assert download.suggested_filename == (
        f"attendance-cohort-a-{last_day - timedelta(days=13)}-to-{last_day}.csv"
    ), download.suggested_filename
    text = Path(await download.path()).read_text(encoding="utf-8-sig")
    table = list(csv.DictReader(io.StringIO(text)))
    assert table, text
    days = {(first_day + timedelta(days=n)).isoformat() for n in range(started)}
    for row in table:
        assert (row["meeting"], row["timezone"]) == (TITLE, TIMEZONE), row
        assert row["date"] in days and row["local_start"] == f"{starts:%H:%M}", row
    [came] = [row for row in table if row["first_joined_at"]]
    assert (came["display_name"], came["date"], came["mood"], came["low_mood"]) == (
        "Ana",
        starts.date().isoformat(),
        "2",
        "yes",
    ), came
    assert (float(came["minutes_present"]), float(came["late_minutes"])) == (30.0, late), came
