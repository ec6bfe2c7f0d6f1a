"""Search in a real browser (web/src/views/search.ts): a patient on a phone searches from the
main navigation, finds what was said in her group and not what was said in another cohort's,
sees the words found marked in text that stays text, and taps a result to open the room at
that message, older than the page the room opens with; Back returns to the results."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.browser.conftest import PeerFactory, TabFactory
from tests.browser.pages import describe_violations, screenshot, serious_axe_violations
from tests.support import Community, joined, send

pytestmark = pytest.mark.asyncio(loop_scope="session")

LIGHTHOUSE = "Walked out to the lighthouse on Sunday and finally slept well after."
ELSEWHERE = "Cohort B only: the lighthouse tour is on Friday."
MARKUP = '<img src=x onerror="document.title=1"> lighthouse <b>bold</b>'


async def test_a_patient_finds_her_groups_words_and_opens_the_room_at_one(
    browse: TabFactory, peer: PeerFactory, community: Community
) -> None:
    c = community
    avi, bo = await peer(c.pat_avi.token), await peer(c.pat_bo.token)
    await joined(avi, c.group_a)
    await send(avi, c.group_a, LIGHTHOUSE)
    for n in range(60):  # more than the page a room opens with (50)
        await send(avi, c.group_a, f"Check-in note {n:02d}")
    await send(avi, c.commons, MARKUP)
    await send(bo, c.group_b, ELSEWHERE)

    # axe is put into the page as a script of its own, which the page's policy would refuse.
    ana = await browse(bypass_csp=True)
    await ana.sign_in(c.pat_ana)
    await ana.nav.get_by_role("link", name="Search", exact=True).click()
    await expect(ana.heading("Search messages")).to_be_visible()
    form = ana.page.get_by_role("search", name="Search messages")
    await form.get_by_role("searchbox", name="Words to find").fill("Lighth")
    await form.get_by_role("searchbox", name="Words to find").press("Enter")

    results = ana.page.get_by_role("list", name="Search results")
    await expect(ana.page.get_by_role("status", name="Search status")).to_have_text(
        "2 messages found."
    )
    links = results.get_by_role("link")
    await expect(links).to_have_count(2)
    # Newest first; Cohort B's words are not among them. Markup in a message stays text.
    await expect(links.nth(0)).to_contain_text(MARKUP)
    await expect(links.nth(0)).to_contain_text("Commons · Avi")
    await expect(results.locator("img, b")).to_have_count(0)
    await expect(results).not_to_contain_text("Cohort B")
    found = links.nth(1)
    await expect(found).to_contain_text("Group A · Avi")
    await expect(found.locator("mark")).to_have_text("lighthouse")
    assert await ana.page.title() != "1"
    violations = await serious_axe_violations(ana.page)
    assert not violations, describe_violations("search results", violations)
    await screenshot(ana.page, "search-results")

    # The result opens the room at the message, older than the room's first page.
    await found.click()
    await ana.in_room("Group A")
    message = ana.message(LIGHTHOUSE)
    await expect(message).to_be_in_viewport()
    await expect(message).to_be_focused()
    await expect(message).to_have_class(re.compile(r"\bhighlighted\b"))

    # Back: the search, with its words, answered again.
    await ana.page.go_back()
    await expect(ana.heading("Search messages")).to_be_visible()
    await expect(form.get_by_role("searchbox", name="Words to find")).to_have_value("Lighth")
    await expect(links).to_have_count(2)

    # Only one room, and words no one said.
    await form.get_by_role("combobox", name="In").select_option(label="Group A")
    await form.get_by_role("button", name="Search", exact=True).click()
    await expect(links).to_have_count(1)
    # The address keeps the room: after a reload it is still chosen, from before the room
    # list has come to after.
    await ana.page.reload()
    await expect(form.get_by_role("combobox", name="In")).to_have_value(str(c.group_a))
    await expect(links).to_have_count(1)
    await form.get_by_role("searchbox", name="Words to find").fill("zeppelin")
    await form.get_by_role("button", name="Search", exact=True).click()
    await expect(ana.page.get_by_role("status", name="Search status")).to_have_text(
        "No messages found."
    )
    await expect(results).to_be_hidden()
