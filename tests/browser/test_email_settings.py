"""The Notifications screen's Email section in a real Chromium, against a real server that mails
through a real SMTP server on 127.0.0.1 (tests/smtp_inbox.py; docs/notifications.md, "Email"):
an address given, its confirmation mail received and its link opened in the same browser, the
screen saying `Confirmed` once the person comes back to it, the mail choices saved, a wrong
address refused, the address removed; and a server that sends no email saying so.

Coming back to the screen: a headless Chromium keeps every page visible (another tab in front,
a window minimized: `document.visibilityState` stays `visible` and no `visibilitychange`
comes), so `left_and_came_back` makes the page hidden and visible again as switching to a mail
app and back does: `visibilityState` read from the page, and the `visibilitychange` events the
browser sends. What the screen then does is real: it asks the server again."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Locator, expect

from tests.browser.conftest import TabFactory
from tests.browser.pages import WEB_DIST, Tab, describe_violations, serious_axe_violations
from tests.smtp_inbox import (
    PUBLIC_URL,
    Inbox,
    Received,
    inbox_fixture,  # noqa: F401 - the fixtures
    mail_settings,
    smtp_port_fixture,  # noqa: F401
)
from tests.support import Api, Community, RunningServer, eventually, notification_settings

pytestmark = pytest.mark.asyncio(loop_scope="session")

NO_EMAIL = (
    "This server does not send email, so peerrooms cannot mail you reminders or a daily summary."
)


@pytest.fixture
def server_overrides(smtp_port: int) -> dict[str, Any]:
    """The web client, and email through this test's inbox (as in test_email_notifications)."""
    return {"web_dir": WEB_DIST, **mail_settings(smtp_port)}


async def email_section(tab: Tab) -> Locator:
    """The Email section of the Notifications screen, reached from the main navigation."""
    await tab.nav.get_by_role("link", name="Notifications", exact=True).click()
    await expect(tab.heading("Notifications")).to_be_visible()
    section = tab.page.get_by_role("form", name="Email", exact=True)
    await expect(section.get_by_role("heading", name="Email", exact=True)).to_be_visible()
    return section


async def mail_to(inbox: Inbox, address: str) -> Received:
    async def probe() -> Received | None:
        return next((m for m in inbox.received if m.rcpt_tos == [address]), None)

    return await eventually(probe, f"a mail to {address}")


def confirm_link(mail: Received, server: RunningServer) -> str:
    """The confirmation link of the mail, pointed at this test's server."""
    part = mail.message.get_body(preferencelist=("plain",))
    assert part is not None
    words = str(part.get_content()).split()
    [link] = [w for w in words if w.startswith(f"{PUBLIC_URL}/api/notifications/confirm?")]
    parts = urlsplit(link)
    return f"{server.url}{parts.path}?{parts.query}"


async def left_and_came_back(tab: Tab) -> None:
    """The page hidden (the person went to their mail app), then visible again."""
    await tab.page.evaluate(
        """async () => {
            const become = (state) => {
                const read = (get) => ({configurable: true, get});
                Object.defineProperty(document, "visibilityState", read(() => state));
                Object.defineProperty(document, "hidden", read(() => state === "hidden"));
                document.dispatchEvent(new Event("visibilitychange"));
            };
            become("hidden");
            await new Promise((resolve) => setTimeout(resolve, 50));
            become("visible");
            // The document's own answers again (visible: this page is in front).
            delete document.visibilityState;
            delete document.hidden;
        }"""
    )


