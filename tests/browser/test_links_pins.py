"""Pinned messages and links in a real browser (docs/api/events/pins.md, web/src/room/pins.ts
and links.ts): a moderator pins from a message's actions; a patient on a phone sees the pin
live in the room's header, on one line until opened, and goes to a pinned message older than
the page; addresses in messages are links that open apart from the app, and nothing else is
made a link."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Route, expect

from tests.browser.conftest import PeerFactory, TabFactory
from tests.browser.pages import (
    describe_violations,
    message_action,
    message_menu,
    serious_axe_violations,
)
from tests.support import Community, joined, ok, send

pytestmark = pytest.mark.asyncio(loop_scope="session")

AGREEMENT = "Our agreements: what is said here stays here, and we listen without fixing."
TOPIC = "Tonight's topic: getting through the weekend."


async def test_a_moderator_pins_and_a_patient_sees_it_live_and_goes_to_it(
    browse: TabFactory, peer: PeerFactory, community: Community
) -> None:
    c = community
    avi = await peer(c.pat_avi.token)
    await joined(avi, c.group_a)
    agreement = await send(avi, c.group_a, AGREEMENT)
    for n in range(60):  # more than the page a room opens with (50)
        await send(avi, c.group_a, f"Check-in note {n:02d}")
    topic = await send(avi, c.group_a, TOPIC)

    # axe is put into the page as a script of its own, which the page's policy would refuse.
    ana = await browse(bypass_csp=True)
    await ana.sign_in(c.pat_ana)
    await ana.open_room(c.group_a, "Group A")
    lee = await browse(desktop=True)
    await lee.sign_in(c.mod_lee)
    await lee.open_room(c.group_a, "Group A")
    pins = ana.page.get_by_role("region", name="Pinned messages")
    await expect(pins).to_be_hidden()
    # Patients have no Pin in a message's menu (and the server would refuse them).
    menu = await message_menu(ana.message(TOPIC))
    await expect(menu.get_by_role("menuitem", name="Pin")).to_have_count(0)
    await ana.page.keyboard.press("Escape")

    # Lee pins from the message's menu; Ana sees it at once, on one line. Focus stays on the
    # message's More button, and its menu now offers Unpin.
    await message_action(lee.message(TOPIC), "Pin")
    await expect(lee.message(TOPIC)).to_contain_text("Pinned")
    more = lee.message(TOPIC).get_by_role("button", name="More", exact=True)
    await expect(more).to_be_focused()
    await more.press("Enter")
    await expect(lee.message(TOPIC).get_by_role("menuitem", name="Unpin")).to_be_visible()
    await lee.page.keyboard.press("Escape")
    latest = pins.get_by_role("button", name=re.compile("^Go to the latest pinned message"))
    await expect(latest).to_have_text(f"Go to the latest pinned message: Avi: {TOPIC}")
    await expect(ana.message(TOPIC)).to_contain_text("Pinned")

    # The agreement, older than Ana's page, is pinned too (from another of Lee's devices).
    lee_socket = await peer(c.mod_lee.token)
    ok(await lee_socket.call("pin", {"room_id": c.group_a, "message_id": agreement["id"]}))
    await expect(latest).to_contain_text(f"Avi: {AGREEMENT[:40]}")
    await expect(ana.log.get_by_text(AGREEMENT, exact=True)).to_have_count(0)
    # On a phone the header keeps to one line until the list is asked for.
    box = await latest.bounding_box()
    assert box is not None and box["height"] < 48, box
    toggle = pins.get_by_role("button", name="All pinned (2)")
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await expect(pins.get_by_role("list")).to_be_hidden()
    await toggle.click()
    listed = pins.get_by_role("listitem")
    await expect(listed).to_have_count(2)
    await expect(listed.first).to_contain_text(AGREEMENT)
    await expect(listed.nth(1)).to_contain_text(TOPIC)
    await expect(pins.get_by_role("button", name=re.compile("^Unpin"))).to_have_count(0)
    violations = await serious_axe_violations(ana.page)
    assert not violations, describe_violations("the room with its pins open", violations)

    # Going to it loads older pages until it is there, as a reply's quote does.
    await latest.click()
    original = ana.message(AGREEMENT)
    await expect(original).to_be_in_viewport()
    await expect(original).to_be_focused()
    await expect(original).to_have_class(re.compile(r"\bhighlighted\b"))

    # Lee unpins from his header; Ana's list follows.
    lee_pins = lee.page.get_by_role("region", name="Pinned messages")
    await lee_pins.get_by_role("button", name="All pinned (2)").click()
    await lee_pins.get_by_role("button", name="Unpin Avi's message").first.click()
    await expect(listed).to_have_count(1)
    await expect(listed.first).to_contain_text(TOPIC)
    await expect(ana.message(AGREEMENT)).not_to_contain_text("Pinned")
    # A pinned message its author deletes leaves the header.
    ok(await avi.call("delete", {"message_id": topic["id"]}))
    await expect(pins).to_be_hidden()
    await expect(lee_pins).to_be_hidden()


GUIDE = "https://example.org/guide"
LONG = "https://example.org/" + "a-very-long-path/" * 20


async def test_addresses_are_links_that_open_apart_and_nothing_else_is(
    browse: TabFactory, peer: PeerFactory, community: Community
) -> None:
    c = community
    avi = await peer(c.pat_avi.token)
    await send(
        avi,
        c.group_a,
        f"The guide is at {GUIDE}. Not javascript:alert(1), nor <script>alert(2)</script>,"
        f' nor https://x.example/"onmouseover=alert(3) nor https://bücher.example/straße',
    )
    await send(avi, c.group_a, f"Long one: {LONG}")

    ana = await browse()
    await ana.sign_in(c.pat_ana)
    await ana.open_room(c.group_a, "Group A")
    said = ana.message("The guide is at")
    await expect(said).to_contain_text("javascript:alert(1)")
    await expect(said).to_contain_text("<script>alert(2)</script>")
    links = said.get_by_role("link")
    await expect(links).to_have_text([GUIDE, "https://x.example/", "https://bücher.example/straße"])
    guide = said.get_by_role("link", name=GUIDE, exact=True)
    await expect(guide).to_have_attribute("href", GUIDE)
    await expect(guide).to_have_attribute("rel", "noopener noreferrer")
    await expect(guide).to_have_attribute("target", "_blank")
    await expect(links.nth(1)).to_have_attribute("href", "https://x.example/")
    await expect(links.nth(1)).not_to_have_attribute("onmouseover", re.compile(".*"))
    await expect(links.nth(2)).to_have_attribute(
        "href", "https://xn--bcher-kva.example/stra%C3%9Fe"
    )
    # No script ran from the text.
    assert ana.dialogs == []

    # A long address wraps within the log instead of widening it.
    long = ana.message("Long one").get_by_role("link")
    await expect(long).to_have_text(LONG)
    assert await ana.log.evaluate("log => log.scrollWidth <= log.clientWidth")

    # The link opens in a tab of its own that cannot reach back, and is told nothing of us.
    async def guide_page(route: Route) -> None:
        await route.fulfill(body="<title>Guide</title><p>The guide</p>", content_type="text/html")

    await ana.context.route(f"{GUIDE}*", guide_page)
    async with ana.page.expect_popup() as opened:
        await guide.click()
    popup = await opened.value
    await popup.wait_for_load_state()
    assert popup.url == GUIDE
    assert await popup.evaluate("() => window.opener === null")
    assert await popup.evaluate("() => document.referrer") == ""
    await expect(ana.log).to_be_visible()
