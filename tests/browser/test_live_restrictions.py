"""The mutes and bans in force, live, in a real browser: while Lee has the console open on a
desktop and Ana's page open on a phone, the admin bans Ana from a room (the Moderate dialog)
and mutes her in another (the API); both of Lee's screens show each within a few seconds, and
show it gone once lifted (by Lee there, or by the admin elsewhere), with no reload and no
Refresh."""

from __future__ import annotations

import pytest
from playwright.async_api import Locator, expect

from tests.browser.conftest import PeerFactory, TabFactory
from tests.browser.pages import Tab, lee_at_the_console
from tests.support import Api, Community, joined

pytestmark = pytest.mark.asyncio(loop_scope="session")

# "Within a few seconds": well inside the usual wait for a screen reacting to an event.
LIVE_MS = 5_000
NOTHING = "No mutes or bans in force."


async def mark_the_page(tab: Tab) -> None:
    """Leave a mark in the page's window, gone if the page is loaded again."""
    await tab.page.evaluate("() => { window.neverReloaded = true; }")


async def never_reloaded(tab: Tab) -> bool:
    return bool(await tab.page.evaluate("() => window.neverReloaded === true"))


def in_force(region: Locator) -> Locator:
    return region.get_by_role("list", name="Mutes and bans in force").get_by_role("listitem")


async def test_a_ban_and_a_mute_by_another_moderator_show_and_go_without_a_reload(
    browse: TabFactory, api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    await joined(await peer(c.pat_ana.token), c.group_a)

    console = await lee_at_the_console(browse, c)
    listed = console.region("Mutes and bans")
    await expect(listed).to_contain_text(NOTHING)
    person = await browse()  # Lee again, on a phone, on Ana's page
    await person.sign_in(c.mod_lee)
    await person.page.goto(f"/#/people/{c.pat_ana.id}")
    await expect(person.heading("Ana")).to_be_visible()
    hers = person.region("Mutes and bans")
    await expect(hers).to_contain_text(NOTHING)
    for tab in (console, person):
        await mark_the_page(tab)

    # The admin bans Ana from Group A, from the room.
    admin = await browse(desktop=True)
    await admin.sign_in(c.admin)
    await admin.open_room(c.group_a, "Group A")
    dialog = await admin.moderate("Ana")
    await dialog.get_by_role("combobox", name="How long").select_option(label="1 hour")
    await dialog.get_by_label("Reason").fill("Threats to another member")
    await dialog.get_by_role("button", name="Ban").click()
    await expect(dialog).to_be_hidden()

    banned = in_force(listed).filter(has_text="Ana")
    await expect(banned).to_contain_text("banned from Group A until", timeout=LIVE_MS)
    await expect(banned).to_contain_text("By Admin: Threats to another member")
    await expect(in_force(hers)).to_have_count(1, timeout=LIVE_MS)
    await expect(in_force(hers)).to_contain_text("Banned from Group A until")

    # And mutes her in Commons, through the API.
    reply = await api.post(
        f"/api/rooms/{c.commons}/mutes",
        {"user_id": c.pat_ana.id, "minutes": 30, "reason": "Cooling off"},
        c.admin.token,
    )
    assert reply.status == 201, reply.body
    await expect(in_force(listed)).to_have_count(2, timeout=LIVE_MS)
    await expect(in_force(listed).filter(has_text="muted in Commons")).to_contain_text("Ana")
    await expect(in_force(hers)).to_have_count(2, timeout=LIVE_MS)
    await expect(in_force(hers).filter(has_text="Muted in Commons")).to_have_count(1)

    # Lee lifts the ban from her page: the console drops it.
    await hers.get_by_role("button", name="Lift ban from Group A").click()
    await expect(in_force(hers)).to_have_count(1)
    await expect(in_force(listed)).to_have_count(1, timeout=LIVE_MS)
    await expect(in_force(listed)).to_contain_text("muted in Commons")

    # The admin lifts the mute elsewhere: both of Lee's screens have nothing left.
    reply = await api.call(
        "DELETE", f"/api/rooms/{c.commons}/mutes/{c.pat_ana.id}", token=c.admin.token
    )
    assert reply.status == 204, reply.body
    await expect(listed).to_contain_text(NOTHING, timeout=LIVE_MS)
    await expect(hers).to_contain_text(NOTHING, timeout=LIVE_MS)

    for tab in (console, person):
        assert await never_reloaded(tab), "the page was loaded again"