async def test_an_address_confirmed_from_the_mail_then_the_mail_chosen_and_removed(
    browse: TabFactory,
    api: Api,
    community: Community,
    server: RunningServer,
    inbox: Inbox,
    axe_script: Path,
) -> None:
    c = community
    # Axe is added to the page as a script of its own, which the policy would refuse.
    ana = await browse(bypass_csp=True)
    await ana.sign_in(c.pat_ana)
    email = await email_section(ana)
    state = email.get_by_role("status", name="Email address state")
    address = email.get_by_role("textbox", name="Email address")
    reminders = email.get_by_role("checkbox", name="Email me before my sessions")
    digest = email.get_by_role("checkbox", name="Email me a daily summary of what I missed")
    save = email.get_by_role("button", name="Save", exact=True)
    remove = email.get_by_role("button", name="Remove this address")

    # No address: the choices are closed, and say why; the digest says what it holds.
    await expect(state).to_have_text("No address: nothing is mailed to you.")
    await expect(address).to_be_enabled()
    await expect(address).to_have_value("")
    await expect(address).to_have_accessible_description(
        "We mail a link to this address first: nothing else is sent to it until you open that link."
    )
    await expect(reminders).to_be_disabled()
    await expect(digest).to_be_disabled()
    await expect(digest).not_to_be_checked()
    closed = "You can choose these once you have given an address above and opened the link"
    await expect(reminders).to_have_accessible_description(f"{closed} we send to it.")
    await expect(digest).to_have_accessible_description(
        "Once a day: how many new messages each room has, and your coming sessions. Never what"
        f" anyone wrote. {closed} we send to it."
    )
    await expect(remove).to_be_hidden()
    violations = await serious_axe_violations(ana.page)
    assert not violations, describe_violations("notifications, email", violations)

    # A wrong address is said, naming the field, and nothing is saved or mailed.
    await address.fill("ana at example.org")
    await save.click()
    await expect(email.get_by_role("alert")).to_have_text(
        "Email address: this is not an email address. Write it as name@example.org."
    )
    await expect(address).to_have_attribute("aria-invalid", "true")
    await expect(address).to_be_focused()
    assert (await notification_settings(api, c.pat_ana))["email"] is None

    # An address: the screen says a link was sent to it, and waits for it to be opened.
    await address.fill("ana@example.org")
    await save.click()
    await expect(email.get_by_role("alert")).to_be_hidden()
    await expect(address).not_to_have_attribute("aria-invalid", "true")
    await expect(email.get_by_role("status").filter(has_text="Saved.")).to_have_text(
        "Saved. We sent a confirmation link to ana@example.org: open it to start getting mail"
        " there."
    )
    await expect(state).to_have_text("Waiting for you to open the link we sent to ana@example.org.")
    await expect(digest).to_be_disabled()
    await expect(digest).to_have_accessible_description(
        "Once a day: how many new messages each room has, and your coming sessions. Never what"
        " anyone wrote. You can choose these once you have opened the link we sent to your"
        " address."
    )
    await expect(remove).to_be_visible()
    mine = await notification_settings(api, c.pat_ana)
    assert (mine["email"], mine["email_confirmed"]) == ("ana@example.org", False)

    # The mail arrives; its link is opened in the same browser, in a tab of its own, as a mail
    # app hands a link to the browser. The confirm route is a GET that answers a page.
    mail = await mail_to(inbox, "ana@example.org")
    assert mail.message["Subject"] == "Confirm your address for peerrooms"
    link_tab = await ana.context.new_page()
    opened = await link_tab.goto(confirm_link(mail, server))
    assert opened is not None and opened.status == 200
    await expect(link_tab.locator("body")).to_contain_text("Your address is confirmed")
    await link_tab.close()
    assert (await notification_settings(api, c.pat_ana))["email_confirmed"] is True
    # The screen has not asked again yet: it does when the person comes back to it.
    await expect(state).to_have_text("Waiting for you to open the link we sent to ana@example.org.")
    await left_and_came_back(ana)
    await expect(state).to_have_text("Confirmed. Mail from peerrooms goes to ana@example.org.")
    # What the save said of the link is over.
    await expect(email.get_by_role("status").filter(has_text="Saved.")).to_have_count(0)
    await expect(reminders).to_be_enabled()
    await expect(digest).to_be_enabled()
    await expect(digest).to_have_accessible_description(
        "Once a day: how many new messages each room has, and your coming sessions. Never what"
        " anyone wrote."
    )
    # Session reminders by email are on unless turned off; the digest is off until asked for.
    await expect(reminders).to_be_checked()
    await expect(digest).not_to_be_checked()

    # Both ticked and saved.
    await reminders.check()
    await digest.check()
    await save.click()
    await expect(email.get_by_role("status").filter(has_text="Saved.")).to_have_text(
        "Saved. Session reminders by email: on. Daily summary: on."
    )
    mine = await notification_settings(api, c.pat_ana)
    assert (mine["email_reminders"], mine["email_digest"]) == (True, True), mine
    # Shown again as saved on coming back.
    await ana.page.reload()
    await expect(ana.heading("Notifications")).to_be_visible()
    await expect(state).to_have_text("Confirmed. Mail from peerrooms goes to ana@example.org.")
    await expect(address).to_have_value("ana@example.org")
    await expect(digest).to_be_checked()
    await expect(reminders).to_be_checked()

    # A wrong address over a confirmed one: refused, and the confirmed one stays.
    await address.fill("ana@example")
    await save.click()
    await expect(email.get_by_role("alert")).to_contain_text("Email address:")
    mine = await notification_settings(api, c.pat_ana)
    assert (mine["email"], mine["email_confirmed"]) == ("ana@example.org", True), mine

    # Removed: nothing more is mailed to it, and the choices close again.
    await remove.click()
    await expect(email.get_by_role("status").filter(has_text="Removed.")).to_have_text(
        "Removed. Nothing more is mailed to ana@example.org."
    )
    await expect(state).to_have_text("No address: nothing is mailed to you.")
    await expect(state).to_be_focused()
    await expect(address).to_have_value("")
    await expect(digest).to_be_disabled()
    await expect(remove).to_be_hidden()
    mine = await notification_settings(api, c.pat_ana)
    assert (mine["email"], mine["email_confirmed"]) == (None, False), mine
    violations = await serious_axe_violations(ana.page)
    assert not violations, describe_violations("notifications, email removed", violations)
    # Nothing but the one confirmation mail was sent.
    assert [m.rcpt_tos for m in inbox.received] == [["ana@example.org"]]


@pytest.mark.parametrize("server_overrides", [{"web_dir": WEB_DIST}])
async def test_a_server_without_email_says_so_and_offers_nothing(
    browse: TabFactory, api: Api, community: Community
) -> None:
    c = community
    avi = await browse()
    await avi.sign_in(c.pat_avi)
    email = await email_section(avi)
    await expect(email.get_by_text(NO_EMAIL, exact=True)).to_be_visible()
    assert (await notification_settings(api, c.pat_avi))["email_available"] is False
    # One sentence, nothing else: no field, no choice, no button, no state.
    await expect(email.get_by_role("textbox")).to_have_count(0)
    await expect(email.get_by_role("checkbox")).to_have_count(0)
    await expect(email.get_by_role("button")).to_have_count(0)
    await expect(email.get_by_role("status", name="Email address state")).to_have_count(0)
    # The rest of the screen is as ever.
    await expect(
        avi.page.get_by_role("form", name="What you get").get_by_role("button", name="Save")
    ).to_be_enabled()
