"""Keep me signed in on this device, in Chromium: a tab closed and opened again is still signed
in only when the person chose it; the renewal cookie is out of scripts' reach; a token that has
run out is renewed without a word to the person (HTTP and socket alike); signing out ends it."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import TabFactory
from tests.browser.pages import Tab
from tests.support import Community, FakeClock

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def sign_in_kept(tab: Tab, username: str) -> None:
    await tab.page.goto("/#/signin")
    await tab.page.get_by_role("checkbox", name="Keep me signed in on this device").check()
    await tab.fill_sign_in(username, "correct horse battery")
    await expect(tab.heading("Rooms")).to_be_visible()
    await expect(tab.connection).to_have_text("Connected")


async def reopen(tab: Tab, route: str) -> None:
    """Close the tab and open a new one on the same device (browser context)."""
    await tab.page.close()
    tab.page = await tab.context.new_page()
    tab.watch()
    await tab.page.goto(route)


async def test_a_closed_tab_stays_signed_in_only_when_chosen(
    browse: TabFactory, community: Community
) -> None:
    c = community
    shared = await browse()
    await shared.sign_in(c.pat_avi)
    await expect(
        shared.page.get_by_role("checkbox", name="Keep me signed in on this device")
    ).to_have_count(0)
    await reopen(shared, "/#/notifications")
    # The default, for a shared clinic computer: closing the tab signed out.
    await expect(shared.heading("Sign in")).to_be_visible()
    keep = shared.page.get_by_role("checkbox", name="Keep me signed in on this device")
    await expect(keep).not_to_be_checked()
    await expect(keep).to_have_accessible_description(
        "Only on a phone or computer that is yours alone: anyone who opens peerrooms on it"
        " is signed in as you. Sign out to stop."
    )

    phone = await browse()
    await sign_in_kept(phone, c.pat_ana.username)
    [cookie] = [k for k in await phone.context.cookies() if k["name"] == "peerrooms_refresh"]
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/api/auth"
    # Scripts see neither the cookie nor a token kept beyond the tab.
    assert await phone.page.evaluate("document.cookie") == ""
    kept = await phone.page.evaluate("Object.entries(localStorage)")
    assert kept == [["peerrooms.kept", "1"]]

    await reopen(phone, "/#/notifications")
    await expect(phone.heading("Notifications")).to_be_visible()
    await expect(phone.connection).to_have_text("Connected")
    await expect(phone.heading("Sign in")).to_have_count(0)


async def test_a_token_that_ran_out_is_renewed_for_reads_and_the_socket(
    browse: TabFactory, community: Community, clock: FakeClock
) -> None:
    c = community
    phone = await browse()
    await sign_in_kept(phone, c.pat_ana.username)
    # The kept sign-in's token lasts an hour; the page is reloaded with the old one.
    await clock.advance(minutes=61)
    await phone.page.reload()
    await expect(phone.connection).to_have_text("Connected")
    await phone.open_room(c.group_a, "Group A")
    await phone.send("still signed in after an hour")
    await expect(phone.message("still signed in after an hour")).to_be_visible()
    await expect(phone.heading("Sign in")).to_have_count(0)


async def test_signing_out_ends_the_kept_sign_in(browse: TabFactory, community: Community) -> None:
    phone = await browse()
    await sign_in_kept(phone, community.pat_ana.username)
    await phone.nav.get_by_role("button", name="Sign out").click()
    await expect(phone.heading("Sign in")).to_be_visible()
    cookies = [k["name"] for k in await phone.context.cookies()]
    assert "peerrooms_refresh" not in cookies
    assert await phone.page.evaluate("Object.entries(localStorage)") == []
    await reopen(phone, "/#/rooms")
    await expect(phone.heading("Sign in")).to_be_visible()
