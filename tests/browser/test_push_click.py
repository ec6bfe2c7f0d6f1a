"""Where a click on a notification leads (docs/notifications.md, "On the phone"), with the click
a person makes: in a real Chromium whose notifications go to a desktop notification server of
the test's own (tests/browser/desktop_notifications.py), which clicks them as a desktop does.
The browser then dispatches a trusted `notificationclick` to web/public/sw.js, with the right
to focus and open windows that only a real click gives.

A push reaches the worker through the DevTools protocol (`ServiceWorker.deliverPushMessage`,
the payload the server would encrypt), as in test_push_client.py: this Chromium has no push
service it may reach.

An open window of the app is taken to the notification's screen, in the same page (signed in,
nothing reloaded); with none open, a new one opens at it; an address outside the app in a
payload is never followed: the room list instead."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import require
from tests.browser.desktop_notifications import (
    DBUS_DAEMON,
    DesktopNotifications,
    Shown,
    running_desktop,
)
from tests.browser.pages import CHROMIUM, CHROMIUM_ARGS, PHONE, TIMEZONE, WAIT_MS, Tab
from tests.browser.service_worker import (
    CRISIS_ALERT,
    NO_PUSH_SERVICE,
    deliver_push,
    message_in,
    notifications_under,
    worker_registration,
)
from tests.support import PASSWORD, Community, Person, RunningServer

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def desktop() -> AsyncIterator[DesktopNotifications]:
    require((DBUS_DAEMON, "apt-get install dbus-daemon"))
    async with running_desktop() as running:
        yield running


@pytest_asyncio.fixture(loop_scope="session")
async def chromium(
    browser: Browser, server: RunningServer, desktop: DesktopNotifications, tmp_path: Path
) -> AsyncIterator[BrowserContext]:
    """A Chromium with a profile of its own (one of Playwright's off-the-record contexts takes
    no click on a notification), showing notifications on `desktop`, allowed to by the app's
    origin. Its pages must throw no uncaught error nor break the page's policy."""
    context = await browser.browser_type.launch_persistent_context(
        tmp_path / "profile",
        executable_path=str(CHROMIUM),
        args=[*CHROMIUM_ARGS, *NO_PUSH_SERVICE, "--password-store=basic"],
        env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": desktop.address},
        base_url=server.url,
        viewport=PHONE,
        device_scale_factor=1,
        locale="en-US",
        timezone_id=TIMEZONE,
    )
    context.set_default_timeout(WAIT_MS)
    await context.grant_permissions(["notifications"], origin=server.url)
    tabs: list[Tab] = []
    context.on("page", lambda page: tabs.append(watched(context, page)))
    tabs.extend(watched(context, page) for page in context.pages)
    yield context
    await context.close()
    problems = [problem for tab in tabs for problem in tab.problems()]
    assert not problems, "the web client misbehaved:\n" + "\n".join(problems)


def watched(context: BrowserContext, page: Page) -> Tab:
    tab = Tab(context, page)
    tab.watch()
    return tab


async def signed_in(context: BrowserContext, person: Person) -> Tab:
    """The profile's first window, signed in as `person` (which registers the worker)."""
    tab = Tab(context, context.pages[0])
    await tab.sign_in(person)
    return tab


async def pushed(
    tab: Tab, server: RunningServer, desktop: DesktopNotifications, payload: dict[str, str]
) -> Shown:
    """Deliver a push to the tab's service worker: the notification the desktop then shows."""
    cdp = await tab.context.new_cdp_session(tab.page)
    registration = await worker_registration(cdp, server)
    await deliver_push(cdp, server, registration, payload)
    await cdp.detach()
    return await desktop.showing(payload["title"])


async def test_a_click_takes_the_open_window_to_its_screen(
    chromium: BrowserContext,
    desktop: DesktopNotifications,
    server: RunningServer,
    community: Community,
) -> None:
    c = community
    ana = await signed_in(chromium, c.pat_ana)
    shown = await pushed(ana, server, desktop, message_in(c.group_a, "Group A", "Avi: Tea?"))
    assert shown.body.endswith("Avi: Tea?"), shown
    # The same page must stay: a mark the page would lose on a reload.
    await ana.page.evaluate("window.stayedOpen = true")
    # Another tab in front. (Which one has focus cannot be told here: Playwright has every page
    # believe it has.)
    elsewhere = await chromium.new_page()
    await elsewhere.bring_to_front()

    await desktop.click(shown)
    await expect(ana.page).to_have_url(f"{server.url}/#/rooms/{c.group_a}")
    await ana.in_room("Group A")
    assert await ana.page.evaluate("window.stayedOpen") is True
    # The notification is closed, and no other window was opened.
    await desktop.gone(shown)
    assert await notifications_under(ana, f"room-{c.group_a}") == []
    assert chromium.pages == [ana.page, elsewhere]


async def test_an_address_outside_the_app_leads_to_the_room_list(
    chromium: BrowserContext,
    desktop: DesktopNotifications,
    server: RunningServer,
    community: Community,
) -> None:
    c = community
    ana = await signed_in(chromium, c.pat_ana)
    await ana.open_room(c.group_a, "Group A")
    lure = {**message_in(c.group_a, "Group A", "Avi: look"), "url": "https://example.org/#/x"}
    await desktop.click(await pushed(ana, server, desktop, lure))
    await expect(ana.page).to_have_url(f"{server.url}/#/rooms")
    await expect(ana.heading("Rooms")).to_be_visible()
    assert [page.url for page in chromium.pages] == [f"{server.url}/#/rooms"]


async def test_with_no_window_open_a_click_opens_one_at_its_screen(
    chromium: BrowserContext,
    desktop: DesktopNotifications,
    server: RunningServer,
    community: Community,
) -> None:
    c = community
    lee = await signed_in(chromium, c.mod_lee)
    shown = await pushed(lee, server, desktop, CRISIS_ALERT)
    await lee.page.close()
    assert chromium.pages == []

    async with chromium.expect_event("page") as opening:
        await desktop.click(shown)
    page = await opening.value
    opened = Tab(chromium, page)
    # A new window has no sign-in (it lives in the tab's sessionStorage): the app asks for it,
    # and then goes on to the screen the window was opened at, which only the address named.
    await expect(opened.heading("Sign in")).to_be_visible()
    await opened.fill_sign_in(c.mod_lee.username, PASSWORD)
    await expect(opened.heading("Moderator console")).to_be_visible()
    await expect(page).to_have_url(re.compile(rf"^{re.escape(server.url)}/#/console$"))
    await desktop.gone(shown)
