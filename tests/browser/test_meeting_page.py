"""The meeting page's own parts in real browsers (web/src/views/meeting-room.ts): the session's
state line through lobby, live and ended with the check-in there while live, and the group's
own video link on a server without a media server (the in-process server, its clock a
FakeClock); then, in the video lab (tests/browser/video_lab.py: Janus, the server and Chromium
in a network namespace), the camera and microphone buttons, a raised hand and a moderator
ending the call, each read from what the other pages receive (`getStats`)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import TabFactory
from tests.browser.pages import (
    MEETING_ZONE,
    LiveMeeting,
    Tab,
    describe_violations,
    live_meeting,
    local_time_pattern,
    serious_axe_violations,
)
from tests.browser.test_video_call import (
    call,
    falls_still,
    join,
    leave_everyone,
    stays_still,
    tile,
)
from tests.browser.video_lab import (
    VideoLab,
    inbound_counts,
    media_rising,
    video_lab_fixture,  # noqa: F401 - the fixtures
    video_lab_module_fixture,  # noqa: F401
)
from tests.support import Api, Community, FakeClock, daily_meeting, eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def meeting_page(tab: Tab, meeting_id: int, title: str) -> Tab:
    await tab.page.goto(f"/#/meetings/{meeting_id}")
    await tab.in_meeting(title)
    return tab


# ----- without a media server -----


async def test_the_state_line_goes_from_lobby_to_live_to_ended_with_the_check_in_while_live(
    browse: TabFactory, api: Api, community: Community, clock: FakeClock
) -> None:
    c = community
    starts_in = timedelta(minutes=20)  # the lobby (15 minutes) opens in five
    meeting = await daily_meeting(api, c, clock, starts_in=starts_in)
    start = (clock.now() + starts_in).replace(second=0, microsecond=0)
    local_start = start.astimezone(MEETING_ZONE)  # the page's time zone
    ana = await browse()
    await ana.sign_in(c.pat_ana)
    await meeting_page(ana, meeting, "Evening group")
    state = ana.page.get_by_role("status", name="Session")
    checkin = ana.page.get_by_role("region", name="Check in")
    await expect(state).to_contain_text("The lobby opens")
    await expect(checkin).to_have_count(0)

    await clock.advance(minutes=6)  # the meeting clock opens the lobby and tells the page
    await expect(state).to_contain_text("Lobby open: the session starts at")
    await expect(state).to_contain_text(local_time_pattern(local_start))
    await expect(checkin).to_have_count(0)

    await clock.advance(minutes=15)
    await expect(state).to_contain_text("Live now, until")
    await expect(state).to_contain_text(local_time_pattern(local_start + timedelta(hours=3)))
    # The check-in prompt is on the meeting page itself while the session is live.
    await checkin.get_by_role("radiogroup", name="Mood").get_by_role("radio").nth(1).check()
    await checkin.get_by_role("textbox", name="Note").fill("Rough morning")
    await checkin.get_by_role("button", name="Check in", exact=True).click()
    await expect(checkin).to_contain_text("Checked in. Thank you.")

    async def stored() -> dict[str, Any] | None:
        reply = await api.get(
            f"/api/meetings/{meeting}/attendance?occurrence={start:%Y-%m-%dT%H:%M:%SZ}",
            c.mod_lee.token,
        )
        assert reply.status == 200, reply.body
        [row] = [r for r in reply.body["attendees"] if r["user"]["id"] == c.pat_ana.id]
        checked: dict[str, Any] | None = row["checkin"]
        return checked

    checked = await eventually(stored, "Ana's check-in from the meeting page to be stored")
    assert (checked["mood"], checked["note"]) == (2, "Rough morning"), checked

    await clock.advance(hours=3)
    await expect(state).to_contain_text("This session has ended.")
    await expect(checkin).to_have_count(0)


async def test_without_a_media_server_the_page_offers_the_groups_own_video_link(
    browse: TabFactory, api: Api, community: Community, clock: FakeClock
) -> None:
    c = community
    meeting = await live_meeting(api, c, clock)  # its series has an outside video link
    ana = await browse()
    await ana.sign_in(c.pat_ana)
    await meeting_page(ana, meeting.id, meeting.title)
    video = ana.page.get_by_role("region", name="Video")
    await expect(video).to_contain_text("Video calls are not set up on this server.")
    link = video.get_by_role("link", name="Video link")
    await expect(link).to_have_attribute("href", "https://video.example.org/iop-evening-group")
    await expect(link).to_have_attribute("rel", "noopener noreferrer")
    await expect(ana.page.get_by_role("region", name="Video call")).to_have_count(0)


# ----- in the video lab -----


async def in_the_call(lab: VideoLab, who: str, meeting: LiveMeeting, **tab: Any) -> Tab:
    page = await meeting_page(await lab.tab(lab.people[who], **tab), meeting.id, meeting.title)
    await join(page)
    return page


async def test_camera_and_microphone_buttons_change_what_the_others_receive(
    video_lab: VideoLab,
) -> None:
    lab = video_lab
    ana = await in_the_call(lab, "pat_ana", lab.meeting, desktop=True)
    avi = await in_the_call(lab, "pat_avi", lab.meeting)
    await media_rising(ana.page)
    buttons = call(avi)

    await buttons.get_by_role("button", name="Turn camera off").click()
    await expect(buttons.get_by_role("button", name="Turn camera on")).to_be_visible()
    assert await falls_still(ana, "frames_decoded"), "Ana still receives Avi's camera"
    # Ana's page shows Avi's initials, not the last frame frozen.
    await expect(tile(ana, "Avi").get_by_role("img", name="Avi")).to_be_visible()
    assert not await stays_still(ana, "audio_energy"), "Avi should still be heard"
    await buttons.get_by_role("button", name="Turn camera on").click()
    await expect(buttons.get_by_role("button", name="Turn camera off")).to_be_visible()
    await media_rising(ana.page, audio=False)
    await expect(tile(ana, "Avi").locator("video")).to_be_visible()

    await buttons.get_by_role("button", name="Mute microphone").click()
    await expect(buttons.get_by_role("button", name="Unmute microphone")).to_be_visible()
    # Silence still comes in packets: what stops is the sound.
    assert await falls_still(ana, "audio_energy"), "Ana still hears Avi's microphone"
    assert not await stays_still(ana, "frames_decoded"), "Avi's camera should still be seen"
    await buttons.get_by_role("button", name="Unmute microphone").click()
    await expect(buttons.get_by_role("button", name="Mute microphone")).to_be_visible()
    assert not await stays_still(ana, "audio_energy"), "Ana does not hear Avi again"
    await leave_everyone(ana, avi)


async def test_a_raised_hand_is_seen_by_the_moderator(video_lab: VideoLab) -> None:
    lab = video_lab
    lee = await in_the_call(lab, "mod_lee", lab.meeting, desktop=True)
    ana = await in_the_call(lab, "pat_ana", lab.meeting)
    hands = call(lee).get_by_role("region", name="Raised hands")
    await expect(hands).to_contain_text("No hands raised.")

    await call(ana).get_by_role("button", name="Raise hand").click()
    await expect(call(ana).get_by_role("button", name="Lower hand")).to_be_visible()
    await expect(hands.get_by_role("listitem")).to_have_text(["Ana"])
    # (Its badges are always in the tile, shown or hidden: what counts is being seen.)
    badge = tile(lee, "Ana").get_by_text("Hand raised")
    await expect(badge).to_be_visible()

    await call(ana).get_by_role("button", name="Lower hand").click()
    await expect(hands.get_by_role("listitem")).to_have_count(0)
    await expect(hands).to_contain_text("No hands raised.")
    await expect(badge).to_be_hidden()
    await leave_everyone(lee, ana)


async def test_the_moderators_end_the_call_ends_everyones_media(
    video_lab: VideoLab, axe_script: Path
) -> None:
    lab = video_lab
    # A meeting of its own: once ended, its call stays shut for the rest of the session.
    meeting = await lab.another_meeting("Morning group")
    lee = await in_the_call(lab, "mod_lee", meeting, desktop=True, bypass_csp=True)
    others = [await in_the_call(lab, name, meeting) for name in ("pat_ana", "pat_avi")]
    for tab in (lee, *others):
        await media_rising(tab.page)
    # The moderator's controls in the call pass axe, as does the dialog.
    violations = await serious_axe_violations(lee.page)
    assert not violations, describe_violations("a moderator in the call", violations)

    await call(lee).get_by_role("button", name="End the call for everyone").click()
    dialog = lee.page.get_by_role("dialog", name="End the call for everyone?")
    violations = await serious_axe_violations(lee.page)
    assert not violations, describe_violations("End the call for everyone?", violations)
    await dialog.get_by_role("textbox", name="Reason").fill("Session over early")
    await dialog.get_by_role("button", name="End the call", exact=True).click()

    for tab in (lee, *others):
        await expect(call(tab).get_by_role("status")).to_have_text("The call has ended.")
        await expect(call(tab).locator("figure")).to_have_count(0)

    async def disconnected() -> bool:
        counts = [await inbound_counts(tab.page) for tab in (lee, *others)]
        return all(count["connected"] == 0 for count in counts)

    await eventually(disconnected, "every page's connections to the call to close", timeout=5)
    for tab in (lee, *others):
        assert await stays_still(tab, "frames_decoded", 1.0), "a page still receives video"
        assert await stays_still(tab, "packets_received", 1.0), "a page still receives sound"
    refused = await lab.api.post(
        f"/api/meetings/{meeting.id}/video", {}, lab.people["pat_ana"].token
    )
    assert refused.status == 403 and refused.error_code == "meeting_closed", refused.body
