"""Chat in a real browser: registering with an invite, signing in, talking both ways between a
patient's phone and a moderator's desktop, scrolling back through history, editing, deleting
and reacting (docs/web-client.md)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.browser.conftest import PeerFactory, TabFactory
from tests.browser.pages import (
    RECONNECT_MS,
    WEB_DIST,
    Tab,
    delete_message,
    history,
    message_action,
    message_menu,
)
from tests.support import Api, Community, Person, eventually, invite_code, joined, send, sign_in

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_register_with_an_invite_sign_in_and_talk_both_ways(
    browse: TabFactory, api: Api, community: Community
) -> None:
    c = community
    code = await invite_code(api, c.mod_lee, cohort_id=c.cohort_a)
    patient = await browse()
    page = patient.page

    # A visitor lands on sign-in and finds registration from there.
    await page.goto("/")
    await expect(patient.heading("Sign in")).to_be_visible()
    await page.get_by_role("link", name="Register with an invite code").click()
    await expect(patient.heading("Register")).to_be_visible()
    await page.get_by_role("textbox", name="Invite code").fill(code)
    await patient.fill_registration("pat_rae", "Rae", "a long quiet walk home")
    await patient.accept_notice()
    await page.get_by_role("button", name="Register", exact=True).click()

    # Registered (the app may sign straight in); then signing out and in again works.
    landed = patient.heading("Rooms").or_(patient.heading("Sign in"))
    await expect(landed).to_be_visible()
    if await patient.heading("Rooms").is_visible():
        await patient.nav.get_by_role("button", name="Sign out").click()
    await patient.fill_sign_in("pat_rae", "a long quiet walk home")
    await expect(patient.heading("Rooms")).to_be_visible()
    # Signing out ends the sign-in on the server: a copy of the token is worth nothing.
    copied = await page.evaluate("sessionStorage.getItem('peerrooms.token')")
    assert (await api.get("/api/me", token=copied)).status == 200
    await patient.nav.get_by_role("button", name="Sign out").click()
    await expect(patient.heading("Sign in")).to_be_visible()
    assert (await api.get("/api/me", token=copied)).status == 401
    # A wrong password is refused in an alert, and the form stays.
    await patient.fill_sign_in("pat_rae", "a long quiet walk hom")
    await expect(patient.page.get_by_role("alert")).to_be_visible()
    await expect(patient.heading("Sign in")).to_be_visible()
    await patient.fill_sign_in("pat_rae", "a long quiet walk home")
    await expect(patient.heading("Rooms")).to_be_visible()
    await expect(patient.connection).to_have_text("Connected")
    rae = await sign_in(api, "pat_rae", "a long quiet walk home")
    assert (rae.role, rae.display_name) == ("patient", "Rae")

    # A patient sees the rooms of their cohort and the open ones, and no staff console.
    await expect(patient.room_item("Group A")).to_be_visible()
    await expect(patient.room_item("Commons")).to_be_visible()
    await expect(patient.room_list.get_by_role("link", name="Group B")).to_have_count(0)
    await expect(patient.room_list.get_by_role("link", name="Alumni Lounge")).to_have_count(0)
    await expect(patient.nav.get_by_role("link", name="Rooms")).to_be_visible()
    await expect(patient.nav.get_by_role("link", name="Meetings")).to_be_visible()
    await expect(patient.nav.get_by_role("link", name="Moderator console")).to_have_count(0)
    await patient.room_list.get_by_role("link", name="Group A", exact=True).click()
    await patient.in_room("Group A")
    await expect(page).to_have_url(re.compile(rf"#/rooms/{c.group_a}$"))

    moderator = await browse(desktop=True)
    await moderator.sign_in(c.mod_lee)
    await expect(moderator.nav.get_by_role("link", name="Moderator console")).to_be_visible()
    await moderator.open_room(c.group_a, "Group A")
    await expect(moderator.whos_here).to_contain_text("Rae")
    await expect(patient.whos_here).to_contain_text("Lee")

    # Patient → moderator, with Enter; the moderator sees who is typing first.
    await patient.composer.press_sequentially("Hi everyone")
    await expect(moderator.page.get_by_role("status", name="Typing")).to_contain_text(
        "Rae is typing"
    )
    await patient.composer.press_sequentially(", I'm Rae")
    await patient.composer.press("Enter")
    hello = moderator.message("Hi everyone, I'm Rae")
    await expect(hello).to_have_count(1)
    await expect(hello).to_contain_text("Rae")
    await expect(patient.composer).to_have_value("")

    # Moderator → patient, with the Send button.
    await moderator.composer.fill("Welcome, Rae. Glad you're here.")
    await moderator.page.get_by_role("button", name="Send", exact=True).click()
    welcome = patient.message("Welcome, Rae. Glad you're here.")
    await expect(welcome).to_have_count(1)
    await expect(welcome).to_contain_text("Lee")

    # Shift+Enter starts a new line; Enter sends both lines as one message.
    await patient.composer.press_sequentially("line one")
    await patient.composer.press("Shift+Enter")
    await patient.composer.press_sequentially("line two")
    await expect(patient.composer).to_have_value("line one\nline two")
    await patient.composer.press("Enter")
    await expect(moderator.message(re.compile(r"line one\s+line two"))).to_have_count(1)

    # Each side shows each message once; the server stored exactly these.
    for tab in (patient, moderator):
        await expect(tab.articles).to_have_count(3)
        await expect(tab.message("Hi everyone, I'm Rae")).to_have_count(1)
        await expect(tab.message("Welcome, Rae")).to_have_count(1)
    stored = [m["body"] for m in await history(api, c.mod_lee, c.group_a)]
    assert stored == [
        "Hi everyone, I'm Rae",
        "Welcome, Rae. Glad you're here.",
        "line one\nline two",
    ]


async def test_scrolling_back_through_history_shows_every_message_once_in_order(
    browse: TabFactory, peer: PeerFactory, community: Community
) -> None:
    c = community
    bodies = [f"Older note {n:03d}" for n in range(1, 221)]
    avi = await peer(c.pat_avi.token)
    await joined(avi, c.group_a)
    for body in bodies:  # one at a time, so the stored order is the list's order
        await send(avi, c.group_a, body)

    patient = await browse()
    await patient.sign_in(c.pat_ana)
    await patient.open_room(c.group_a, "Group A")
    await expect(patient.message(bodies[-1])).to_be_visible()

    # Scroll the log up, as a thumb would, until the oldest message has been loaded.
    oldest = patient.log.get_by_text(bodies[0], exact=True)
    for _ in range(len(bodies)):
        if await oldest.count():
            break
        shown = await patient.articles.count()
        await patient.log.hover()
        await patient.page.mouse.wheel(0, 300)
        await patient.page.mouse.wheel(0, -100_000)
        await expect(patient.articles).not_to_have_count(shown, timeout=RECONNECT_MS)
    await oldest.scroll_into_view_if_needed()
    await expect(oldest).to_be_in_viewport()

    texts = await patient.articles.all_inner_texts()
    seen = [found for text in texts for found in re.findall(r"Older note \d{3}", text)]
    assert seen == bodies, (len(seen), [b for b in bodies if seen.count(b) != 1][:10])


async def test_edit_delete_and_react_reach_the_other_person(
    browse: TabFactory, api: Api, community: Community
) -> None:
    c = community
    patient = await browse(accept_dialogs=True)
    await patient.sign_in(c.pat_ana)
    await patient.open_room(c.group_a, "Group A")
    moderator = await browse(desktop=True, accept_dialogs=True)
    await moderator.sign_in(c.mod_lee)
    await moderator.open_room(c.group_a, "Group A")

    await patient.send("See you all on Thrusday")
    await expect(moderator.message("See you all on Thrusday")).to_have_count(1)
    await patient.send("Actually I might be late")
    await expect(moderator.message("Actually I might be late")).to_have_count(1)

    # Only own messages offer Edit; moderators may delete anyone's.
    mine = patient.message("See you all on Thrusday")
    await expect((await message_menu(mine)).get_by_role("menuitem", name="Edit")).to_be_visible()
    await patient.page.keyboard.press("Escape")
    theirs = moderator.message("See you all on Thrusday")
    menu = await message_menu(theirs)
    await expect(menu.get_by_role("menuitem", name="Edit")).to_have_count(0)
    await expect(menu.get_by_role("menuitem", name="Delete")).to_be_visible()
    await moderator.page.keyboard.press("Escape")

    # Edit: the editor takes the focus with the old text; the other side sees the new text.
    await message_action(mine, "Edit")
    editor = patient.page.locator(":focus")
    await expect(editor).to_have_value("See you all on Thrusday")
    await editor.fill("See you all on Thursday")
    await editor.press("Enter")
    edited = moderator.message("See you all on Thursday")
    await expect(edited).to_contain_text("(edited)")
    await expect(moderator.message("Thrusday")).to_have_count(0)
    await expect(patient.message("See you all on Thursday")).to_contain_text("(edited)")

    # Reactions: a count both sides see, toggled per person.
    await react_thumbs_up(moderator, "See you all on Thursday")
    await expect(patient.message("See you all on Thursday")).to_contain_text(re.compile(r"👍\s*1"))
    await react_thumbs_up(patient, "See you all on Thursday")
    await expect(moderator.message("See you all on Thursday")).to_contain_text(
        re.compile(r"👍\s*2")
    )

    # Delete (confirmed, then not undone): the message stays in place as "Message deleted"
    # on both sides.
    await delete_message(patient, patient.message("Actually I might be late"))
    await expect(moderator.message("Actually I might be late")).to_have_count(0)
    await expect(moderator.log).to_contain_text("Message deleted")
    await expect(patient.message("Actually I might be late")).to_have_count(0)
    await expect(moderator.articles).to_have_count(2)

    stored = await history(api, c.mod_lee, c.group_a)
    assert [(m["body"], m["deleted"]) for m in stored] == [
        ("See you all on Thursday", False),
        ("", True),
    ]
    assert stored[0]["edited_at"] and stored[0]["reactions"] == {"👍": 2}


async def react_thumbs_up(tab: Tab, text: str) -> None:
    await message_action(tab.message(text), "React")
    await tab.page.get_by_role("button", name="React with 👍").click()


# A clinic's own reaction set, none of which is in the client's built-in list.
CLINIC_REACTIONS = ["🌱", "☀️", "🫂"]


@pytest.mark.parametrize(
    "server_overrides", [{"web_dir": WEB_DIST, "reaction_emojis": CLINIC_REACTIONS}]
)
async def test_the_react_buttons_are_the_configured_set(
    browse: TabFactory, api: Api, peer: PeerFactory, community: Community
) -> None:
    c = community
    lee = await peer(c.mod_lee.token)
    await joined(lee, c.group_a)
    await send(lee, c.group_a, "Three breaths before we begin.")
    patient = await browse()
    await patient.sign_in(c.pat_ana)
    await patient.open_room(c.group_a, "Group A")
    article = patient.message("Three breaths before we begin.")
    await message_action(article, "React")
    choices = article.get_by_role("group", name="Reactions to choose from").get_by_role("button")
    await expect(choices).to_have_count(len(CLINIC_REACTIONS))
    names = [await choice.get_attribute("aria-label") for choice in await choices.all()]
    assert names == [f"React with {emoji}" for emoji in CLINIC_REACTIONS], names
    await article.get_by_role("button", name="React with 🌱").click()
    await expect(article).to_contain_text(re.compile(r"🌱\s*1"))
    [message] = await history(api, c.mod_lee, c.group_a)
    assert message["reactions"] == {"🌱": 1}, message


async def _unread(api: Api, person: Person, room_id: int, count: int) -> bool:
    reply = await api.get("/api/rooms", person.token)
    assert reply.status == 200, reply.body
    [room] = [room for room in reply.body["rooms"] if room["id"] == room_id]
    return bool(room["unread_count"] == count)


async def test_unread_counts_clear_after_reading_on_another_device(
    browse: TabFactory, api: Api, peer: PeerFactory, community: Community
) -> None:
    c = community
    avi = await peer(c.pat_avi.token)
    await joined(avi, c.group_a)
    for n in range(1, 4):
        await send(avi, c.group_a, f"from Avi, number {n}")

    phone = await browse()
    await phone.sign_in(c.pat_ana)
    desktop = await browse(desktop=True)
    await desktop.sign_in(c.pat_ana)
    for tab in (phone, desktop):
        await expect(tab.room_item("Group A")).to_contain_text("3 unread")
        await expect(tab.room_item("Group A")).to_contain_text(re.compile(r"\b1 online"))
        await expect(tab.room_item("Commons")).not_to_contain_text("unread")

    # Reading on the phone clears the count on the phone and, on its next look, the desktop.
    await phone.room_list.get_by_role("link", name="Group A", exact=True).click()
    await phone.in_room("Group A")
    await expect(phone.message("from Avi, number 3")).to_be_visible()
    # (The page marks the room read after the newest message has been in view a moment.)
    await eventually(lambda: _unread(api, c.pat_ana, c.group_a, 0), "the room to be marked read")
    await phone.nav.get_by_role("link", name="Rooms").click()
    await expect(phone.heading("Rooms")).to_be_visible()
    await expect(phone.room_item("Group A")).not_to_contain_text("unread")
    await desktop.page.reload()
    await expect(desktop.heading("Rooms")).to_be_visible()
    await expect(desktop.room_item("Group A")).not_to_contain_text("unread")

    # A new message from someone else counts again.
    await send(avi, c.group_a, "from Avi, number 4")
    await desktop.page.reload()
    await expect(desktop.room_item("Group A")).to_contain_text("1 unread")
