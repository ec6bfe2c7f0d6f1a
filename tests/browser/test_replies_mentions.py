"""Replies and mentions in a real browser (docs/web-client.md): a reply from a message's
actions, its quote shown to the one replied to, a quote that leads back to an original older
than the page loaded, and a mention picked from the suggestions with the keyboard, which the
person mentioned sees highlighted."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.browser.conftest import PeerFactory, TabFactory
from tests.browser.pages import history, message_action
from tests.support import Api, Community, joined, ok, send

pytestmark = pytest.mark.asyncio(loop_scope="session")

FIRST = "Thirty days today, and I wanted to say it here first."
WELCOME = "Welcome, everyone. How is the week going?"


async def test_replies_lead_back_and_mentions_are_picked_with_the_keyboard(
    browse: TabFactory, peer: PeerFactory, api: Api, community: Community
) -> None:
    c = community
    avi = await peer(c.pat_avi.token)
    await joined(avi, c.group_a)
    first = await send(avi, c.group_a, FIRST)
    for n in range(60):  # more than the page a room opens with (50)
        await send(avi, c.group_a, f"Check-in note {n:02d}")
    ok(
        await avi.call(
            "send",
            {
                "room_id": c.group_a,
                "body": "Looking back at that first day",
                "client_id": "look-back",
                "reply_to": first["id"],
            },
        )
    )

    ana = await browse()
    await ana.sign_in(c.pat_ana)
    await ana.open_room(c.group_a, "Group A")
    lee = await browse(desktop=True)
    await lee.sign_in(c.mod_lee)
    await lee.open_room(c.group_a, "Group A")

    # The quote leads back to an original older than the page: pages load until it is there.
    looking_back = ana.message("Looking back at that first day")
    await expect(ana.log.get_by_text(FIRST, exact=True)).to_have_count(0)
    quote = looking_back.get_by_role("button", name=f"In reply to Avi: {FIRST}", exact=True)
    await quote.click()
    original = ana.articles.filter(has_text=FIRST).first
    await expect(original).to_be_in_viewport()
    await expect(original).to_be_focused()
    await expect(original).to_have_class(re.compile(r"\bhighlighted\b"))

    # A reply from the message's actions; the composer says to what, and can let it go.
    await lee.send(WELCOME)
    welcome = ana.message(WELCOME)
    await message_action(welcome, "Reply")
    await expect(ana.page.get_by_text(f"Replying to Lee: {WELCOME}")).to_be_visible()
    await ana.page.get_by_role("button", name="Cancel reply").click()
    await expect(ana.page.get_by_text(f"Replying to Lee: {WELCOME}")).to_be_hidden()
    await message_action(welcome, "Reply")
    await expect(ana.composer).to_be_focused()
    await ana.composer.press_sequentially("Better than last week, thanks")
    await ana.composer.press("Enter")
    await expect(ana.page.get_by_text(f"Replying to Lee: {WELCOME}")).to_be_hidden()

    # Lee sees the quote of his message, marked as a reply to him.
    answer = lee.message("Better than last week, thanks")
    in_reply = f"In reply to Lee: {WELCOME}"
    await expect(answer.get_by_role("button", name=in_reply, exact=True)).to_be_visible()
    await expect(answer).to_contain_text("Replies to you")
    await expect(ana.message("Better than last week").get_by_text("Replies to you")).to_have_count(
        0
    )

    # A mention picked from the suggestions with the keyboard alone.
    await lee.composer.press_sequentially("@A")
    suggestions = lee.page.get_by_role("listbox", name="People to mention")
    await expect(suggestions).to_be_visible()
    await expect(suggestions.get_by_role("option")).to_have_text(["Ana", "Avi"])
    await lee.composer.press("ArrowDown")
    await expect(suggestions.get_by_role("option", name="Avi")).to_have_attribute(
        "aria-selected", "true"
    )
    await lee.composer.press("ArrowUp")
    picked = suggestions.get_by_role("option", name="Ana")
    await expect(picked).to_have_attribute("aria-selected", "true")
    picked_id = await picked.get_attribute("id")
    await expect(lee.composer).to_have_attribute("aria-activedescendant", picked_id or "")
    await lee.composer.press("Enter")
    await expect(suggestions).to_be_hidden()
    await expect(lee.composer).to_have_value("@Ana ")
    await lee.composer.press_sequentially("glad to hear it")
    await lee.composer.press("Enter")

    # Ana sees it highlighted for her; the server stored the mention.
    mention = ana.message("glad to hear it")
    await expect(mention).to_contain_text("Mentions you")
    await expect(mention).to_have_class(re.compile(r"\bfor-me\b"))
    await expect(mention.locator(".mention-me")).to_have_text("@Ana")
    stored = (await history(api, c.mod_lee, c.group_a))[-1]
    assert stored["body"] == "@Ana glad to hear it"
    assert [user["display_name"] for user in stored["mentions"]] == ["Ana"]
    replied = (await history(api, c.mod_lee, c.group_a))[-2]
    assert replied["reply_to"]["author"]["display_name"] == "Lee"
