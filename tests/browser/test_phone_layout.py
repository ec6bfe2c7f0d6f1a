"""The room on a phone, as a patient holds it (issue 23): ten short messages on a 390×844
screen and four with the keyboard up, one scroll area at 320×568 with the message box always
in view, text that follows the browser's size, dark mode (from the system and from the switch,
accessible in both themes), what can be done to a message behind one More menu that a keyboard
works, delete with a confirmation and a few seconds to undo, a skip link to the box, and the
quote of a reply still on its way."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, ViewportSize, expect

from tests.browser.conftest import LinkFactory, PeerFactory, TabFactory
from tests.browser.pages import (
    DELETE_DIALOG,
    RECONNECT_MS,
    Tab,
    ana_and_lee_in_group_a,
    delete_message,
    describe_violations,
    go_offline,
    go_online,
    history,
    message_action,
    message_menu,
    serious_axe_violations,
)
from tests.support import Api, Community, joined, send

pytestmark = pytest.mark.asyncio(loop_scope="session")

TOPIC = "Weekend plans, and what helps on the hard evenings"
# A person's to-and-fro, one line each: what a phone shows most of.
SHORT = [
    "Hi all",
    "Hey Avi 👋",
    "Rough day tbh",
    "Sorry to hear",
    "Want to talk?",
    "Maybe later",
    "Ok, I'm here",
    "Thanks",
    "Walked the dog",
    "That helps me too",
    "Tea and bed soon",
    "Same",
    "Night all",
    "Good night 🌙",
]
KEYBOARD_UP: ViewportSize = {"width": 390, "height": 450}
SMALL_PHONE: ViewportSize = {"width": 320, "height": 568}

# Messages whose whole box is inside the log's visible part (and the window).
FULLY_SHOWN = """() => {
    const log = document.querySelector('[role=log]');
    const box = log.getBoundingClientRect();
    const bottom = Math.min(box.bottom, window.innerHeight);
    return [...log.querySelectorAll('article')].filter((a) => {
        const r = a.getBoundingClientRect();
        return r.top >= box.top - 0.5 && r.bottom <= bottom + 0.5;
    }).length;
}"""

# Every element that scrolls up and down, by a short description.
VERTICAL_SCROLLERS = """() => [...document.querySelectorAll('*')]
    .filter((el) => {
        const overflow = getComputedStyle(el).overflowY;
        const scrolls = overflow === 'auto' || overflow === 'scroll';
        return scrolls && el.scrollHeight > el.clientHeight + 1;
    })
    .map((el) => el.getAttribute('role') || el.className || el.tagName)"""


async def conversation(api: Api, peer: PeerFactory, c: Community, lines: list[str]) -> None:
    """Avi and Lee talk in Group A (which has a topic, as a real group's does)."""
    reply = await api.patch(f"/api/rooms/{c.group_a}", {"topic": TOPIC}, c.mod_lee.token)
    assert reply.status == 200, reply.body
    avi = await peer(c.pat_avi.token)
    lee = await peer(c.mod_lee.token)
    for person in (avi, lee):
        await joined(person, c.group_a)
    for n, line in enumerate(lines):
        await send(avi if n % 2 == 0 else lee, c.group_a, line)


async def ana_reads_group_a(browse: TabFactory, c: Community, **options: Any) -> Tab:
    ana = await browse(**options)
    await ana.sign_in(c.pat_ana)
    await ana.open_room(c.group_a, "Group A")
    return ana


async def box_in_view(page: Page) -> bool:
    """The message box is wholly inside the window."""
    return bool(
        await page.get_by_role("textbox", name="Message", exact=True).evaluate(
            """(box) => {
                const r = box.getBoundingClientRect();
                return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0;
            }"""
        )
    )


async def page_fits(page: Page) -> bool:
    return bool(
        await page.evaluate(
            "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


async def test_ten_short_messages_fit_a_phone_and_four_with_the_keyboard_up(
    browse: TabFactory, api: Api, peer: PeerFactory, community: Community
) -> None:
    c = community
    await conversation(api, peer, c, SHORT)
    ana = await ana_reads_group_a(browse, c)
    newest = ana.message(SHORT[-1])
    await expect(newest).to_be_in_viewport(ratio=1)
    shown = await ana.page.evaluate(FULLY_SHOWN)
    assert shown >= 10, f"{shown} messages fit 390×844"
    assert await box_in_view(ana.page)

    # The keyboard takes the bottom half: the newest messages stay in view above the box.
    await ana.composer.focus()
    await ana.page.set_viewport_size(KEYBOARD_UP)
    await expect(newest).to_be_in_viewport(ratio=1)
    shown = await ana.page.evaluate(FULLY_SHOWN)
    assert shown >= 4, f"{shown} messages fit with the keyboard up"
    assert await box_in_view(ana.page)
    await expect(ana.composer).to_be_focused()


async def test_on_a_small_phone_only_the_log_scrolls_and_the_box_stays_in_view(
    browse: TabFactory, api: Api, peer: PeerFactory, community: Community
) -> None:
    c = community
    await conversation(api, peer, c, SHORT * 2)
    ana = await browse()
    await ana.page.set_viewport_size(SMALL_PHONE)
    await ana.sign_in(c.pat_ana)
    await ana.open_room(c.group_a, "Group A")
    await expect(ana.message(SHORT[-1]).last).to_be_in_viewport(ratio=1)
    assert await ana.page.evaluate(
        "() => document.documentElement.scrollHeight === document.documentElement.clientHeight"
    ), "the page itself scrolls"
    assert await ana.page.evaluate(VERTICAL_SCROLLERS) == ["log"]
    assert await box_in_view(ana.page)
    assert await page_fits(ana.page)
    # The header keeps to a few lines: most of the screen is the conversation.
    log_height = await ana.log.evaluate("(log) => log.getBoundingClientRect().height")
    assert log_height >= SMALL_PHONE["height"] / 2, log_height


async def test_text_follows_the_browsers_font_size(
    browse: TabFactory, api: Api, peer: PeerFactory, community: Community
) -> None:
    c = community
    await conversation(api, peer, c, SHORT)
    ana = await ana_reads_group_a(browse, c)
    body = ana.message(SHORT[-1]).locator(".body")
    assert await body.evaluate("(p) => getComputedStyle(p).fontSize") == "16px"

    # The browser's text size set to 32 px (200 %), as a person with low vision would.
    cdp = await ana.context.new_cdp_session(ana.page)
    await cdp.send("Page.setFontSizes", {"fontSizes": {"standard": 32}})
    await ana.page.reload()
    await ana.in_room("Group A")
    await expect(body).to_have_css("font-size", "32px")
    assert await page_fits(ana.page), "the page is wider than the phone at 200 %"
    await expect(ana.message(SHORT[-1])).to_be_in_viewport(ratio=1)
    assert await box_in_view(ana.page)
    overflowing = await ana.page.evaluate(
        """() => [...document.querySelectorAll('.room-view *')]
            .filter((el) => el.scrollWidth > el.clientWidth + 1
                && getComputedStyle(el).overflowX === 'visible')
            .map((el) => el.className || el.tagName)"""
    )
    assert overflowing == [], overflowing


async def log_settled(page: Page) -> None:
    """Until the log keeps its height for a moment (the header and the box settle after the
    room opens: the people here, the box's size)."""
    last = None
    for _ in range(50):
        height = await page.get_by_role("log", name="Messages").evaluate("(l) => l.clientHeight")
        if height == last:
            return
        last = height
        await page.wait_for_timeout(100)


async def test_the_newest_message_stays_in_view_when_messages_grow_after_drawing(
    browse: TabFactory, api: Api, peer: PeerFactory, community: Community
) -> None:
    """A font that arrives late, or a larger text size, makes drawn messages taller while the
    log keeps its size: a person reading the newest still sees it whole."""
    c = community
    await conversation(api, peer, c, SHORT)
    ana = await ana_reads_group_a(browse, c)
    newest = ana.message(SHORT[-1])
    await expect(newest).to_be_in_viewport(ratio=1)
    await log_settled(ana.page)

    # Grown in one task, so the log's own size cannot change in between.
    await ana.page.evaluate(
        """() => {
            const log = document.querySelector('[role=log]');
            const [previous, last] = [...log.querySelectorAll('article')].slice(-2);
            window.logHeightBefore = log.clientHeight;
            previous.style.paddingBottom = '120px';
            last.querySelector('.body').style.fontSize = '2rem';
            window.logHeightAfter = log.clientHeight;
        }"""
    )
    assert await ana.page.evaluate("() => window.logHeightBefore === window.logHeightAfter")
    await expect(newest).to_be_in_viewport(ratio=1)

    # Someone who scrolled up to read older messages is not moved.
    await ana.log.evaluate("(log) => { log.scrollTop = 0; }")
    await expect(ana.message(SHORT[0])).to_be_in_viewport()
    await ana.message(SHORT[-2]).evaluate("(a) => { a.style.paddingBottom = '240px'; }")
    await ana.page.wait_for_timeout(200)
    assert await ana.log.evaluate("(log) => log.scrollTop") == 0


async def background(page: Page) -> str:
    return str(
        await page.evaluate("() => getComputedStyle(document.documentElement).backgroundColor")
    )


def is_dark(colour: str) -> bool:
    red, green, blue = (int(n) for n in re.findall(r"\d+", colour)[:3])
    return red + green + blue < 3 * 64


async def assert_accessible(page: Page, screen: str) -> None:
    found = await serious_axe_violations(page)
    assert not found, describe_violations(screen, found)


async def test_dark_mode_from_the_system_and_the_switch_is_accessible(
    browse: TabFactory, api: Api, peer: PeerFactory, community: Community, axe_script: Path
) -> None:
    c = community
    await conversation(api, peer, c, SHORT[:6])
    ana = await browse(bypass_csp=True)
    await ana.page.emulate_media(color_scheme="dark")
    await ana.sign_in(c.pat_ana)
    await ana.open_room(c.group_a, "Group A")
    await ana.send("Calling my sister tonight")
    await expect(ana.message("Calling my sister")).not_to_contain_text("Sending")
    assert is_dark(await background(ana.page))
    await assert_accessible(ana.page, "room view, dark (system)")
    await message_menu(ana.message(SHORT[0]))
    await assert_accessible(ana.page, "a message's menu, dark")
    await ana.page.keyboard.press("Escape")

    # The switch: Light on a dark system, kept across a reload and there from the first frame.
    switch = ana.page.get_by_role("button", name="Theme", exact=True)
    await switch.click()
    await ana.page.get_by_role("menuitemradio", name="Light").click()
    await expect(switch).to_be_focused()
    assert not is_dark(await background(ana.page))
    await assert_accessible(ana.page, "room view, light (chosen)")
    await ana.page.add_init_script(
        """requestAnimationFrame(() => {
            window.firstFrameBackground = getComputedStyle(document.documentElement)
                .backgroundColor;
        });"""
    )
    await ana.page.reload()
    await ana.in_room("Group A")
    first_frame = await ana.page.evaluate("() => window.firstFrameBackground")
    assert first_frame and not is_dark(first_frame), first_frame
    await switch.click()
    checked = ana.page.get_by_role("menuitemradio", name="Light")
    await expect(checked).to_have_attribute("aria-checked", "true")
    # System again: dark, as the system is.
    await ana.page.get_by_role("menuitemradio", name="System").click()
    assert is_dark(await background(ana.page))

    # Dark chosen on a light system, on the moderator console.
    console = await browse(desktop=True, bypass_csp=True)
    await console.page.emulate_media(color_scheme="light")
    await console.sign_in(c.mod_lee)
    await console.page.get_by_role("button", name="Theme", exact=True).click()
    await console.page.get_by_role("menuitemradio", name="Dark").click()
    assert is_dark(await background(console.page))
    await console.open_console()
    await expect(console.region("Audit log").get_by_role("table")).to_be_visible()
    await assert_accessible(console.page, "moderator console, dark (chosen)")
    await console.page.get_by_role("button", name="Theme", exact=True).click()
    await console.page.get_by_role("menuitemradio", name="Light").click()
    await assert_accessible(console.page, "moderator console, light (chosen)")


async def test_the_more_menu_works_by_keyboard_and_by_a_long_press(
    browse: TabFactory, api: Api, peer: PeerFactory, community: Community
) -> None:
    c = community
    await conversation(api, peer, c, SHORT[:4])
    ana = await ana_reads_group_a(browse, c)
    message = ana.message(SHORT[3])
    more = message.get_by_role("button", name="More", exact=True)
    await expect(more).to_have_attribute("aria-haspopup", "menu")
    await expect(more).to_have_attribute("aria-expanded", "false")
    # One control per message, not a row of them.
    await expect(message.get_by_role("button")).to_have_count(1)

    await more.focus()
    await ana.page.keyboard.press("Enter")
    menu = message.get_by_role("menu", name="Lee's message")
    items = menu.get_by_role("menuitem")
    # Another's message, for a patient: no Edit, no Delete.
    await expect(items).to_have_text(["React", "Reply", "Report"])
    await expect(more).to_have_attribute("aria-expanded", "true")
    await expect(items.first).to_be_focused()
    await ana.page.keyboard.press("ArrowDown")
    await expect(menu.get_by_role("menuitem", name="Reply")).to_be_focused()
    await ana.page.keyboard.press("End")
    await expect(menu.get_by_role("menuitem", name="Report")).to_be_focused()
    await ana.page.keyboard.press("ArrowDown")
    await expect(items.first).to_be_focused()
    await ana.page.keyboard.press("Escape")
    await expect(menu).to_have_count(0)
    await expect(more).to_be_focused()
    await expect(more).to_have_attribute("aria-expanded", "false")

    # Arrow down on the button opens it too; Enter on Reply starts a reply in the box.
    await ana.page.keyboard.press("ArrowDown")
    await ana.page.keyboard.press("ArrowDown")
    await ana.page.keyboard.press("Enter")
    await expect(ana.composer).to_be_focused()
    await expect(ana.page.get_by_text(f"Replying to Lee: {SHORT[3]}")).to_be_visible()

    # React opens the choices; Escape gives focus back to More.
    await message_action(message, "React")
    choices = message.get_by_role("group", name="Reactions to choose from")
    await expect(choices.get_by_role("button").first).to_be_focused()
    await ana.page.keyboard.press("Escape")
    await expect(choices).to_be_hidden()
    await expect(more).to_be_focused()

    # A long press (the context menu a touch screen sends) opens the same menu; a press
    # elsewhere closes it.
    await message.locator(".body").click(button="right")
    await expect(message.get_by_role("menu")).to_be_visible()
    await ana.heading("Group A").click()
    await expect(message.get_by_role("menu")).to_have_count(0)


async def test_delete_asks_then_can_be_undone_and_otherwise_reaches_everyone(
    browse: TabFactory, api: Api, community: Community
) -> None:
    c = community
    ana, lee = await ana_and_lee_in_group_a(browse, c)
    for text in ("I said too much earlier", "Second thoughts", "One more", "Staff may remove"):
        await ana.send(text)
        await expect(lee.message(text)).to_have_count(1)

    # Cancel in the confirmation: nothing happens.
    await message_action(ana.message("Second thoughts"), "Delete")
    dialog = ana.page.get_by_role("dialog", name=DELETE_DIALOG)
    await expect(dialog).to_contain_text("Your message will be removed for everyone")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(ana.message("Second thoughts")).to_have_count(1)

    # Confirmed, then undone: "Deleted · Undo", focus on Undo; the message comes back and the
    # server never hears of it.
    await delete_message(ana, ana.message("I said too much earlier"))
    undo = ana.log.get_by_role("button", name="Undo")
    await expect(undo).to_be_focused()
    await expect(ana.log).to_contain_text("Deleted · Undo")
    await undo.click()
    kept = ana.message("I said too much earlier")
    await expect(kept).to_have_count(1)
    await expect(kept.get_by_role("button", name="More", exact=True)).to_be_focused()

    # Not undone: gone for everyone after the few seconds.
    await delete_message(ana, ana.message("Second thoughts"))
    await expect(lee.message("Second thoughts")).to_have_count(0)
    await expect(ana.log).not_to_contain_text("Deleted · Undo")
    await expect(ana.composer).to_be_focused()

    # Leaving the room before the time is up sends it at once.
    await delete_message(ana, ana.message("One more"))
    await ana.nav.get_by_role("link", name="Rooms").click()
    await expect(lee.message("One more")).to_have_count(0, timeout=3_000)

    # Staff deleting someone else's message confirm it too.
    await message_action(lee.message("Staff may remove"), "Delete")
    asked = lee.page.get_by_role("dialog", name=DELETE_DIALOG)
    await expect(asked).to_contain_text("Ana's message will be removed for everyone")
    await asked.get_by_role("button", name="Delete", exact=True).click()
    await expect(lee.log).to_contain_text("Deleted · Undo")
    await ana.page.go_back()
    await ana.in_room("Group A")
    await expect(ana.message("Staff may remove")).to_have_count(0)

    stored = [(m["body"], m["deleted"]) for m in await history(api, c.mod_lee, c.group_a)]
    assert stored == [
        ("I said too much earlier", False),
        ("", True),
        ("", True),
        ("", True),
    ], stored


async def test_the_skip_link_goes_to_the_box_and_the_heading_says_who_is_here(
    browse: TabFactory, api: Api, peer: PeerFactory, community: Community
) -> None:
    c = community
    await conversation(api, peer, c, SHORT)
    ana = await ana_reads_group_a(browse, c)
    skip = ana.page.get_by_role("link", name="Skip to message box")
    first = await ana.page.evaluate(
        """() => document.querySelector('.room-view')
            .querySelector('a[href], button, textarea, input, select, [tabindex="0"]')
            .textContent"""
    )
    assert first == "Skip to message box"
    title = ana.page.get_by_role("heading", name="Group A", exact=True, level=1)
    # Avi and Lee (their sockets) and Ana.
    await expect(title).to_have_accessible_description("3 online")

    await title.focus()
    await ana.page.keyboard.press("Shift+Tab")
    await expect(skip).to_be_focused()
    await expect(skip).to_be_in_viewport()
    await ana.page.keyboard.press("Enter")
    await expect(ana.composer).to_be_focused()
    assert ana.page.url.endswith(f"#/rooms/{c.group_a}"), ana.page.url

    # The room list says a room's kind and who is online as two things ("Group room, 3
    # online"), not one word ("Group room3 online").
    await ana.nav.get_by_role("link", name="Rooms").click()
    meta = ana.room_item("Group A").locator(".room-meta")
    snapshot = await meta.aria_snapshot()
    assert re.search(r"Group room ?, \d+ online", snapshot), snapshot


async def test_a_reply_waiting_in_the_outbox_shows_what_it_replies_to(
    browse: TabFactory, network_link: LinkFactory, api: Api, community: Community
) -> None:
    c = community
    link = await network_link()
    ana, lee = await ana_and_lee_in_group_a(browse, c, via=link.url)
    await lee.send("How was the weekend?")
    question = ana.message("How was the weekend?")
    await expect(question).to_have_count(1)

    await go_offline(ana, link)
    await expect(ana.connection).to_have_text("Offline")
    await message_action(question, "Reply")
    await ana.composer.fill("Better than the last one")
    await ana.composer.press("Enter")
    waiting = ana.message("Better than the last one")
    await expect(waiting).to_contain_text("Queued")
    quote = "In reply to Lee: How was the weekend?"
    await expect(waiting.get_by_role("button", name=quote, exact=True)).to_be_visible()

    await go_online(ana, link)
    await expect(waiting).not_to_contain_text("Queued", timeout=RECONNECT_MS)
    await expect(waiting.get_by_role("button", name=quote, exact=True)).to_be_visible()
    answer = lee.message("Better than the last one")
    await expect(answer.get_by_role("button", name=quote, exact=True)).to_be_visible()
