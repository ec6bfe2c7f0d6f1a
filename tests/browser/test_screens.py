"""Every screen of the web client, with some life in it: axe-core finds nothing serious or
critical on any of them, and each is photographed (a phone for patients' screens, a desktop
for the console, People and Invites, and both on a phone too) into artifacts/screenshots/; with
PEERROOMS_UPDATE_DOCS_SCREENSHOTS=1 the room view and the console are copied to
docs/screenshots/ too. The same tour again with the system in dark mode: axe-clean as well,
each screen photographed as `{screen}-dark`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.browser.conftest import PeerFactory, TabFactory
from tests.browser.pages import (
    DESKTOP,
    PHONE,
    Tab,
    describe_violations,
    live_meeting,
    screenshot,
    serious_axe_violations,
    show_attendance,
)
from tests.crisis_corpus import SHOULD_ALERT
from tests.support import Api, Community, FakeClock, joined, ok, send

pytestmark = pytest.mark.asyncio(loop_scope="session")

CRISIS = "i dont want to be here anymore"
# Which screens go into the docs, and under what name.
DOCS = {"room-view": "room-view", "moderator-console": "moderator-console"}
# Photographed whole (the console and a person's page are longer than a screen).
FULL_PAGE = {
    "moderator-console",
    "moderator-console-phone",
    "person",
    "person-phone",
    "invites",
    "invites-phone",
}


async def tour(
    browse: TabFactory,
    api: Api,
    peer: PeerFactory,
    c: Community,
    clock: FakeClock,
    *,
    bypass_csp: bool = False,
) -> AsyncIterator[tuple[str, Tab]]:
    """Walk a patient and a moderator through every screen, stopping at each."""
    assert CRISIS in SHOULD_ALERT
    meeting = await live_meeting(api, c, clock)
    lee = await peer(c.mod_lee.token)
    avi = await peer(c.pat_avi.token)
    for person in (lee, avi):
        await joined(person, c.group_a)
        await joined(person, c.commons)
    await send(
        lee,
        c.group_a,
        "Good evening, everyone. Tonight's check-in question: "
        "what is one thing that helped you this week?",
    )
    walk = await send(avi, c.group_a, "Going for a walk before dinner. Day 23 sober 💪")
    await send(lee, c.group_a, "That's huge, Avi. Thank you for sharing.")
    ok(await lee.call("react", {"message_id": walk["id"], "emoji": "🎉"}))
    ok(await lee.call("react", {"message_id": walk["id"], "emoji": "❤️"}))
    await send(avi, c.commons, "Is anyone else going to the Saturday meeting downtown?")
    odd = await send(avi, c.commons, "who wants to skip group and get drinks")
    reply = await api.post(
        f"/api/messages/{odd['id']}/reports", {"reason": "Pushing drinking"}, c.pat_ana.token
    )
    assert reply.status == 201, reply.body

    patient = await browse(bypass_csp=bypass_csp)
    await patient.page.goto("/#/signin")
    await expect(patient.heading("Sign in")).to_be_visible()
    yield "sign-in", patient

    await patient.page.goto("/#/register")
    await expect(patient.heading("Register")).to_be_visible()
    yield "register", patient

    await patient.sign_in(c.pat_ana)
    await expect(patient.room_item("Group A")).to_contain_text("3 unread")
    yield "room-list", patient

    await patient.open_room(c.group_a, "Group A")
    await patient.send("Calling my sister instead of scrolling at night. Small, but it helped.")
    await expect(patient.message("Calling my sister")).not_to_contain_text("Sending")
    await expect(patient.message("Day 23")).to_contain_text("🎉")
    yield "room-view", patient

    await patient.nav.get_by_role("link", name="Meetings").click()
    await expect(patient.heading("Meetings")).to_be_visible()
    await expect(patient.page.get_by_role("list", name="Upcoming meetings")).to_contain_text(
        meeting.title
    )
    await expect(patient.page.get_by_role("button", name="Check in", exact=True)).to_be_visible()
    yield "meetings", patient

    await patient.page.get_by_role("radiogroup", name="Mood").get_by_role("radio").nth(2).check()
    await patient.page.get_by_role("button", name="Check in", exact=True).click()
    await patient.open_room(meeting.room_id, meeting.title)
    # Her join is recorded (the room lists her) before the server's clock moves on.
    await expect(patient.whos_here).to_contain_text("Ana")
    await clock.advance(minutes=12)  # she has been in the session a while (the server's clock)
    await patient.send(CRISIS)
    support = patient.page.get_by_role("dialog", name="Support is available right now")
    await expect(support).to_contain_text("988")
    yield "crisis-dialog", patient

    console = await browse(desktop=True, bypass_csp=bypass_csp)
    await console.sign_in(c.mod_lee)
    await console.open_console()
    alerts = console.region("Alerts")
    await expect(alerts).to_contain_text(CRISIS)
    # Crisis first, though the report's alert is older.
    items = alerts.get_by_role("listitem")
    await expect(items).to_have_count(2)
    await expect(items.nth(0)).to_contain_text("Crisis language")
    await expect(items.nth(0)).to_contain_text(CRISIS)
    await expect(items.nth(1)).to_contain_text("Reported message")
    await expect(console.region("Reports")).to_contain_text("drinking")
    await expect(console.region("Audit log").get_by_role("table")).to_be_visible()
    attendance = await show_attendance(console, meeting)
    await expect(attendance.get_by_role("row").filter(has_text="Ana")).to_be_visible()
    # Wide tables sit in a box a keyboard can reach and scroll; on a desktop they fit it.
    for name in ("Attendance table", "Audit log table"):
        box = console.page.get_by_role("region", name=name, exact=True)
        await expect(box).to_have_attribute("tabindex", "0")
        assert await box.evaluate("box => box.scrollWidth <= box.clientWidth"), name
    assert await _page_fits(console)
    yield "moderator-console", console

    # On a phone the tables scroll inside their box, and the page itself does not.
    await console.page.set_viewport_size(PHONE)
    box = console.page.get_by_role("region", name="Attendance table", exact=True)
    await expect(box.get_by_role("row").filter(has_text="Ana")).to_be_visible()
    assert await box.evaluate("box => box.scrollWidth > box.clientWidth")
    assert await _page_fits(console)
    yield "moderator-console-phone", console

    # People: the list and a person's page (with a mute to lift and a reset code), on a desktop
    # and a phone; then the page that code opens, and an address that is no page.
    reply = await api.post(
        f"/api/rooms/{c.commons}/mutes",
        {"user_id": c.pat_ana.id, "minutes": 30, "reason": "Cooling off"},
        c.mod_lee.token,
    )
    assert reply.status == 201, reply.body
    await console.page.set_viewport_size(DESKTOP)
    await console.open_people()
    await expect(console.person_item("Ana")).to_contain_text("Cohort A")
    await expect(console.people_list.get_by_role("listitem")).to_have_count(len(c.people))
    assert await _page_fits(console)
    yield "people", console

    await console.open_person("Ana")
    await expect(console.region("Mutes and bans")).to_contain_text("Muted in Commons")
    reset = console.region("Password reset")
    await reset.get_by_role("button", name="Create password reset code").click()
    link = await reset.get_by_role("textbox", name="Reset link").input_value()
    assert "/#/reset?code=" in link, link
    assert await _page_fits(console)
    yield "person", console

    await console.page.set_viewport_size(PHONE)
    await expect(console.region("Details")).to_be_visible()
    assert await _page_fits(console)
    yield "person-phone", console

    # Back to the list, as it was left.
    await console.page.get_by_role("link", name="All people").click()
    await expect(console.person_item("Ana")).to_be_visible()
    assert await _page_fits(console)
    yield "people-phone", console

    # Invites: a new one for Cohort A with its link and QR code, and the list with a revoked
    # one too, on a desktop and a phone.
    reply = await api.post("/api/invites", {"role": "alumni", "max_uses": 5}, token=c.mod_lee.token)
    assert reply.status == 201, reply.body
    invite_id = reply.body["invite"]["id"]
    reply = await api.call("DELETE", f"/api/invites/{invite_id}", token=c.mod_lee.token)
    assert reply.status == 204, reply.body
    await console.page.set_viewport_size(DESKTOP)
    await console.open_invites()
    await console.create_invite(role="Patient", cohort="Cohort A", uses=3)
    invite_link = await console.shown_invite_link()
    await console.page.get_by_role(
        "checkbox", name="Show revoked, expired and used-up invites too"
    ).check()
    await expect(console.invite_list.get_by_text("Revoked", exact=True)).to_be_visible()
    await expect(console.invite_item(invite_link.rsplit("=", 1)[1])).to_contain_text("0/3 uses")
    assert await _page_fits(console)
    yield "invites", console

    await console.page.set_viewport_size(PHONE)
    await expect(console.region("Invite link")).to_be_visible()
    assert await _page_fits(console)
    yield "invites-phone", console

    stranger = await browse(bypass_csp=bypass_csp)
    await stranger.page.goto(link)
    await expect(stranger.heading("Choose a new password")).to_be_visible()
    yield "password-reset", stranger

    await console.page.goto("/#/admin")
    await expect(console.heading("Page not found")).to_be_visible()
    yield "page-not-found", console


async def _page_fits(tab: Tab) -> bool:
    """Nothing makes the page wider than the window."""
    return bool(
        await tab.page.evaluate(
            "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


async def test_no_screen_has_serious_accessibility_violations(
    browse: TabFactory,
    api: Api,
    peer: PeerFactory,
    community: Community,
    clock: FakeClock,
    axe_script: Path,
) -> None:
    found: dict[str, str] = {}
    visited = []
    async for screen, tab in tour(browse, api, peer, community, clock, bypass_csp=True):
        visited.append(screen)
        violations = await serious_axe_violations(tab.page)
        if violations:
            found[screen] = describe_violations(screen, violations)
    assert len(visited) == 16, visited
    assert not found, "axe-core found serious or critical problems:\n" + "\n".join(found.values())


async def test_every_screen_is_photographed(
    browse: TabFactory, api: Api, peer: PeerFactory, community: Community, clock: FakeClock
) -> None:
    taken: list[Path] = []
    async for screen, tab in tour(browse, api, peer, community, clock):
        await tab.page.evaluate("() => { document.activeElement?.blur(); scrollTo(0, 0); }")
        taken.append(
            await screenshot(tab.page, screen, DOCS.get(screen), full_page=screen in FULL_PAGE)
        )
    assert [path.stem for path in taken] == [
        "sign-in",
        "register",
        "room-list",
        "room-view",
        "meetings",
        "crisis-dialog",
        "moderator-console",
        "moderator-console-phone",
        "people",
        "person",
        "person-phone",
        "people-phone",
        "invites",
        "invites-phone",
        "password-reset",
        "page-not-found",
    ]


async def test_every_screen_in_dark_mode_is_accessible_and_photographed(
    browse: TabFactory,
    api: Api,
    peer: PeerFactory,
    community: Community,
    clock: FakeClock,
    axe_script: Path,
) -> None:
    found: dict[str, str] = {}
    taken: list[str] = []
    async for screen, tab in tour(browse, api, peer, community, clock, bypass_csp=True):
        await tab.page.emulate_media(color_scheme="dark")
        violations = await serious_axe_violations(tab.page)
        if violations:
            found[screen] = describe_violations(f"{screen} (dark)", violations)
        await tab.page.evaluate("() => { document.activeElement?.blur(); scrollTo(0, 0); }")
        path = await screenshot(tab.page, f"{screen}-dark", full_page=screen in FULL_PAGE)
        taken.append(path.stem)
    assert len(taken) == 16, taken
    assert not found, "axe-core found serious or critical problems in dark mode:\n" + "\n".join(
        found.values()
    )
