"""The installable app's notifications in a real Chromium (docs/notifications.md, "On the
phone"): the Notifications screen, the service worker showing a push and opening its screen
when clicked, the settings form, and following a room from its header.

Chromium here has no push service it may reach: a browser context of Playwright's is an
off-the-record profile, where `pushManager.subscribe()` is refused before anything is sent,
and this module's Chromium also has its GCM addresses on a closed port of this machine and
every host name but the server's unresolvable, so nothing about push ever leaves the machine.
The worker is therefore tested on its own: a push is handed to it through the DevTools
protocol (`ServiceWorker.deliverPushMessage`, the payload the server would encrypt), and its
notification read back with `registration.getNotifications()`. Here the click is a
`notificationclick` made and dispatched inside the worker (evaluated in its global scope
through Playwright) to the worker's own listener, with the notification it showed (see
`click_notification`); `test_push_click.py` clicks it as a desktop does, through a
notification server of its own on D-Bus."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Worker, expect

from tests.browser.conftest import TabFactory, require
from tests.browser.pages import (
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEZONE,
    Tab,
    describe_violations,
    serious_axe_violations,
)
from tests.browser.service_worker import (
    CRISIS_ALERT,
    NO_PUSH_SERVICE,
    app_worker,
    deliver_push,
    message_in,
    notifications_under,
    shown,
    worker_registration,
)
from tests.support import Api, Community, Person, RunningServer, notification_settings

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser(browser: Browser) -> AsyncIterator[Browser]:
    """This module's Chromium (the session's, launched again with NO_PUSH_SERVICE)."""
    require((CHROMIUM, "apt-get install chromium"))
    chromium = await browser.browser_type.launch(
        executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *NO_PUSH_SERVICE]
    )
    yield chromium
    await chromium.close()


async def open_notifications(tab: Tab) -> None:
    await tab.nav.get_by_role("link", name="Notifications", exact=True).click()
    await expect(tab.heading("Notifications")).to_be_visible()
    await expect(tab.nav.get_by_role("link", name="Notifications")).to_have_attribute(
        "aria-current", "page"
    )


async def click_notification(worker: Worker, tag: str) -> None:
    """A click on the notification shown under `tag`: a `notificationclick` event with that
    notification, dispatched in the worker to its own listener. An event made by a script is
    not trusted, and the browser refuses `waitUntil` on it; so this one carries a `waitUntil`
    of its own that keeps what the listener hands it, as the browser would, and it is awaited
    (the listener must hand over its work, or the browser may stop the worker midway)."""
    handed_over = await worker.evaluate(
        """async (tag) => {
            const [notification] = await self.registration.getNotifications({tag});
            if (!notification) return "no notification";
            const event = new NotificationEvent("notificationclick", {notification});
            const work = [];
            event.waitUntil = (promise) => work.push(promise);
            self.dispatchEvent(event);
            if (work.length !== 1) return `waitUntil called ${work.length} times`;
            await work[0];
            return "done";
        }""",
        tag,
    )
    assert handed_over == "done", handed_over


# ----- the tests -----


async def test_this_device_and_a_push_shown_then_clicked_open(
    browse: TabFactory, api: Api, community: Community, server: RunningServer
) -> None:
    c = community
    ana = await browse()
    await ana.context.grant_permissions(["notifications"], origin=server.url)
    await ana.sign_in(c.pat_ana)
    await open_notifications(ana)
    device = ana.region("This device")
    await expect(device.get_by_role("status")).to_have_text(
        "Notifications are off for this device."
    )
    assert await ana.page.evaluate("Notification.permission") == "granted"

    # Turning them on: the permission is there, but this Chromium has no push service, so the
    # subscription is refused and said so; the server holds nothing for this browser.
    await device.get_by_role("button", name="Turn on notifications on this device").click()
    await expect(device.get_by_role("alert")).to_contain_text(
        "This browser could not turn on notifications"
    )
    await expect(device.get_by_role("status")).to_have_text(
        "Notifications are off for this device."
    )
    assert not await ana.page.evaluate(
        "navigator.serviceWorker.ready.then(r => r.pushManager.getSubscription())"
    )
    assert (await notification_settings(api, c.pat_ana))["push_devices"] == 0

    # The worker the app registered after signing in shows a push as the server sends it.
    cdp = await ana.context.new_cdp_session(ana.page)
    registration = await worker_registration(cdp, server)
    tag = f"room-{c.group_a}"
    # As the server sends a message in a followed room to someone with previews on.
    message = message_in(c.group_a, "Group A", "Avi: See you all tonight")
    await deliver_push(cdp, server, registration, message)
    assert await shown(ana, tag) == {
        "title": "Group A",
        "body": "Avi: See you all tonight",
        "tag": tag,
        "data": {"url": f"#/rooms/{c.group_a}"},
        "icon": f"{server.url}/icons/icon-192.png",
        "requireInteraction": False,
        "renotify": False,
    }
    # A second message in the room replaces it (one tag per room): one notification, not two.
    await deliver_push(cdp, server, registration, {**message, "body": "Avi: Bring tea"})
    await shown(ana, tag, body="Avi: Bring tea")

    # A crisis alert stays until acted on and sounds again though one is shown.
    await deliver_push(cdp, server, registration, CRISIS_ALERT)
    await shown(ana, "alert-7", title=CRISIS_ALERT["title"], requireInteraction=True, renotify=True)
    # A route that is not the app's is not followed: the room list instead.
    await deliver_push(
        cdp, server, registration, {**message, "tag": "odd", "url": "https://example.org/"}
    )
    await shown(ana, "odd", data={"url": "#/rooms"})

    # Clicking the room's notification closes it and takes the open tab to the room.
    await click_notification(app_worker(ana, server), tag)
    await expect(ana.page).to_have_url(re.compile(rf"/#/rooms/{c.group_a}$"))
    await ana.in_room("Group A")
    assert await notifications_under(ana, tag) == []
    # The others are still there until clicked.
    assert len(await notifications_under(ana, "alert-7")) == 1


async def test_the_settings_are_saved_and_shown_again(
    browse: TabFactory, api: Api, community: Community
) -> None:
    c = community
    avi = await browse()
    await avi.sign_in(c.pat_avi)
    await open_notifications(avi)
    form = avi.page.get_by_role("form", name="What you get")
    previews = form.get_by_role("checkbox", name="Show message text on the lock screen")
    reminder = form.get_by_role(
        "spinbutton", name="Remind me before sessions (minutes, 0 for never)"
    )
    no_quiet = form.get_by_role("checkbox", name="No quiet hours")
    quiet_from = form.get_by_label("Quiet hours from")
    quiet_to = form.get_by_label("Quiet hours to")

    # The defaults: no text on the lock screen, reminders 15 minutes before, no quiet hours.
    await expect(previews).not_to_be_checked()
    await expect(previews).to_have_accessible_description(
        "Anyone who can see your lock screen could read it."
    )
    await expect(reminder).to_have_value("15")
    await expect(no_quiet).to_be_checked()
    await expect(quiet_from).to_be_disabled()

    # A wrong number is said, naming the field, and nothing is saved.
    await reminder.fill("2000")
    await form.get_by_role("button", name="Save", exact=True).click()
    await expect(form.get_by_role("alert")).to_contain_text("Remind me before sessions")
    assert (await notification_settings(api, c.pat_avi))["reminder_minutes"] == 15

    await previews.check()
    await reminder.fill("30")
    await no_quiet.uncheck()
    await quiet_from.fill("21:30")
    await quiet_to.fill("06:45")
    await form.get_by_role("button", name="Save", exact=True).click()
    await expect(form.get_by_role("status")).to_have_text(
        f"Saved. Reminders 30 minutes before sessions. Quiet from 21:30 to 06:45 ({TIMEZONE})."
    )
    await expect(form.get_by_role("alert")).to_be_hidden()
    saved = await notification_settings(api, c.pat_avi)
    assert {key: saved[key] for key in ("previews", "reminder_minutes", "quiet_start")} == {
        "previews": True,
        "reminder_minutes": 30,
        "quiet_start": "21:30",
    }
    # The quiet hours are on the browser's clock, whose zone is saved with them.
    assert (saved["quiet_end"], saved["timezone"]) == ("06:45", TIMEZONE)

    # Shown again as saved on coming back.
    await avi.page.reload()
    await expect(avi.heading("Notifications")).to_be_visible()
    await expect(previews).to_be_checked()
    await expect(reminder).to_have_value("30")
    await expect(no_quiet).not_to_be_checked()
    await expect(quiet_from).to_have_value("21:30")
    await expect(quiet_to).to_have_value("06:45")

    # No quiet hours, and no reminders.
    await no_quiet.check()
    await reminder.fill("0")
    await form.get_by_role("button", name="Save", exact=True).click()
    await expect(form.get_by_role("status")).to_have_text(
        "Saved. No session reminders. No quiet hours."
    )
    saved = await notification_settings(api, c.pat_avi)
    assert (saved["quiet_start"], saved["quiet_end"], saved["reminder_minutes"]) == (None, None, 0)


async def test_following_a_room_from_its_header_and_stopping_on_notifications(
    browse: TabFactory, api: Api, community: Community, axe_script: Path
) -> None:
    c = community
    # Axe is added to the page as a script of its own, which the policy would refuse.
    ana = await browse(bypass_csp=True)
    await ana.sign_in(c.pat_ana)
    await ana.open_room(c.group_a, "Group A")
    follow = ana.page.get_by_role("button", name="Follow this room")
    await expect(follow).to_have_attribute("aria-pressed", "false")
    await follow.click()
    following = ana.page.get_by_role("button", name="Following", exact=True)
    await expect(following).to_have_attribute("aria-pressed", "true")
    # The button changes on the server's answer.
    assert await _followed(api, c.pat_ana) == [c.group_a]

    # Known again when the room is opened again.
    await ana.open_room(c.commons, "Commons")
    await expect(ana.page.get_by_role("button", name="Follow this room")).to_be_visible()
    await ana.open_room(c.group_a, "Group A")
    await expect(following).to_have_attribute("aria-pressed", "true")

    await open_notifications(ana)
    followed = ana.page.get_by_role("list", name="Rooms you follow")
    await expect(followed.get_by_role("listitem")).to_have_count(1)
    await expect(followed.get_by_role("listitem")).to_contain_text("Group A")
    await expect(ana.region("This device").get_by_role("status")).to_have_text(
        "Notifications are off for this device."
    )

    violations = await serious_axe_violations(ana.page)
    assert not violations, describe_violations("notifications", violations)

    await followed.get_by_role("button", name="Stop following Group A").click()
    rooms_region = ana.region("Rooms you follow")
    await expect(rooms_region.get_by_role("status")).to_have_text("You no longer follow Group A.")
    await expect(followed).to_have_count(0)
    await expect(rooms_region).to_contain_text("You follow no rooms.")
    assert await _followed(api, c.pat_ana) == []
    violations = await serious_axe_violations(ana.page)
    assert not violations, describe_violations("notifications, nothing followed", violations)


async def _followed(api: Api, person: Person) -> list[int]:
    rooms: list[int] = (await notification_settings(api, person))["followed_room_ids"]
    return rooms
