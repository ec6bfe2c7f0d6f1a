"""Invites, in a real browser: a moderator invites a patient to Cohort A (two uses), hands over
the link and its QR code (a QR reader finds exactly the link in it; copied, printed); a
newcomer, signed out in a browser of her own, opens the link and registers with the code
already filled in; the list says one of two uses is gone; the moderator revokes the invite,
after confirming, and the next person with the link is refused with the server's reason.
Moderators invite patients and alumni only (the server's refusal is said); admins invite staff
too; members have no Invites."""

from __future__ import annotations

import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image
from playwright.async_api import Locator, expect
from pyzbar import pyzbar

from tests.browser.conftest import TabFactory
from tests.browser.pages import Tab
from tests.support import PASSWORD, Api, Community, Person, RunningServer

pytestmark = pytest.mark.asyncio(loop_scope="session")

QR_NAME = "QR code of the invite link"


async def invites(api: Api, staff: Person, status: str = "all") -> list[dict[str, object]]:
    """The invites `staff` may see (the community's own, used up, among them with `all`)."""
    reply = await api.get(f"/api/invites?status={status}", staff.token)
    assert reply.status == 200, reply.body
    return list(reply.body["invites"])


async def invite(api: Api, staff: Person, code: str) -> dict[str, object]:
    [found] = [i for i in await invites(api, staff) if i["code"] == code]
    return found


def code_of(link: str) -> str:
    [code] = parse_qs(urlsplit(link).fragment.split("?", 1)[1])["code"]
    return code


async def qr_texts(qr: Locator) -> list[str]:
    """What a QR reader (zbar) finds in the QR code as the page shows it: one text per code."""
    shot = await qr.screenshot(animations="disabled")
    return [symbol.data.decode() for symbol in pyzbar.decode(Image.open(io.BytesIO(shot)))]


async def fill_registration(tab: Tab, username: str, display_name: str) -> None:
    """Fill in the registration form, accept the notice and send it."""
    await tab.fill_registration(username, display_name, PASSWORD)
    await tab.accept_notice()
    await tab.page.get_by_role("button", name="Register", exact=True).click()


