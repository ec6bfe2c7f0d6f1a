"""Video calls in real browsers: Chromium pages with fake cameras and microphones on the
meeting page, Janus and the server all inside a network namespace the test makes
(tests/browser/video_lab.py). What each page receives is read from its peer connections'
`getStats` (frames decoded, audio packets), not from what the page says about itself."""

from __future__ import annotations

import asyncio
import time

import pytest
from playwright.async_api import Locator, expect

from tests.browser.pages import Tab
from tests.browser.video_lab import (
    VideoLab,
    inbound_counts,
    media_rising,
    video_lab_fixture,  # noqa: F401 - the fixtures
    video_lab_module_fixture,  # noqa: F401
)
from tests.support import Person, eventually, register

pytestmark = pytest.mark.asyncio(loop_scope="session")

# The bound on a ban: the banned person's media stops within this.
BAN_STOPS_MEDIA_S = 3.0


async def on_the_meeting_page(lab: VideoLab, person: Person, *, desktop: bool = False) -> Tab:
    tab = await lab.tab(person, desktop=desktop)
    await tab.page.goto(f"/#/meetings/{lab.meeting.id}")
    await tab.in_meeting(lab.meeting.title)
    return tab


def call(tab: Tab) -> Locator:
    return tab.page.get_by_role("region", name="Video call")


async def join(tab: Tab, *, audio_only: bool = False) -> None:
    name = "Join with audio only" if audio_only else "Join with video"
    await call(tab).get_by_role("button", name=name, exact=True).click()
    await expect(call(tab).get_by_role("status")).to_have_text("In the call")


def tile(tab: Tab, alias: str) -> Locator:
    return call(tab).locator("figure").filter(has=tab.page.locator("figcaption", has_text=alias))


async def leave_everyone(*tabs: Tab) -> None:
    """Out of the call, so the module's next test starts with an empty room."""
    for tab in tabs:
        leave = call(tab).get_by_role("button", name="Leave call")
        if await leave.is_visible():
            await leave.click()
            await expect(call(tab).get_by_role("status")).to_have_text("Not in the call")


async def stays_still(tab: Tab, key: str, seconds: float = 2.0) -> bool:
    """Whether the page's count `key` did not move over `seconds`."""
    before = (await inbound_counts(tab.page))[key]
    await asyncio.sleep(seconds)
    return (await inbound_counts(tab.page))[key] == before


async def falls_still(tab: Tab, key: str, within_s: float = 10.0) -> bool:
    """Whether the page's count `key` stops moving (still over two seconds) within
    `within_s`: what was already on its way (the network, the jitter buffer) plays out
    first, for longer on a loaded machine."""
    deadline = asyncio.get_running_loop().time() + within_s
    while asyncio.get_running_loop().time() < deadline:
        if await stays_still(tab, key):
            return True
    return False


async def test_three_people_see_and_hear_one_another(video_lab: VideoLab) -> None:
    lab = video_lab
    people = [lab.people[name] for name in ("pat_ana", "pat_avi", "pat_cy")]
    tabs = [await on_the_meeting_page(lab, person) for person in people]
    await expect(call(tabs[0])).to_contain_text("This call is never recorded.")
    for tab in tabs:
        await join(tab)
    for tab, person in zip(tabs, people, strict=True):
        await expect(call(tab).locator("figure")).to_have_count(3)
        await expect(tile(tab, person.display_name)).to_contain_text("You")
        counts = await media_rising(tab.page)
        # Each page decodes the two others' cameras and hears their two microphones.
        assert (counts["video_streams"], counts["audio_streams"]) == (2, 2), counts
    # A phone shows one speaker large and the others in a row.
    layout = call(tabs[0]).locator(".call-tiles")
    await expect(layout).to_have_attribute("data-layout", "speaker")
    await leave_everyone(*tabs)


async def test_joining_with_audio_only(video_lab: VideoLab) -> None:
    lab = video_lab
    ana = await on_the_meeting_page(lab, lab.people["pat_ana"], desktop=True)
    cy = await on_the_meeting_page(lab, lab.people["pat_cy"])
    await join(ana)
    await join(cy, audio_only=True)
    # Cy hears Ana and takes no video; Ana hears Cy, whose tile shows no picture.
    heard = await media_rising(cy.page, video=False)
    assert (heard["video_streams"], heard["audio_streams"]) == (0, 1), heard
    assert await stays_still(cy, "frames_decoded"), "an audio-only page decoded video"
    from_cy = await media_rising(ana.page, video=False)
    assert (from_cy["video_streams"], from_cy["audio_streams"]) == (0, 1), from_cy
    await expect(tile(ana, "Cy").get_by_role("img", name="Cy")).to_be_visible()
    await expect(call(ana).locator(".call-tiles")).to_have_attribute("data-layout", "grid")
    await leave_everyone(ana, cy)


