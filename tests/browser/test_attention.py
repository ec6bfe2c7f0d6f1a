"""Reaching people who are not looking, in a real browser: a moderator whose tab is behind
another gets a crisis alert in the tab title, a tone and a system notification (a report: the
title and the banner, no sound), until the console is opened or the alert is closed; a
patient's tab title counts the messages waiting in other rooms, and stops once they are read
(docs/web-client.md)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import PeerFactory, TabFactory
from tests.browser.pages import (
    Tab,
    describe_violations,
    open_alerts,
    serious_axe_violations,
)
from tests.support import Api, Community, RunningServer, eventually, joined, send

pytestmark = pytest.mark.asyncio(loop_scope="session")

CRISIS = "i want to end my life"
CRISIS_TITLE = re.compile(r"^⚠ Crisis alert – ")
REPORT_TITLE = re.compile(r"^⚠ Reported message – ")
ANY_ALERT_TITLE = re.compile(r"^⚠ ")


def screen_title(screen: str, alert: str = "") -> re.Pattern[str]:
    """A screen's title, after the alert given and any unread count (messages posted in the
    test count for the moderator too)."""
    return re.compile(rf"^{re.escape(alert)}(\(\d+\) )?{re.escape(screen)} – peerrooms$")


# Other rooms' counts move live with `room_activity` (a burst's first message at once, the rest
# a second later on the server's clock, which stands still here: tests/browser/
# test_room_activity.py), and exactly with the room list, read again every 60 s on every
# screen (web/src/state.ts, ROOMS_REFRESH_MS).
ROOMS_REFRESH_MS = 60_000

# Records, in the page, each oscillator started (the tone is made with the Web Audio API) and
# each system notification shown, passing both on to the browser's own.
RECORDER = """
(() => {
  window.__tones = [];
  window.__notifications = [];
  const RealAudioContext = window.AudioContext;
  if (RealAudioContext) {
    window.AudioContext = class extends RealAudioContext {
      createOscillator() {
        const oscillator = super.createOscillator();
        const start = oscillator.start.bind(oscillator);
        oscillator.start = (...args) => {
          window.__tones.push(oscillator.frequency.value);
          return start(...args);
        };
        return oscillator;
      }
    };
  }
  const RealNotification = window.Notification;
  if (RealNotification) {
    window.Notification = class extends RealNotification {
      constructor(title, options = {}) {
        super(title, options);
        window.__notifications.push({title, body: options.body || "", tag: options.tag || ""});
      }
    };
  }
})();
"""


async def tones(page: Page) -> int:
    return int(await page.evaluate("() => window.__tones.length"))


async def notifications(page: Page) -> list[dict[str, Any]]:
    return list(await page.evaluate("() => window.__notifications"))


async def no_serious_axe_violations(tab: Tab, screen: str) -> None:
    violations = await serious_axe_violations(tab.page)
    assert not violations, describe_violations(screen, violations)


async def behind_another_page(tab: Tab) -> Page:
    """Another page of the same browser brought in front of the tab's."""
    front = await tab.context.new_page()
    await front.goto("about:blank")
    await front.bring_to_front()
    return front


