"""The console's forms and dialogs that no screen tour stops at, each at a phone's width (390
px) and a desktop's: axe-core finds nothing serious or critical in the schedule-series and
edit-series forms, the cancel-session dialog, the rename and archive dialogs of Cohorts and
rooms, the expanded "Who is in this room" list, the deactivate, graduate and revoke
confirmations, and the mute and ban ("Moderate") dialog."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Locator, expect

from tests.browser.conftest import PeerFactory, TabFactory
from tests.browser.pages import (
    DESKTOP,
    PHONE,
    Tab,
    describe_violations,
    serious_axe_violations,
)
from tests.support import Api, Community, FakeClock, ban, daily_meeting, joined

pytestmark = pytest.mark.asyncio(loop_scope="session")

WIDTHS = {"phone": PHONE, "desktop": DESKTOP}


@dataclass
class Axe:
    """What axe-core found on each screen checked, at each width."""

    tab: Tab
    checked: list[str] = field(default_factory=list)
    found: dict[str, str] = field(default_factory=dict)

    async def check(self, screen: str, shown: Locator) -> None:
        """axe-core on the page as it is, once `shown` is visible, at each width; the window
        goes back to the size it had."""
        await expect(shown).to_be_visible()
        window = self.tab.page.viewport_size
        try:
            for width, size in WIDTHS.items():
                await self.tab.page.set_viewport_size(size)
                await expect(shown).to_be_visible()
                name = f"{screen} ({width})"
                self.checked.append(name)
                violations = await serious_axe_violations(self.tab.page)
                if violations:
                    self.found[name] = describe_violations(name, violations)
        finally:
            if window:
                await self.tab.page.set_viewport_size(window)

    def assert_clean(self, screens: list[str]) -> None:
        assert self.checked == [f"{s} ({w})" for s in screens for w in WIDTHS], self.checked
        assert not self.found, "axe-core found serious or critical problems:\n" + "\n".join(
            self.found.values()
        )


async def staff_tab(browse: TabFactory, c: Community, *, admin: bool = False) -> Axe:
    """Lee (or the admin) signed in on a phone, in a tab that lets axe-core's script in (the
    page's policy refuses inline scripts)."""
    tab = await browse(bypass_csp=True)
    await tab.sign_in(c.admin if admin else c.mod_lee)
    return Axe(tab)


async def test_the_series_forms_and_the_cancel_dialog(
    browse: TabFactory, api: Api, community: Community, clock: FakeClock, axe_script: Path
) -> None:
    c = community
    await daily_meeting(api, c, clock, timedelta(days=1), title="Evening IOP")
    axe = await staff_tab(browse, c)
    page = axe.tab.page
    await axe.tab.nav.get_by_role("link", name="Meetings").click()
    await expect(axe.tab.heading("Meetings")).to_be_visible()

    await page.get_by_role("button", name="Schedule a session series").click()
    form = page.get_by_role("form", name="Schedule a session series")
    await axe.check("schedule-series form", form)
    # One session only, with what the form says when it cannot be sent.
    await form.get_by_role("checkbox", name="One session only").check()
    await form.get_by_role("button", name="Schedule", exact=True).click()
    await expect(form.get_by_role("alert")).not_to_be_empty()
    await axe.check("schedule-series form, refused", form)
    await form.get_by_role("button", name="Cancel").click()
    await expect(form).to_have_count(0)

    series = page.get_by_role("list", name="Session series").get_by_role("listitem")
    await series.filter(has_text="Evening IOP").get_by_role("button", name="Edit series").click()
    edit = page.get_by_role("form", name="Edit series Evening IOP")
    await expect(edit.get_by_role("textbox", name="Title")).to_have_value("Evening IOP")
    await axe.check("edit-series form", edit)
    await edit.get_by_role("button", name="Cancel").click()
    await expect(edit).to_have_count(0)

    upcoming = page.get_by_role("list", name="Upcoming meetings").get_by_role("listitem")
    first = upcoming.filter(has_text="Evening IOP").first
    await first.get_by_role("button", name=re.compile(r"^Cancel this session")).click()
    dialog = page.get_by_role("dialog", name="Cancel this session?")
    await axe.check("cancel-session dialog", dialog)
    await dialog.get_by_role("button", name="Keep it").click()
    await expect(dialog).to_have_count(0)

    axe.assert_clean(
        [
            "schedule-series form",
            "schedule-series form, refused",
            "edit-series form",
            "cancel-session dialog",
        ]
    )