async def test_a_moderator_invites_a_patient_who_registers_and_then_revokes_the_invite(
    browse: TabFactory, server: RunningServer, api: Api, community: Community
) -> None:
    c = community
    lee = await browse(desktop=True)
    await lee.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    await lee.sign_in(c.mod_lee)
    await lee.open_invites()
    await expect(lee.page.get_by_role("status", name="Invite list")).to_have_text(
        "No usable invites: create one above."
    )

    # Moderators invite patients and alumni; an invite lasts 72 hours unless told otherwise.
    form = lee.region("Create an invite")
    await expect(form.get_by_role("combobox", name="Role").locator("option")).to_have_text(
        ["Patient", "Alumni"]
    )
    await expect(form.get_by_role("spinbutton", name="Hours until it expires")).to_have_value("72")
    await expect(form.get_by_role("spinbutton", name="Uses")).to_have_value("1")
    await lee.create_invite(role="Patient", cohort="Cohort A", uses=2)

    # The whole link, with its QR code, and the invite in the list.
    shown = lee.region("Invite link")
    await expect(shown.get_by_role("status").first).to_have_text(
        "Invite created: Patient invite, Cohort A."
    )
    link = await lee.shown_invite_link()
    assert re.fullmatch(re.escape(server.url) + r"/#/register\?code=[\w-]+", link), link
    code = code_of(link)
    # A phone's camera would read exactly the link from it.
    qr = shown.get_by_role("img", name=QR_NAME)
    assert await qr_texts(qr) == [link]
    await expect(shown).to_contain_text(code)
    await expect(lee.heading("Invite link")).to_be_focused()
    item = lee.invite_item(code)
    await expect(item).to_contain_text("Patient")
    await expect(item).to_contain_text("Cohort A")
    await expect(item).to_contain_text("0/2 uses")
    [stored] = await invites(api, c.mod_lee, "usable")
    assert stored["code"] == code, stored
    assert (stored["role"], stored["cohort_id"], stored["max_uses"], stored["uses"]) == (
        "patient",
        c.cohort_a,
        2,
        0,
    )

    # Copy puts the link on the clipboard.
    await shown.get_by_role("button", name="Copy link").click()
    await expect(shown.get_by_role("status").filter(has_text="Link copied.")).to_be_visible()
    assert await lee.page.evaluate("() => navigator.clipboard.readText()") == link

    # Print asks the browser to print, and what it prints is the code, the QR code and how to
    # use them: not the navigation, the form or the list.
    await lee.page.evaluate("() => { window.print = () => { window.printed = true; }; }")
    await shown.get_by_role("button", name="Print").click()
    assert await lee.page.evaluate("() => window.printed === true")
    await lee.page.emulate_media(media="print")
    try:
        await expect(qr).to_be_visible()
        await expect(shown.get_by_text(code, exact=True)).to_be_visible()
        await expect(shown.get_by_text("Point your phone's camera at the QR code")).to_be_visible()
        for hidden in (lee.nav, form, lee.region("Invite list"), lee.heading("Invites")):
            await expect(hidden).to_be_hidden()
        await expect(shown.get_by_role("textbox", name="Invite link")).to_be_hidden()
    finally:
        await lee.page.emulate_media(media="screen")

    # Nia, signed out in a browser of her own, opens the link: the code is filled in.
    nia = await browse()
    await nia.page.goto(link)
    await expect(nia.heading("Register")).to_be_visible()
    await expect(nia.page.get_by_role("textbox", name="Invite code")).to_have_value(code)
    await fill_registration(nia, "pat_nia", "Nia")
    await expect(nia.heading("Rooms")).to_be_visible()
    await expect(nia.connection).to_have_text("Connected")
    # A patient of Cohort A.
    await expect(nia.room_item("Group A")).to_be_visible()
    await expect(nia.room_item("Group B")).to_have_count(0)

    # One of two uses is gone.
    await lee.page.reload()
    await expect(lee.heading("Invites")).to_be_visible()
    await expect(lee.invite_item(code)).to_contain_text("1/2 uses")

    # Revoking asks first; Cancel keeps it.
    await lee.invite_item(code).get_by_role("button", name="Revoke").click()
    dialog = lee.page.get_by_role("dialog", name="Revoke this invite?")
    await expect(dialog).to_contain_text(code)
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_have_count(0)
    await expect(lee.invite_item(code).get_by_role("button", name="Revoke")).to_be_focused()
    assert (await invite(api, c.mod_lee, code))["revoked"] is False
    # Show link and QR code brings back the one to hand over.
    await lee.invite_item(code).get_by_role("button", name="Show link and QR code").click()
    await expect(lee.heading("Invite link")).to_be_focused()
    assert await lee.shown_invite_link() == link
    await lee.invite_item(code).get_by_role("button", name="Revoke").click()
    await dialog.get_by_role("button", name="Revoke").click()
    await expect(dialog).to_have_count(0)
    await expect(lee.page.get_by_role("status", name="Invite list")).to_have_text(
        f"Invite {code} revoked: nobody can register with it now."
    )
    await expect(lee.invite_item(code)).to_have_count(0)
    # Its link is not offered any more.
    await expect(lee.region("Invite link")).to_have_count(0)
    revoked = await invite(api, c.mod_lee, code)
    assert (revoked["revoked"], revoked["uses"]) == (True, 1), revoked

    # Shown again with the others that can no longer be used: revoked, nothing to do with it.
    await lee.page.get_by_role(
        "checkbox", name="Show revoked, expired and used-up invites too"
    ).check()
    await expect(lee.invite_item(code)).to_contain_text("Revoked")
    await expect(lee.invite_item(code)).to_contain_text("1/2 uses")
    await expect(lee.invite_item(code).get_by_role("button")).to_have_count(0)

    # The next person with the link is refused, with the server's reason.
    late = await browse()
    await late.page.goto(link)
    await expect(late.page.get_by_role("textbox", name="Invite code")).to_have_value(code)
    await fill_registration(late, "pat_late", "Late")
    await expect(late.alert("this invite has been revoked; ask for a new one.")).to_be_visible()
    await expect(late.heading("Register")).to_be_visible()
    await expect(late.page.get_by_role("button", name="Register", exact=True)).to_be_enabled()
    login = await api.post("/api/auth/login", {"username": "pat_late", "password": PASSWORD})
    assert login.status == 401, login.body