async def test_a_moderator_not_looking_gets_a_crisis_alert_in_the_title_a_tone_and_a_notification(
    browse: TabFactory,
    api: Api,
    peer: PeerFactory,
    community: Community,
    server: RunningServer,
    axe_script: Path,
) -> None:
    c = community
    # The tab lets axe-core's script in (the page's policy refuses inline scripts).
    lee = await browse(desktop=True, bypass_csp=True)
    await lee.context.add_init_script(RECORDER)
    # Signing in is a click in the page: from then on it may make sound.
    await lee.sign_in(c.mod_lee)
    await expect(lee.page).to_have_title("Rooms – peerrooms")

    # Desktop alerts are asked for from the console, with a button, never on their own.
    await lee.open_console()
    alerts = lee.region("Alerts")
    turn_on = alerts.get_by_role("button", name="Turn on desktop alerts")
    desktop = alerts.get_by_role("status", name="Desktop alerts")
    await expect(turn_on).to_be_visible()
    await expect(desktop).to_have_text("Desktop alerts are off in this browser.")
    await no_serious_axe_violations(lee, "console, desktop alerts off")
    # (The browser's own question, answered yes.)
    await lee.context.grant_permissions(["notifications"], origin=server.url)
    await turn_on.click()
    await expect(desktop).to_contain_text("Desktop alerts are on in this browser")
    await expect(turn_on).to_be_hidden()
    await expect(desktop).to_be_focused()
    await no_serious_axe_violations(lee, "console, desktop alerts on")

    # Lee is elsewhere in the app, and the tab is behind another page.
    await lee.nav.get_by_role("link", name="Meetings", exact=True).click()
    await expect(lee.heading("Meetings")).to_be_visible()
    await expect(lee.page).to_have_title("Meetings – peerrooms")
    front = await behind_another_page(lee)
    assert await tones(lee.page) == 0 and await notifications(lee.page) == []

    ana = await peer(c.pat_ana.token)
    await joined(ana, c.group_a)
    await send(ana, c.group_a, CRISIS)

    await expect(lee.page).to_have_title(CRISIS_TITLE)
    await expect(lee.page).to_have_title(screen_title("Meetings", alert="⚠ Crisis alert – "))
    await lee.page.wait_for_function("() => window.__tones.length > 0")
    await lee.page.wait_for_function("() => window.__notifications.length > 0")
    [shown] = await notifications(lee.page)
    assert shown["title"] == "⚠ Crisis alert – peerrooms", shown
    assert "moderator console" in shown["body"], shown
    # A notification may show where others see it: nobody named, nothing quoted.
    assert "Ana" not in str(shown) and CRISIS not in str(shown), shown

    # Back at the tab: the banner says it too, and the title keeps it until the console opens.
    await lee.page.bring_to_front()
    await front.close()
    banner = lee.alert("Crisis alert: Ana")
    await expect(banner).to_be_visible()
    await expect(lee.page).to_have_title(CRISIS_TITLE)
    await banner.get_by_role("link", name="Review alerts").click()
    await expect(lee.heading("Moderator console")).to_be_visible()
    await expect(lee.page).to_have_title(screen_title("Moderator console"))
    await expect(alerts).to_contain_text(CRISIS)

    # A report: the title and the banner, no tone and no notification; gone once resolved.
    await lee.nav.get_by_role("link", name="Meetings", exact=True).click()
    await expect(lee.page).to_have_title(screen_title("Meetings"))
    heard = await tones(lee.page)
    avi = await peer(c.pat_avi.token)
    await joined(avi, c.group_a)
    message = await send(avi, c.group_a, "the bus was late again, see you all on monday")
    reply = await api.post(
        f"/api/messages/{message['id']}/reports",
        {"reason": "Talking people out of group"},
        c.pat_ana.token,
    )
    assert reply.status == 201, reply.body
    # (Only the report is new: the message itself raised nothing.)
    kinds = sorted(
        (a["user"]["display_name"], a["kind"]) for a in await open_alerts(api, c.mod_lee)
    )
    assert kinds == [("Ana", "crisis"), ("Avi", "report")], kinds
    await expect(lee.page).to_have_title(REPORT_TITLE)
    await expect(lee.alert("Reported message from Avi")).to_be_visible()
    assert await tones(lee.page) == heard
    assert len(await notifications(lee.page)) == 1
    resolved = await api.post(
        f"/api/reports/{reply.body['report']['id']}/resolve",
        {"resolution": "dismissed"},
        c.mod_lee.token,
    )
    assert resolved.status == 200, resolved.body
    await expect(lee.page).not_to_have_title(ANY_ALERT_TITLE)
    await expect(lee.page).to_have_title(screen_title("Meetings"))


async def test_a_patients_tab_title_counts_messages_waiting_in_other_rooms(
    browse: TabFactory, api: Api, peer: PeerFactory, community: Community
) -> None:
    c = community
    ana = await browse()
    # The page's timers on a clock the test moves: the room list's refresh comes when told.
    await ana.page.clock.install()
    await ana.sign_in(c.pat_ana)
    await expect(ana.page).to_have_title("Rooms – peerrooms")
    await ana.open_room(c.commons, "Commons")
    await expect(ana.page).to_have_title("Commons – peerrooms")

    # Messages in Group A, while Ana reads Commons: the title counts them.
    avi = await peer(c.pat_avi.token)
    await joined(avi, c.group_a)
    await joined(avi, c.commons)
    for n in (1, 2):
        await send(avi, c.group_a, f"in group, number {n}")
    await ana.page.clock.fast_forward(ROOMS_REFRESH_MS)
    await expect(ana.page).to_have_title("(2) Commons – peerrooms")
    # A message in the room on screen is read as it comes: the count stays.
    await send(avi, c.commons, "hello commons")
    await expect(ana.message("hello commons")).to_be_visible()
    await expect(ana.page).to_have_title("(2) Commons – peerrooms")

    # The client tells the server it read Commons; the room list, read again next, says so.
    async def commons_read() -> bool:
        rooms = (await api.get("/api/rooms", c.pat_ana.token)).body["rooms"]
        return any(room["id"] == c.commons and room["unread_count"] == 0 for room in rooms)

    await eventually(commons_read, "Commons marked read on the server")

    # The room list says the same; reading Group A brings the title back to the screen's own.
    await ana.nav.get_by_role("link", name="Rooms", exact=True).click()
    await expect(ana.room_item("Group A")).to_contain_text("2 unread")
    await expect(ana.page).to_have_title("(2) Rooms – peerrooms")
    await ana.room_list.get_by_role("link", name="Group A", exact=True).click()
    await ana.in_room("Group A")
    await expect(ana.message("in group, number 2")).to_be_visible()
    await expect(ana.page).to_have_title("Group A – peerrooms")
    await ana.nav.get_by_role("link", name="Rooms", exact=True).click()
    await expect(ana.room_item("Group A")).not_to_contain_text("unread")
    await expect(ana.page).to_have_title("Rooms – peerrooms")
