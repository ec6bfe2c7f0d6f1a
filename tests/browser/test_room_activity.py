"""Live unread counts in every view, in a real browser (docs/api/events/activity.md): a patient
on the room list sees another room's unread count go up within a second of someone writing
there, and the tab title with it, without the room list being read again; a burst counts in
full a second later, a mention shows as one; in a room, the title counts what is said in the
others as it is said."""

from __future__ import annotations

import pytest
from playwright.async_api import Request, expect

from tests.browser.conftest import PeerFactory, TabFactory
from tests.support import Api, Community, FakeClock, eventually, joined, new_client_id, ok, send

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Well before the room list is read again (web/src/state.ts, ROOMS_REFRESH_MS: 60 s).
LIVE_MS = 1_000


async def test_another_rooms_unread_count_and_the_title_move_within_a_second(
    browse: TabFactory, peer: PeerFactory, community: Community, clock: FakeClock
) -> None:
    c = community
    ana = await browse()
    await ana.sign_in(c.pat_ana)
    await expect(ana.room_item("Group A")).to_be_visible()
    await expect(ana.page).to_have_title("Rooms – peerrooms")
    # From now on, the room list must not be read again: what moves is the live count.
    list_reads: list[str] = []

    def count_list_reads(request: Request) -> None:
        if request.url.endswith("/api/rooms"):
            list_reads.append(request.url)

    ana.page.on("request", count_list_reads)

    avi = await peer(c.pat_avi.token)
    await send(avi, c.group_a, "anyone around tonight?")
    await expect(ana.room_item("Group A")).to_contain_text("1 unread", timeout=LIVE_MS)
    await expect(ana.page).to_have_title("(1) Rooms – peerrooms", timeout=LIVE_MS)

    # A burst: its first message was told at once, the rest come as one a second later.
    for n in (2, 3):
        await send(avi, c.group_a, f"hello? {n}")
    await clock.advance(seconds=1)
    await expect(ana.room_item("Group A")).to_contain_text("3 unread", timeout=LIVE_MS)
    await expect(ana.page).to_have_title("(3) Rooms – peerrooms", timeout=LIVE_MS)

    # A mention in another room: counted, and shown as one.
    mention = {
        "room_id": c.commons,
        "body": "@Ana are you coming on Thursday?",
        "client_id": new_client_id(),
        "mentions": [c.pat_ana.id],
    }
    ok(await avi.call("send", mention))
    commons = ana.room_item("Commons")
    await expect(commons).to_contain_text("1 unread", timeout=LIVE_MS)
    await expect(commons).to_contain_text("1 mention", timeout=LIVE_MS)
    await expect(ana.page).to_have_title("(@4) Rooms – peerrooms", timeout=LIVE_MS)
    assert list_reads == []


async def test_in_a_room_the_title_counts_what_is_said_in_the_others(
    browse: TabFactory, api: Api, peer: PeerFactory, community: Community, clock: FakeClock
) -> None:
    c = community
    ana = await browse()
    await ana.sign_in(c.pat_ana)
    await ana.open_room(c.commons, "Commons")
    await expect(ana.page).to_have_title("Commons – peerrooms")

    avi = await peer(c.pat_avi.token)
    await joined(avi, c.commons)
    # What is said in the room on screen is read as it comes: it is not counted.
    await send(avi, c.commons, "hello commons")
    await expect(ana.message("hello commons")).to_be_visible()
    await send(avi, c.group_a, "in the group meanwhile")
    await expect(ana.page).to_have_title("(1) Commons – peerrooms", timeout=LIVE_MS)

    # Reading the group brings the count back to none, and it stays so (once the server
    # has Commons read too: the room list, read on the way, counts from its marker).
    async def commons_read() -> bool:
        rooms = (await api.get("/api/rooms", c.pat_ana.token)).body["rooms"]
        return any(room["id"] == c.commons and room["unread_count"] == 0 for room in rooms)

    await eventually(commons_read, "Commons marked read on the server")
    await ana.nav.get_by_role("link", name="Rooms", exact=True).click()
    await ana.room_list.get_by_role("link", name="Group A", exact=True).click()
    await ana.in_room("Group A")
    await expect(ana.message("in the group meanwhile")).to_be_visible()
    await expect(ana.page).to_have_title("Group A – peerrooms")
    await clock.advance(seconds=1)
    await send(avi, c.commons, "back in the commons")
    await expect(ana.page).to_have_title("(1) Group A – peerrooms", timeout=LIVE_MS)
