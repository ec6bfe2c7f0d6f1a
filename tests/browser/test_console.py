"""The moderator console in a real browser: the audit log narrowed by person, room, action and
days of the browser's own calendar, paged back, and downloaded as a CSV of every matching entry;
a mute or ban only for a length chosen each time, a ban until lifted only once confirmed; the
mutes and bans in force, lifted from the console; and a report with its alert as one item in
the queue, gone once handled, and resolved on the server."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Locator, expect

from tests.browser.conftest import PeerFactory, TabFactory
from tests.browser.pages import (
    PHONE,
    TIMEZONE,
    Tab,
    describe_violations,
    lee_at_the_console,
    open_alerts,
    open_reports,
    serious_axe_violations,
)
from tests.support import Api, Community, FakeClock, Person, eventually, joined, parse_utc, send

pytestmark = pytest.mark.asyncio(loop_scope="session")

ZONE = ZoneInfo(TIMEZONE)
NO_MATCH = "No entries match these filters."


# ----- arranging and checking through the API -----


async def restrict(
    api: Api, c: Community, kind: str, room_id: int, person: Person, reason: str, **more: Any
) -> None:
    body = {"user_id": person.id, "reason": reason, **more}
    reply = await api.post(f"/api/rooms/{room_id}/{kind}", body, c.mod_lee.token)
    assert reply.status in (201, 204), reply.body


async def in_force(api: Api, c: Community, kind: str, room_id: int) -> list[dict[str, Any]]:
    reply = await api.get(f"/api/rooms/{room_id}/{kind}", c.mod_lee.token)
    assert reply.status == 200, reply.body
    return list(reply.body[kind])


async def audit_where(api: Api, c: Community, query: str) -> list[dict[str, Any]]:
    reply = await api.get(f"/api/audit?limit=1000&{query}", c.mod_lee.token)
    assert reply.status == 200, reply.body
    assert reply.body["next_before"] is None, "more than one page"
    return list(reply.body["entries"])


# ----- the console's audit log -----


def audit_rows(audit: Locator) -> Locator:
    return audit.get_by_role("table").locator("tbody tr")


async def show_entries(
    console: Tab,
    *,
    person: str = "Anyone",
    room: str = "Any room",
    action: str = "Any action",
    start: str = "",
    end: str = "",
) -> dict[str, list[str]]:
    """Set the audit log's filters as a person would and show the entries; answers the query
    the console sent."""
    audit = console.region("Audit log")
    await audit.get_by_role("combobox", name="Person").select_option(label=person)
    await audit.get_by_role("combobox", name="Room").select_option(label=room)
    await audit.get_by_role("combobox", name="Action").select_option(label=action)
    await audit.get_by_label("From", exact=True).fill(start)
    await audit.get_by_label("To", exact=True).fill(end)
    async with console.page.expect_response(lambda r: "/api/audit?" in r.url) as answered:
        await audit.get_by_role("button", name="Show entries").click()
    response = await answered.value
    assert response.status == 200, await response.text()
    return parse_qs(urlsplit(response.url).query)


async def test_the_filters_narrow_the_audit_log_to_a_person_an_action_and_local_days(
    browse: TabFactory, api: Api, community: Community, clock: FakeClock
) -> None:
    c = community
    # Ana is removed just before midnight in the browser's time zone (already the next day in
    # UTC), and Avi muted just after it.
    midnight = datetime.now(ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    day_one = (midnight - timedelta(minutes=20)).date()
    day_two = midnight.date()
    clock.current = (midnight - timedelta(minutes=20)).astimezone(UTC)
    await restrict(api, c, "kicks", c.group_a, c.pat_ana, "Day one: kick of Ana")
    clock.current = (midnight + timedelta(minutes=20)).astimezone(UTC)
    await restrict(api, c, "mutes", c.group_a, c.pat_avi, "Day two: mute of Avi", minutes=60)
    clock.current = datetime.now(UTC)

    console = await lee_at_the_console(browse, c)
    audit = console.region("Audit log")
    rows = audit_rows(audit)
    kick = rows.filter(has_text="Day one: kick of Ana")
    mute = rows.filter(has_text="Day two: mute of Avi")
    await expect(kick).to_have_count(1)
    await expect(mute).to_have_count(1)
    await expect(kick).to_contain_text("Removed from room")
    await expect(mute).to_contain_text("Muted")
    # Nothing is chosen until someone chooses it.
    for name in ("Person", "Room", "Action"):
        assert await audit.get_by_role("combobox", name=name).input_value() == ""

    # A person: what they did or what was done to them.
    query = await show_entries(console, person="Ana (patient)")
    assert query["user_id"] == [str(c.pat_ana.id)], query
    await expect(mute).to_have_count(0)
    await expect(kick).to_have_count(1)
    for row in await rows.all():
        await expect(row).to_contain_text("Ana")

    # An action.
    query = await show_entries(console, action="Muted")
    assert query["action"] == ["mute"] and "user_id" not in query, query
    await expect(kick).to_have_count(0)
    await expect(mute).to_have_count(1)
    await expect(rows).to_have_count(1)

    # Both: nothing matches, and the log says so.
    await show_entries(console, person="Ana (patient)", action="Muted")
    await expect(audit.get_by_text(NO_MATCH)).to_be_visible()
    await expect(audit.get_by_role("table")).to_have_count(0)

    # A room where nothing happened but its making.
    query = await show_entries(console, room="Group B")
    assert query["room_id"] == [str(c.group_b)], query
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Room created")
    query = await show_entries(console, room="Group A")
    await expect(kick).to_have_count(1)
    await expect(mute).to_have_count(1)

    # Days are the browser's: from its midnight (inclusive) to the next (exclusive), in UTC.
    query = await show_entries(console, start=day_one.isoformat(), end=day_one.isoformat())
    assert query["since"] == [utc_midnight(day_one)], query
    assert query["until"] == [utc_midnight(day_one + timedelta(days=1))], query
    await expect(mute).to_have_count(0)
    await expect(kick).to_have_count(1)
    await show_entries(console, start=day_two.isoformat(), end=day_two.isoformat())
    await expect(kick).to_have_count(0)
    await expect(mute).to_have_count(1)

    # A range before anything happened: the empty message, no table. (January: UTC-6.)
    query = await show_entries(console, start="2001-01-01", end="2001-01-31")
    assert query["since"] == ["2001-01-01T06:00:00Z"], query
    assert query["until"] == ["2001-02-01T06:00:00Z"], query
    await expect(audit.get_by_text(NO_MATCH)).to_be_visible()
    await expect(audit.get_by_role("table")).to_have_count(0)

    # A range that ends before it starts is refused, in words, before anything is asked.
    await audit.get_by_label("From", exact=True).fill("2001-02-01")
    await audit.get_by_role("button", name="Show entries").click()
    await expect(audit.get_by_role("alert")).to_contain_text("cannot come before")
    await expect(audit.get_by_label("To", exact=True)).to_be_focused()

    # Clear filters: everything again.
    await audit.get_by_role("button", name="Clear filters").click()
    await expect(kick).to_have_count(1)
    await expect(mute).to_have_count(1)
    assert await audit.get_by_label("From", exact=True).input_value() == ""


def utc_midnight(day: Any) -> str:
    moment = datetime(day.year, day.month, day.day, tzinfo=ZONE).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_older_entries_page_back_and_the_csv_has_every_matching_entry(
    browse: TabFactory, api: Api, community: Community
) -> None:
    c = community
    # More mutes than one page holds, and what the filter must leave out.
    count = 103
    for number in range(count):
        await restrict(api, c, "mutes", c.group_a, c.pat_avi, f"mute number {number}", minutes=5)
    await restrict(api, c, "kicks", c.group_a, c.pat_ana, "not a mute")
    expected = await audit_where(api, c, "action=mute")
    assert len(expected) == count

    console = await lee_at_the_console(browse, c)
    audit = console.region("Audit log")
    await show_entries(console, action="Muted")
    rows = audit_rows(audit)
    older = audit.get_by_role("button", name="Older entries")
    await expect(rows).to_have_count(100)
    await expect(audit.get_by_role("status")).to_contain_text("older entries follow")
    await older.click()
    await expect(rows).to_have_count(count)
    await expect(older).to_be_hidden()
    await expect(rows.filter(has_text="mute number 0")).to_have_count(1)
    await expect(rows.filter(has_text="not a mute")).to_have_count(0)

    # The file has every matching entry, not just those on screen.
    async with console.page.expect_download() as downloading:
        await audit.get_by_role("button", name="Download CSV").click()
    download = await downloading.value
    assert download.suggested_filename.startswith("peerrooms-audit-"), download.suggested_filename
    assert download.suggested_filename.endswith(".csv"), download.suggested_filename
    text = Path(await download.path()).read_text(encoding="utf-8-sig")
    table = list(csv.DictReader(io.StringIO(text)))
    assert [row["id"] for row in table] == [str(entry["id"]) for entry in expected]
    assert {row["action"] for row in table} == {"mute"}
    assert {row["target_user"] for row in table} == {"Avi"}
    assert {row["reason"] for row in table} == {f"mute number {n}" for n in range(count)}
    await expect(audit.get_by_role("status")).to_contain_text("CSV")


# ----- mutes and bans -----


async def ana_and_lee_for_axe(browse: TabFactory, c: Community) -> tuple[Tab, Tab]:
    """Ana (a patient, on a phone) and Lee (a moderator, at a desk) in Group A; Lee's tab lets
    axe-core's script in (the page's policy refuses inline scripts)."""
    patient = await browse()
    await patient.sign_in(c.pat_ana)
    await patient.open_room(c.group_a, "Group A")
    moderator = await browse(desktop=True, bypass_csp=True)
    await moderator.sign_in(c.mod_lee)
    await moderator.open_room(c.group_a, "Group A")
    return patient, moderator


async def test_a_ban_needs_a_length_chosen_and_until_lifted_is_confirmed(
    browse: TabFactory, api: Api, community: Community, axe_script: Path
) -> None:
    c = community
    patient, moderator = await ana_and_lee_for_axe(browse, c)
    dialog = await moderator.moderate("Ana")
    length = dialog.get_by_role("combobox", name="How long")
    # No length is chosen for the moderator.
    await expect(length).to_have_value("")
    await expect(dialog.get_by_label("Minutes")).to_have_value("")

    await dialog.get_by_role("button", name="Ban").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("choose how long the ban lasts")
    await expect(length).to_be_focused()
    await dialog.get_by_role("button", name="Mute").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("choose how long the mute lasts")
    # Until lifted is for bans only.
    await length.select_option(label="Permanent (bans only)")
    await dialog.get_by_role("button", name="Mute").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("a mute cannot be permanent")
    assert await in_force(api, c, "bans", c.group_a) == []
    assert await in_force(api, c, "mutes", c.group_a) == []

    # Permanent asks first; Cancel (where focus starts) leaves everything as it was.
    await dialog.get_by_label("Reason").fill("Threats to another member")
    await dialog.get_by_role("button", name="Ban").click()
    confirm = moderator.page.get_by_role("dialog", name="Ban Ana until lifted?")
    await expect(confirm).to_be_visible()
    await expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    assert not await serious_axe_violations(moderator.page), "the confirmation"
    await moderator.page.keyboard.press("Enter")
    await expect(confirm).to_be_hidden()
    await expect(dialog).to_be_visible()
    assert await in_force(api, c, "bans", c.group_a) == []
    await expect(patient.log).to_be_visible()

    await dialog.get_by_role("button", name="Ban").click()
    await confirm.get_by_role("button", name="Ban until lifted").click()
    await expect(confirm).to_be_hidden()
    await expect(dialog).to_be_hidden()
    [ban] = await in_force(api, c, "bans", c.group_a)
    assert ban["user"]["id"] == c.pat_ana.id and ban["until"] is None, ban
    assert ban["reason"] == "Threats to another member", ban
    await expect(patient.log).to_be_hidden()
    await expect(patient.alert("banned").first).to_be_visible()

    # The console lists it, and says it has no end.
    await moderator.open_console()
    restrictions = moderator.region("Mutes and bans")
    item = restrictions.get_by_role("listitem").filter(has_text="Ana")
    await expect(item).to_contain_text("banned from Group A until a moderator lifts it")
    await expect(item).to_contain_text("Threats to another member")


async def test_a_mute_for_a_chosen_length_is_listed_in_the_console_and_lifted_there(
    browse: TabFactory, api: Api, community: Community, clock: FakeClock, axe_script: Path
) -> None:
    c = community
    patient, moderator = await ana_and_lee_for_axe(browse, c)
    dialog = await moderator.moderate("Ana")
    await dialog.get_by_role("combobox", name="How long").select_option(label="1 hour")
    await dialog.get_by_label("Reason").fill("Cooling off")
    await dialog.get_by_role("button", name="Mute").click()
    await expect(dialog).to_be_hidden()
    [mute] = await in_force(api, c, "mutes", c.group_a)
    assert mute["user"]["id"] == c.pat_ana.id, mute
    length = parse_utc(mute["until"]) - clock.now()
    assert abs(length - timedelta(hours=1)) < timedelta(seconds=1), mute
    await expect(patient.alert("You are muted")).to_be_visible()
    # A ban elsewhere, for a while, set through the API.
    await restrict(api, c, "bans", c.commons, c.pat_avi, "Spam links", minutes=24 * 60)

    await moderator.open_console()
    restrictions = moderator.region("Mutes and bans")
    items = restrictions.get_by_role("listitem")
    ana = items.filter(has_text="Ana")
    await expect(items).to_have_count(2)
    await expect(ana).to_contain_text("muted in Group A until")
    await expect(ana).to_contain_text("By Lee: Cooling off")
    await expect(items.filter(has_text="Avi")).to_contain_text("banned from Commons until")

    # One room at a time.
    room = restrictions.get_by_role("combobox", name="Room")
    await room.select_option(label="Group B")
    await expect(restrictions).to_contain_text("No mutes or bans in force in Group B.")
    await room.select_option(label="Group A")
    await expect(items).to_have_count(1)
    await expect(ana).to_have_count(1)

    # Every control works at a phone's width, and axe finds nothing serious.
    await moderator.page.set_viewport_size(PHONE)
    found = await serious_axe_violations(moderator.page)
    assert not found, describe_violations("console with a mute", found)
    assert await moderator.page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )

    # Lifted from the keyboard: gone from the list, from the server, and Ana is told.
    lift = restrictions.get_by_role("button", name="Lift mute on Ana in Group A")
    await lift.focus()
    await moderator.page.keyboard.press("Enter")
    await expect(restrictions.get_by_role("status")).to_have_text("Mute on Ana in Group A lifted.")
    await expect(restrictions).to_contain_text("No mutes or bans in force in Group A.")
    await expect(restrictions.get_by_role("heading", name="Mutes and bans")).to_be_focused()
    assert await in_force(api, c, "mutes", c.group_a) == []
    await expect(patient.alert("You are muted")).to_have_count(0)
    await room.select_option(label="All rooms")
    await expect(items).to_have_count(1)
    await expect(items.filter(has_text="Avi")).to_have_count(1)


# ----- the queue -----


async def test_a_report_is_one_item_in_the_queue_and_handling_it_resolves_it(
    browse: TabFactory, api: Api, peer: PeerFactory, community: Community
) -> None:
    c = community
    avi = await peer(c.pat_avi.token)
    await joined(avi, c.group_a)
    first = await send(avi, c.group_a, "who wants to skip group and get drinks")
    second = await send(avi, c.group_a, "bring cash, not cards")
    reply = await api.post(
        f"/api/messages/{first['id']}/reports", {"reason": "Pushing drinking"}, c.pat_ana.token
    )
    assert reply.status == 201, reply.body
    report_id = reply.body["report"]["id"]
    [alert] = await open_alerts(api, c.mod_lee)
    assert alert["kind"] == "report" and alert["report_id"] == report_id, alert

    console = await lee_at_the_console(browse, c)
    alerts = console.region("Alerts")
    reports = console.region("Reports")
    # Once on the whole page, with the report's details inside.
    items = console.page.get_by_role("listitem").filter(has_text="skip group and get drinks")
    await expect(items).to_have_count(1)
    item = reports.get_by_role("listitem").filter(has_text="skip group and get drinks")
    await expect(item).to_contain_text("Reported message from Avi in Group A")
    await expect(item).to_contain_text("Reported by Ana: Pushing drinking")
    await expect(alerts).to_contain_text("No open crisis alerts.")
    await expect(alerts.get_by_role("button", name="Acknowledge")).to_have_count(0)

    # A second report comes in live, and is one item too.
    reply = await api.post(
        f"/api/messages/{second['id']}/reports", {"reason": "Money for drinks"}, c.pat_ana.token
    )
    assert reply.status == 201, reply.body
    later = reports.get_by_role("listitem").filter(has_text="bring cash")
    await expect(later).to_contain_text("Reported by Ana: Money for drinks")
    await expect(console.page.get_by_role("listitem").filter(has_text="bring cash")).to_have_count(
        1
    )
    await expect(reports.get_by_role("listitem")).to_have_count(2)

    # Handled once: gone from the queue, the report resolved and its alert acknowledged.
    await item.get_by_label("Comment for the audit log (optional)").fill("Talked with Avi")
    await item.get_by_role("button", name="Dismiss").click()
    await expect(items).to_have_count(0)
    await expect(reports.get_by_role("status")).to_contain_text("dismissed")
    await expect(reports.get_by_role("listitem")).to_have_count(1)
    reply = await api.get("/api/reports?status=all", c.mod_lee.token)
    [resolved] = [r for r in reply.body["reports"] if r["id"] == report_id]
    assert resolved["status"] == "dismissed" and resolved["note"] == "Talked with Avi", resolved
    assert [a["report_id"] for a in await open_alerts(api, c.mod_lee)] != [report_id]

    # Handled elsewhere (its alert acknowledged by another moderator): gone here too, live.
    [other] = await open_alerts(api, c.mod_lee)
    reply = await api.post(
        f"/api/alerts/{other['id']}/ack", {"outcome": "reached_out", "note": ""}, c.admin.token
    )
    assert reply.status == 200, reply.body
    await expect(reports.get_by_role("listitem")).to_have_count(0)
    await expect(reports).to_contain_text("No open reports.")
    assert await open_reports(api, c.mod_lee) == []
    assert await open_alerts(api, c.mod_lee) == []

    # And after a reload, nothing comes back.
    await console.page.reload()
    await expect(console.heading("Moderator console")).to_be_visible()
    await expect(reports).to_contain_text("No open reports.")
    await expect(alerts).to_contain_text("No open crisis alerts.")
    actioned = await eventually(
        lambda: audit_where(api, c, "action=report_actioned"), "the second report actioned"
    )
    assert len(actioned) == 1, actioned