async def test_a_moderator_mutes_and_removes_a_participant(video_lab: VideoLab) -> None:
    lab = video_lab
    lee = await on_the_meeting_page(lab, lab.people["mod_lee"], desktop=True)
    avi = await on_the_meeting_page(lab, lab.people["pat_avi"])
    await join(lee)
    await join(avi)
    await media_rising(lee.page)

    # Muted at the media server: Lee stops hearing Avi, whose page says so.
    await call(lee).get_by_role("button", name="Mute Avi", exact=True).click()
    dialog = lee.page.get_by_role("dialog", name="Mute Avi's microphone?")
    await dialog.get_by_role("textbox", name="Reason").fill("Background noise")
    await dialog.get_by_role("button", name="Mute", exact=True).click()
    await expect(
        avi.page.get_by_role("alert").filter(has_text="A moderator muted your microphone")
    ).to_be_visible()
    await expect(call(avi).get_by_role("button", name="Unmute microphone")).to_be_disabled()
    await asyncio.sleep(1.0)  # packets already on their way
    assert await stays_still(lee, "packets_received"), "Avi's microphone still reaches Lee"
    assert not await stays_still(lee, "frames_decoded"), "Avi's camera should still be seen"

    await call(lee).get_by_role("button", name="Unmute Avi", exact=True).click()
    dialog = lee.page.get_by_role("dialog", name="Unmute Avi's microphone?")
    await dialog.get_by_role("textbox", name="Reason").fill("Quiet now")
    await dialog.get_by_role("button", name="Unmute", exact=True).click()
    await media_rising(lee.page, video=False)

    # Removed: Avi's page leaves the call and may not join it again.
    await call(lee).get_by_role("button", name="Remove Avi from the call", exact=True).click()
    dialog = lee.page.get_by_role("dialog", name="Remove Avi from the call?")
    await dialog.get_by_role("textbox", name="Reason").fill("Disruptive")
    await dialog.get_by_role("button", name="Remove", exact=True).click()
    await expect(call(avi).get_by_role("status")).to_have_text(
        "A moderator removed you from this call."
    )
    await expect(tile(lee, "Avi")).to_have_count(0)
    assert (await inbound_counts(avi.page))["connected"] == 0
    again = await lab.api.post(
        f"/api/meetings/{lab.meeting.id}/video", {}, lab.people["pat_avi"].token
    )
    assert again.status == 403 and again.error_code == "forbidden", again.body
    await leave_everyone(lee)


async def test_a_ban_during_the_call_stops_the_persons_media_at_once(video_lab: VideoLab) -> None:
    lab = video_lab
    ana_person, cy_person = lab.people["pat_ana"], lab.people["pat_cy"]
    ana = await on_the_meeting_page(lab, ana_person, desktop=True)
    cy = await on_the_meeting_page(lab, cy_person, desktop=True)
    await join(ana)
    await join(cy)
    await media_rising(ana.page)
    await media_rising(cy.page)

    banned_at = time.monotonic()
    reply = await lab.api.post(
        f"/api/rooms/{lab.meeting.room_id}/bans",
        {"user_id": cy_person.id, "reason": "Threats"},
        lab.people["mod_lee"].token,
    )
    assert reply.status == 201, reply.body
    # Cy's page has dropped every connection, and Ana no longer receives Cy's media.
    while (await inbound_counts(cy.page))["connected"] > 0:
        assert time.monotonic() - banned_at < BAN_STOPS_MEDIA_S, "Cy's page is still connected"
        await asyncio.sleep(0.1)
    while not await stays_still(ana, "frames_decoded", 0.5):
        assert time.monotonic() - banned_at < BAN_STOPS_MEDIA_S, "Ana still receives Cy's video"
    stopped_s = time.monotonic() - banned_at
    assert stopped_s < BAN_STOPS_MEDIA_S, stopped_s

    # A reload is refused: the meeting is not Cy's to open any more, no pass, no call.
    await cy.page.reload()
    await expect(cy.heading("Meetings")).to_be_visible()
    await expect(cy.page.get_by_role("list", name="Upcoming meetings")).to_have_count(0)
    await expect(call(cy)).to_have_count(0)
    assert (await inbound_counts(cy.page))["peer_connections"] == 0
    refused = await lab.api.post(f"/api/meetings/{lab.meeting.id}/video", {}, cy_person.token)
    assert refused.status == 403 and refused.error_code == "banned", refused.body
    await leave_everyone(ana)


async def test_time_in_the_call_is_attendance(video_lab: VideoLab) -> None:
    lab = video_lab
    admin, lee = lab.people["admin"], lab.people["mod_lee"]
    cohort = (await lab.api.get(f"/api/users/{lab.people['pat_ana'].id}", admin.token)).body
    dot = await register(lab.api, lee, "pat_dot", "patient", cohort["user"]["cohort_ids"][0])
    tab = await on_the_meeting_page(lab, dot)
    await join(tab)  # alone in the call: publishing, with nobody to receive from

    async def in_call_minutes() -> float | None:
        reply = await lab.api.get(
            f"/api/meetings/{lab.meeting.id}/attendance?occurrence={lab.meeting.occurrence}",
            lee.token,
        )
        assert reply.status == 200, reply.body
        [row] = [r for r in reply.body["attendees"] if r["user"]["id"] == dot.id]
        minutes = float(row["minutes_in_call"])
        return minutes if minutes >= 0.1 else None  # six seconds, to a tenth of a minute

    await eventually(in_call_minutes, "Dot's time in the call to be counted", timeout=20)

    async def out_of_the_call() -> bool:
        state = await lab.api.get(f"/api/meetings/{lab.meeting.id}/video", lee.token)
        rows = [p for p in state.body["call"]["participants"] if p["user_id"] == dot.id]
        return bool(rows) and not any(p["in_call"] for p in rows)

    await leave_everyone(tab)
    await eventually(out_of_the_call, "the server to see Dot leave the call")