async def test_only_admins_invite_staff_and_members_have_no_invites(
    browse: TabFactory, api: Api, community: Community
) -> None:
    c = community
    lee = await browse()  # on a phone
    await lee.sign_in(c.mod_lee)
    await lee.open_invites()
    form = lee.region("Create an invite")
    errors = form.get_by_role("alert")

    # What the form can check itself, it says before asking.
    await form.get_by_role("spinbutton", name="Uses").fill("0")
    await form.get_by_role("button", name="Create invite").click()
    await expect(errors).to_have_text("Uses: a whole number from 1 to 500.")
    await expect(form.get_by_role("spinbutton", name="Uses")).to_be_focused()
    await form.get_by_role("spinbutton", name="Uses").fill("1")
    await form.get_by_role("spinbutton", name="Hours until it expires").fill("2161")
    await form.get_by_role("button", name="Create invite").click()
    await expect(errors).to_have_text("Hours until it expires: a whole number from 1 to 2160.")
    await form.get_by_role("spinbutton", name="Hours until it expires").fill("2160")

    # A moderator is not offered staff roles; a page that offers one anyway (out of date, or
    # tampered with) gets the server's refusal, said on the form.
    role = form.get_by_role("combobox", name="Role")
    await expect(role.locator("option")).to_have_text(["Patient", "Alumni"])
    await role.evaluate("select => select.append(new Option('Moderator', 'moderator'))")
    await lee.create_invite(role="Moderator")
    await expect(errors).to_have_text("Only admins can invite moderators and admins.")
    await expect(lee.region("Invite link")).to_have_count(0)
    assert await invites(api, c.admin, "usable") == []

    # An admin can.
    admin = await browse(desktop=True)
    await admin.sign_in(c.admin)
    await admin.open_invites()
    form = admin.region("Create an invite")
    await expect(form.get_by_role("combobox", name="Role").locator("option")).to_have_text(
        ["Patient", "Alumni", "Moderator", "Admin"]
    )
    await admin.create_invite(role="Moderator")
    link = await admin.shown_invite_link()
    await expect(admin.invite_item(code_of(link))).to_contain_text("Moderator")
    await expect(admin.invite_item(code_of(link))).to_contain_text("No cohort")
    stored = await invite(api, c.admin, code_of(link))
    assert (stored["role"], stored["cohort_id"], stored["max_uses"]) == ("moderator", None, 1)
    # Moderators do not see staff invites.
    assert await invites(api, c.mod_lee, "usable") == []
    assert {i["role"] for i in await invites(api, c.mod_lee)} <= {"patient", "alumni"}

    # A patient invite without a cohort is allowed, with a word about what it means.
    await admin.create_invite(role="Patient")
    await expect(admin.region("Invite link")).to_contain_text("This patient invite has no cohort")
    await expect(admin.page.get_by_role("status", name="Invite list")).to_have_text(
        "2 usable invites."
    )

    # Members: no Invites in the navigation, and its address is no page for them.
    patient = await browse()
    await patient.sign_in(c.pat_ana)
    await expect(patient.nav.get_by_role("link", name="Invites")).to_have_count(0)
    await patient.page.goto("/#/invites")
    await expect(patient.heading("Page not found")).to_be_visible()
