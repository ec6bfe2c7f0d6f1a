"""My profile, in a real browser at 390 px: Ana changes her alias and pronouns and adds a line
(a refused name and an empty one said in the form), and Avi, in her group's room, sees them
beside her name and on her earlier message at once; then she changes her password (a mismatch
and a wrong current password said), her other browser is signed out, and it signs in with the
new one."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import PeerFactory, TabFactory
from tests.browser.pages import Tab, describe_violations, serious_axe_violations
from tests.support import PASSWORD, Api, Community, joined, send

pytestmark = pytest.mark.asyncio(loop_scope="session")

NEW_PASSWORD = "a brand new passphrase"
SIGN_IN_ENDED = "Your sign-in has ended. Please sign in again."


async def open_profile(tab: Tab) -> None:
    await tab.nav.get_by_role("link", name="Profile", exact=True).click()
    await expect(tab.heading("My profile")).to_be_visible()
    # The form opens once the stored profile is in it.
    await expect(tab.page.get_by_role("textbox", name="Display name")).to_be_enabled()


async def fits_and_is_accessible(tab: Tab, screen: str) -> None:
    assert await tab.page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    ), f"{screen} is wider than the phone"
    found = await serious_axe_violations(tab.page)
    assert not found, describe_violations(screen, found)


async def test_ana_edits_her_profile_and_her_group_sees_it_at_once(
    browse: TabFactory, api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    # Ana on her phone, in the room while she edits her profile on another device.
    phone = await peer(c.pat_ana.token)
    await joined(phone, c.group_a)
    await send(phone, c.group_a, "Said before my new name")

    # Axe is put in the page by a script the policy would refuse.
    avi = await browse(bypass_csp=True)
    await avi.sign_in(c.pat_avi)
    await avi.open_room(c.group_a, "Group A")
    await expect(avi.message("Said before my new name")).to_contain_text("Ana")

    await expect(avi.whos_here).to_contain_text("Ana")
    ana = await browse(bypass_csp=True)
    await ana.sign_in(c.pat_ana)
    await open_profile(ana)
    about = ana.page.get_by_role("form", name="How others see you")
    name = about.get_by_role("textbox", name="Display name")
    save = about.get_by_role("button", name="Save")

    # Refusals are said, on the field they are about.
    await name.fill("   ")
    await save.click()
    await expect(ana.alert("Display name: this is needed.")).to_be_visible()
    await expect(name).to_have_attribute("aria-invalid", "true")
    await name.fill("Avi")
    await save.click()
    await expect(ana.alert("looks like this")).to_be_visible()
    await expect(name).to_be_focused()

    await name.fill("Ana R.")
    await about.get_by_role("textbox", name="Pronouns (optional)").fill("she/her")
    await about.get_by_role("textbox", name="A short line about you (optional)").fill(
        "Back after a week away"
    )
    await save.click()
    await expect(about.get_by_role("status")).to_have_text(
        "Saved. Everyone in your rooms sees it now."
    )
    await expect(ana.alert("looks like this")).to_have_count(0)
    await expect(name).not_to_have_attribute("aria-invalid", "true")
    await fits_and_is_accessible(ana, "profile")

    # Avi's open room says so at once: who is here, and her earlier message.
    here = avi.whos_here.get_by_role("listitem").filter(has_text="Ana R.")
    await expect(here).to_contain_text("(she/her)")
    await expect(here).to_contain_text("Back after a week away")
    await expect(avi.message("Said before my new name")).to_contain_text("Ana R.")
    await fits_and_is_accessible(avi, "room with a profile line")
    profile = (await api.get("/api/me/profile", c.pat_ana.token)).body["profile"]
    assert (profile["display_name"], profile["pronouns"], profile["line"]) == (
        "Ana R.", "she/her", "Back after a week away"
    )  # fmt: skip


async def test_ana_changes_her_password_and_her_other_browser_signs_in_with_it(
    browse: TabFactory, api: Api, community: Community
) -> None:
    c = community
    elsewhere = await browse(desktop=True)
    await elsewhere.sign_in(c.pat_ana)
    ana = await browse(bypass_csp=True)
    await ana.sign_in(c.pat_ana)
    await open_profile(ana)
    form = ana.page.get_by_role("form", name="Change password")
    current = form.get_by_label("Current password", exact=True)
    new = form.get_by_label("New password", exact=True)
    confirm = form.get_by_label("Confirm new password", exact=True)
    change = form.get_by_role("button", name="Change password")

    await current.fill(PASSWORD)
    await new.fill(NEW_PASSWORD)
    await confirm.fill(NEW_PASSWORD + "!")
    await change.click()
    await expect(ana.alert("it is not the same as the new password")).to_be_visible()
    await expect(confirm).to_be_focused()

    await current.fill("not my password")
    await confirm.fill(NEW_PASSWORD)
    await change.click()
    await expect(ana.alert("Current password: that is not your current password.")).to_be_visible()
    await expect(current).to_have_attribute("aria-invalid", "true")

    await current.fill(PASSWORD)
    await change.click()
    await expect(form.get_by_role("status")).to_have_text(
        "Your password is changed. You are signed out everywhere else."
    )
    await expect(current).to_have_value("")
    await fits_and_is_accessible(ana, "profile after a password change")

    # Her other browser is signed out at once; this one goes on.
    await expect(elsewhere.heading("Sign in")).to_be_visible()
    await expect(elsewhere.alert(SIGN_IN_ENDED)).to_be_visible()
    await elsewhere.fill_sign_in(c.pat_ana.username, PASSWORD)
    await expect(elsewhere.alert("The username or password is wrong.")).to_be_visible()
    await elsewhere.fill_sign_in(c.pat_ana.username, NEW_PASSWORD)
    await expect(elsewhere.heading("Rooms")).to_be_visible()
    await ana.nav.get_by_role("link", name="Rooms", exact=True).click()
    await expect(ana.heading("Rooms")).to_be_visible()
    await expect(ana.connection).to_have_text("Connected")
    # The sign-in the community was built with was another of hers: it has ended too.
    assert (await api.get("/api/me", c.pat_ana.token)).status == 401