async def test_the_rename_and_archive_dialogs_and_who_is_in_a_room(
    browse: TabFactory, api: Api, community: Community, peer: PeerFactory, axe_script: Path
) -> None:
    c = community
    await joined(await peer(c.pat_ana.token), c.group_a)
    await ban(api, c, c.group_a, c.pat_avi.id)
    axe = await staff_tab(browse, c, admin=True)
    page = axe.tab.page
    await axe.tab.nav.get_by_role("link", name="Cohorts and rooms", exact=True).click()
    await expect(axe.tab.heading("Cohorts and rooms")).to_be_visible()
    cohort = (
        page.get_by_role("list", name="Cohorts", exact=True)
        .get_by_role("listitem")
        .filter(has=page.get_by_text("Cohort A", exact=True))
    )
    room = (
        page.get_by_role("list", name="All rooms", exact=True)
        .get_by_role("listitem")
        .filter(has=page.get_by_role("link", name="Group A", exact=True))
    )

    for item, name in ((cohort, "Cohort A"), (room, "Group A")):
        await item.get_by_role("button", name="Rename").click()
        dialog = page.get_by_role("dialog", name=f"Rename {name}")
        await axe.check(f"rename dialog ({name})", dialog)
        await page.keyboard.press("Escape")
        await expect(dialog).to_have_count(0)

    await cohort.get_by_role("button", name="Archive").click()
    dialog = page.get_by_role("dialog", name="Archive Cohort A?")
    await axe.check("archive dialog", dialog)
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_have_count(0)

    await page.get_by_role("button", name="Who is in this room: Group A").click()
    people = page.get_by_role("list", name="People of Group A")
    await expect(people.get_by_role("listitem")).to_have_text(
        ["Ana, here now", "Avi, banned from this room"]
    )
    await axe.check("who is in this room", people)

    axe.assert_clean(
        [
            "rename dialog (Cohort A)",
            "rename dialog (Group A)",
            "archive dialog",
            "who is in this room",
        ]
    )


async def test_the_deactivate_graduate_and_revoke_confirmations(
    browse: TabFactory, api: Api, community: Community, axe_script: Path
) -> None:
    c = community
    reply = await api.post(
        "/api/invites", {"role": "patient", "cohort_id": c.cohort_a}, token=c.mod_lee.token
    )
    assert reply.status == 201, reply.body
    axe = await staff_tab(browse, c)
    page = axe.tab.page
    await page.goto(f"/#/people/{c.pat_ana.id}")
    await expect(axe.tab.heading("Ana")).to_be_visible()

    for region, action in (("Account", "Deactivate"), ("Graduation", "Graduate")):
        await axe.tab.region(region).get_by_role("button", name=action).click()
        dialog = page.get_by_role("dialog", name=f"{action} Ana?")
        await axe.check(f"{action.lower()} confirmation", dialog)
        await dialog.get_by_role("button", name="Cancel").click()
        await expect(dialog).to_have_count(0)

    await axe.tab.open_invites()
    invite = axe.tab.invite_item(reply.body["invite"]["code"])
    await invite.get_by_role("button", name="Revoke").click()
    dialog = page.get_by_role("dialog", name="Revoke this invite?")
    await axe.check("revoke confirmation", dialog)
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_have_count(0)

    axe.assert_clean(["deactivate confirmation", "graduate confirmation", "revoke confirmation"])


async def test_the_mute_and_ban_dialog(
    browse: TabFactory, community: Community, peer: PeerFactory, axe_script: Path
) -> None:
    c = community
    await joined(await peer(c.pat_ana.token), c.group_a)
    axe = await staff_tab(browse, c)
    await axe.tab.open_room(c.group_a, "Group A")
    dialog = await axe.tab.moderate("Ana")
    await axe.check("moderate dialog", dialog)
    # What it says when no length was chosen.
    await dialog.get_by_role("button", name="Ban").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("choose how long the ban lasts")
    await axe.check("moderate dialog, refused", dialog)
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_have_count(0)

    axe.assert_clean(["moderate dialog", "moderate dialog, refused"])
