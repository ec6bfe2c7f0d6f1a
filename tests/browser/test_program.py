"""Cohorts and rooms, in a real browser: an admin creates a cohort, renames it, gives it a
group room and opens a peer room to everyone, renames the group room, archives the cohort after
confirming (no invites for it then) and brings it back; a name in use is refused with the
server's reason; axe-core finds nothing serious on the screen; members have no such page. A room
is made with its slow mode, edited (topic, audience; an audience that would read earlier history
refused with the server's reason), archived after confirming (a member in it is told and taken
out, and it leaves her list; staff still read it) and brought back."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Locator, expect

from tests.browser.conftest import PeerFactory, TabFactory
from tests.browser.pages import Tab, describe_violations, serious_axe_violations
from tests.support import Api, Community, Person, ban, joined, send

pytestmark = pytest.mark.asyncio(loop_scope="session")


def cohort_item(tab: Tab, name: str) -> Locator:
    return (
        tab.page.get_by_role("list", name="Cohorts", exact=True)
        .get_by_role("listitem")
        .filter(has=tab.page.get_by_text(name, exact=True))
    )


def room_item(tab: Tab, name: str) -> Locator:
    return (
        tab.page.get_by_role("list", name="All rooms", exact=True)
        .get_by_role("listitem")
        .filter(has=tab.page.get_by_role("link", name=name, exact=True))
    )


async def rename(tab: Tab, item: Locator, old: str, new: str) -> None:
    await item.get_by_role("button", name="Rename").click()
    dialog = tab.page.get_by_role("dialog", name=f"Rename {old}")
    box = dialog.get_by_role("textbox", name="New name")
    await expect(box).to_be_focused()
    await expect(box).to_have_value(old)
    await box.fill(new)
    await box.press("Enter")
    await expect(dialog).to_have_count(0)


async def cohort_id(api: Api, staff: Person, name: str) -> int:
    reply = await api.get("/api/cohorts?status=all", staff.token)
    assert reply.status == 200, reply.body
    [found] = [c for c in reply.body["cohorts"] if c["name"] == name]
    return int(found["id"])


async def test_an_admin_manages_cohorts_and_rooms(
    browse: TabFactory, api: Api, community: Community, axe_script: Path
) -> None:
    c = community
    admin = await browse(bypass_csp=True)
    await admin.sign_in(c.admin)
    await admin.nav.get_by_role("link", name="Cohorts and rooms", exact=True).click()
    await expect(admin.heading("Cohorts and rooms")).to_be_visible()
    # On a phone staff's links are one row that scrolls sideways; opened afresh, the page's
    # own link (the last one) is scrolled into sight.
    await admin.page.reload()
    await expect(admin.heading("Cohorts and rooms")).to_be_visible()
    current = admin.nav.get_by_role("link", name="Cohorts and rooms", exact=True)
    await expect(current).to_have_attribute("aria-current", "page")
    await expect(current).to_be_in_viewport(ratio=1)
    await expect(cohort_item(admin, "Cohort A")).to_be_visible()
    await expect(room_item(admin, "Group A")).to_contain_text("Cohort A")

    # A new cohort, then renamed.
    cohorts = admin.region("Cohorts")
    await cohorts.get_by_role("textbox", name="New cohort name").fill("Spring 2027")
    await cohorts.get_by_role("button", name="Create cohort").click()
    await expect(cohort_item(admin, "Spring 2027")).to_be_visible()
    await rename(admin, cohort_item(admin, "Spring 2027"), "Spring 2027", "Spring 2027 evening")
    await expect(cohort_item(admin, "Spring 2027 evening")).to_be_visible()
    await expect(cohort_item(admin, "Spring 2027")).to_have_count(0)
    spring = await cohort_id(api, c.admin, "Spring 2027 evening")

    # A group room for it, and a peer room for everyone.
    rooms = admin.region("Rooms")
    await rooms.get_by_role("textbox", name="Room name").fill("Spring group")
    await rooms.get_by_role("combobox", name="Kind").select_option(label="Group")
    await rooms.get_by_role("combobox", name="Audience").select_option(label="One cohort")
    await rooms.get_by_role("combobox", name="Cohort").select_option(label="Spring 2027 evening")
    await rooms.get_by_role("button", name="Create room").click()
    group = room_item(admin, "Spring group")
    await expect(group).to_contain_text("Group")
    await expect(group).to_contain_text("Audience: Cohort")
    await expect(group).to_contain_text("Spring 2027 evening")

    await rooms.get_by_role("textbox", name="Room name").fill("Open peers")
    await rooms.get_by_role("combobox", name="Kind").select_option(label="Peer")
    await rooms.get_by_role("combobox", name="Audience").select_option(label="Everyone")
    await rooms.get_by_role("button", name="Create room").click()
    await expect(room_item(admin, "Open peers")).to_contain_text("Peer")
    await expect(room_item(admin, "Open peers")).to_contain_text("Audience: Everyone")

    await rename(admin, group, "Spring group", "Spring evening group")
    await expect(room_item(admin, "Spring evening group")).to_contain_text("Spring 2027 evening")
    reply = await api.get("/api/rooms", c.admin.token)
    stored = {room["name"]: room for room in reply.body["rooms"]}
    assert stored["Spring evening group"]["cohort_id"] == spring, stored
    assert stored["Spring evening group"]["audience"] == "cohort", stored
    assert (stored["Open peers"]["kind"], stored["Open peers"]["audience"]) == ("peer", "everyone")

    # Archiving asks first; then no invites for it, until it is brought back.
    item = cohort_item(admin, "Spring 2027 evening")
    await item.get_by_role("button", name="Archive").click()
    dialog = admin.page.get_by_role("dialog", name="Archive Spring 2027 evening?")
    await expect(dialog).to_contain_text("Its people and rooms stay; no new invites can be made")
    await dialog.get_by_role("button", name="Archive").click()
    await expect(dialog).to_have_count(0)
    await expect(item.get_by_text("Archived", exact=True)).to_be_visible()
    refused = await api.post(
        "/api/invites", {"role": "patient", "cohort_id": spring}, token=c.admin.token
    )
    assert refused.status == 409, refused.body

    violations = await serious_axe_violations(admin.page)
    assert not violations, describe_violations("program", violations)

    await item.get_by_role("button", name="Bring back").click()
    await expect(item.get_by_text("Archived", exact=True)).to_have_count(0)
    await expect(item.get_by_role("button", name="Archive")).to_be_visible()
    allowed = await api.post(
        "/api/invites", {"role": "patient", "cohort_id": spring}, token=c.admin.token
    )
    assert allowed.status == 201, allowed.body

    # A name in use: the server's reason.
    await cohorts.get_by_role("textbox", name="New cohort name").fill("Cohort A")
    await cohorts.get_by_role("button", name="Create cohort").click()
    await expect(admin.alert("a cohort with this name exists")).to_be_visible()

    # Nothing at all fits on a phone without scrolling sideways.
    assert await admin.page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


async def test_members_have_no_cohorts_and_rooms_page(
    browse: TabFactory, community: Community
) -> None:
    ana = await browse()
    await ana.sign_in(community.pat_ana)
    await expect(ana.nav.get_by_role("link", name="Cohorts and rooms")).to_have_count(0)
    await ana.page.goto("/#/program")
    await expect(ana.heading("Page not found")).to_be_visible()


async def test_staff_see_who_a_room_is_for_and_who_is_kept_out(
    browse: TabFactory, api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    await joined(await peer(c.pat_ana.token), c.group_a)
    await ban(api, c, c.group_a, c.pat_avi.id)

    lee = await browse()  # on a phone
    await lee.sign_in(c.mod_lee)
    await lee.page.goto(lee.page.url.split("#")[0] + "#/program")
    toggle = lee.page.get_by_role("button", name="Who is in this room: Group A")
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    people = lee.page.get_by_role("list", name="People of Group A").get_by_role("listitem")
    await expect(people).to_have_text(["Ana, here now", "Avi, banned from this room"])
    await toggle.click()
    await expect(lee.page.get_by_role("list", name="People of Group A")).to_be_hidden()


async def test_a_room_is_made_with_slow_mode_edited_archived_and_brought_back(
    browse: TabFactory, api: Api, community: Community, peer: PeerFactory, axe_script: Path
) -> None:
    c = community
    await send(await peer(c.pat_ana.token), c.group_a, "said in Group A")
    ana = await browse()  # on a phone, in the room when it is archived
    await ana.sign_in(c.pat_ana)
    await ana.open_room(c.group_a, "Group A")
    admin = await browse(bypass_csp=True)
    await admin.sign_in(c.admin)
    await admin.page.goto(admin.page.url.split("#")[0] + "#/program")
    await expect(room_item(admin, "Group A")).to_be_visible()

    # Made with its slow mode, then given a topic and another audience (nothing said yet).
    rooms = admin.region("Rooms")
    await rooms.get_by_role("textbox", name="Room name").fill("Quiet corner")
    await rooms.get_by_role("combobox", name="Kind").select_option(label="Peer")
    await rooms.get_by_role("combobox", name="Audience").select_option(label="Everyone")
    await rooms.get_by_role("spinbutton", name="Slow mode (seconds)").fill("30")
    await rooms.get_by_role("button", name="Create room").click()
    quiet = room_item(admin, "Quiet corner")
    await expect(quiet).to_contain_text("Slow mode: 30 s")
    await quiet.get_by_role("button", name="Edit Quiet corner").click()
    dialog = admin.page.get_by_role("dialog", name="Edit Quiet corner")
    await dialog.get_by_role("textbox", name="Topic").fill("Check-ins between sessions")
    await dialog.get_by_role("combobox", name="Audience").select_option(label="Alumni")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_have_count(0)
    await expect(quiet).to_contain_text("Audience: Alumni")
    await expect(quiet).to_contain_text("Topic: Check-ins between sessions")
    [made] = [r for r in (await api.get("/api/rooms", c.admin.token)).body["rooms"]
              if r["name"] == "Quiet corner"]  # fmt: skip
    assert (made["slow_mode_s"], made["audience"], made["topic"]) == (
        30, "alumni", "Check-ins between sessions"
    ), made  # fmt: skip

    # Group A's history would reach Cohort B: the server's reason, in the dialog.
    group = room_item(admin, "Group A")
    await group.get_by_role("button", name="Edit Group A").click()
    dialog = admin.page.get_by_role("dialog", name="Edit Group A")
    await expect(dialog.get_by_role("combobox", name="Kind")).to_have_value("group")
    await dialog.get_by_role("combobox", name="Cohort").select_option(label="Cohort B")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("could read what was said here")
    violations = await serious_axe_violations(admin.page)
    assert not violations, describe_violations("edit room dialog", violations)
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_have_count(0)

    # Archived after asking: Ana, in it, is told and taken back to her rooms, without it.
    await group.get_by_role("button", name="Archive").click()
    dialog = admin.page.get_by_role("dialog", name="Archive Group A?")
    await expect(dialog).to_contain_text("Its history is kept for staff")
    await dialog.get_by_role("button", name="Archive").click()
    await expect(dialog).to_have_count(0)
    await expect(group.get_by_text("Archived", exact=True)).to_be_visible()
    await expect(ana.page.get_by_text("Group A has been archived")).to_be_visible()
    await expect(ana.heading("Rooms")).to_be_visible()
    await expect(ana.room_item("Commons")).to_be_visible()
    await expect(ana.room_item("Group A")).to_have_count(0)
    violations = await serious_axe_violations(admin.page)
    assert not violations, describe_violations("program, a room archived", violations)

    # Staff still read it; brought back, it is Ana's again.
    await group.get_by_role("link", name="Group A").click()
    await admin.in_room("Group A")
    await expect(admin.message("said in Group A")).to_be_visible()
    await admin.page.go_back()
    await room_item(admin, "Group A").get_by_role("button", name="Bring back").click()
    await expect(room_item(admin, "Group A").get_by_text("Archived", exact=True)).to_have_count(0)
    await ana.page.reload()
    await expect(ana.room_item("Group A")).to_be_visible()
    assert ana.problems() == [] and admin.problems() == []
