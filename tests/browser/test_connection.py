"""Losing the network in a real browser: a message written offline waits as Queued and is
stored and delivered once when the phone is back; messages sent while it was away all arrive,
once each, in order (docs/web-client.md, Connection and Offline queue).

The patient's browser reaches the server through a NetworkLink, so going offline both tells
the page (Chromium's offline emulation) and drops its connections for real."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import WebSocketRoute, expect

from tests.browser.conftest import LinkFactory, PeerFactory, TabFactory
from tests.browser.pages import (
    RECONNECT_MS,
    ana_and_lee_in_group_a,
    go_offline,
    go_online,
    history,
)
from tests.support import Api, Community, eventually, joined, send

pytestmark = pytest.mark.asyncio(loop_scope="session")

DISCONNECTED = ("Offline", "Reconnecting…", "Connecting…")


async def test_a_message_written_offline_is_queued_then_stored_and_delivered_once(
    browse: TabFactory, network_link: LinkFactory, api: Api, community: Community
) -> None:
    c = community
    link = await network_link()
    patient, moderator = await ana_and_lee_in_group_a(browse, c, via=link.url)
    await patient.send("before the tunnel")
    await expect(moderator.message("before the tunnel")).to_have_count(1)

    await go_offline(patient, link)
    await expect(patient.connection).to_have_text("Offline")
    await patient.send("written in the tunnel")
    await patient.send("and a second one")
    queued = patient.message("written in the tunnel")
    await expect(queued).to_contain_text("Queued")
    await expect(patient.message("and a second one")).to_contain_text("Queued")
    await expect(patient.message("before the tunnel")).not_to_contain_text("Queued")

    await go_online(patient, link)
    await expect(patient.connection).to_have_text("Connected", timeout=RECONNECT_MS)
    await expect(queued).not_to_contain_text("Queued", timeout=RECONNECT_MS)
    await expect(queued).not_to_contain_text("Sending")
    await expect(moderator.message("written in the tunnel")).to_have_count(1)
    await expect(moderator.message("and a second one")).to_have_count(1)

    # A round trip after it: anything sent twice would have arrived before this.
    await moderator.send("welcome back")
    await expect(patient.message("welcome back")).to_have_count(1)
    for tab in (moderator, patient):
        await expect(tab.message("written in the tunnel")).to_have_count(1)
        await expect(tab.articles).to_have_count(4)
    bodies = [m["body"] for m in await history(api, c.mod_lee, c.group_a)]
    assert bodies == [
        "before the tunnel",
        "written in the tunnel",
        "and a second one",
        "welcome back",
    ]


async def test_messages_sent_while_a_patient_was_disconnected_arrive_once_after_reconnect(
    browse: TabFactory,
    network_link: LinkFactory,
    peer: PeerFactory,
    api: Api,
    community: Community,
) -> None:
    c = community
    link = await network_link()
    patient, moderator = await ana_and_lee_in_group_a(browse, c, via=link.url)
    await moderator.send("Check-in starts in five minutes")
    await expect(patient.message("Check-in starts in five minutes")).to_have_count(1)

    await go_offline(patient, link)
    await expect(patient.connection).not_to_have_text("Connected")
    missed = [f"While you were away, note {n}" for n in range(1, 8)]
    for body in missed[:4]:
        await moderator.send(body)
    # The moderator's tab sends one at a time: Avi's notes go after the last of Lee's is stored.
    await expect(moderator.message(missed[3])).not_to_contain_text(re.compile("Sending|Queued"))
    avi = await peer(c.pat_avi.token)
    await joined(avi, c.group_a)
    for body in missed[4:]:
        await send(avi, c.group_a, body)
    await expect(moderator.message(missed[-1])).to_have_count(1)
    await expect(patient.message(missed[0])).to_have_count(0)

    await go_online(patient, link)
    await expect(patient.connection).to_have_text("Connected", timeout=RECONNECT_MS)
    await expect(patient.message(missed[-1])).to_have_count(1, timeout=RECONNECT_MS)
    await moderator.send("Glad you're back")
    await expect(patient.message("Glad you're back")).to_have_count(1)

    texts = await patient.articles.all_inner_texts()
    expected = ["Check-in starts in five minutes", *missed, "Glad you're back"]
    shown = [body for text in texts for body in expected if body in text]
    assert shown == expected, texts
    stored = [m["body"] for m in await history(api, c.mod_lee, c.group_a)]
    assert stored == expected


async def test_a_message_whose_acknowledgement_was_lost_is_stored_and_shown_once(
    browse: TabFactory, api: Api, community: Community
) -> None:
    """The server stores a message but the connection dies before its ack (and the broadcast)
    reach the sender: after reconnecting, the sender shows it once, sent, and nothing is
    stored twice."""
    c = community
    lost = "Did this one get through?"
    upgraded = asyncio.Event()
    state = {"dropping": False}
    cut_routes: list[WebSocketRoute] = []

    def relay(page_side: WebSocketRoute) -> None:
        server_side = page_side.connect_to_server()
        state["dropping"] = False  # a new connection carries everything again

        def from_page(frame: str | bytes) -> None:
            if frame == "5":  # engine.io's upgrade: from now on everything is on this socket
                upgraded.set()
            # Only the first try is cut off: the resend after reconnecting (same text, same
            # client_id) must go through with everything after it.
            first_try = not cut_routes
            if isinstance(frame, str) and frame.startswith("42") and lost in frame and first_try:
                state["dropping"] = True
                cut_routes[:] = [page_side, server_side]
            server_side.send(frame)

        def from_server(frame: str | bytes) -> None:
            if not state["dropping"]:
                page_side.send(frame)

        page_side.on_message(from_page)
        server_side.on_message(from_server)

    patient = await browse()
    await patient.page.route_web_socket(re.compile(r"/socket\.io/"), relay)
    await patient.sign_in(c.pat_ana)
    await patient.open_room(c.group_a, "Group A")
    await asyncio.wait_for(upgraded.wait(), timeout=10)
    moderator = await browse(desktop=True)
    await moderator.sign_in(c.mod_lee)
    await moderator.open_room(c.group_a, "Group A")

    await patient.send(lost)

    async def stored() -> bool:
        return [m["body"] for m in await history(api, c.mod_lee, c.group_a)] == [lost]

    await eventually(stored, "the message to be stored")
    await expect(moderator.message(lost)).to_have_count(1)
    await expect(patient.message(lost)).to_contain_text("Sending")

    # The connection dies with the ack still owed; the page reconnects by itself.
    page_side, server_side = cut_routes
    await page_side.close(code=4000, reason="network lost")
    await server_side.close(code=4000, reason="network lost")
    await expect(patient.message(lost)).not_to_contain_text("Sending", timeout=RECONNECT_MS)
    await expect(patient.connection).to_have_text("Connected")
    await moderator.send("Yes, it did.")
    await expect(patient.message("Yes, it did.")).to_have_count(1)
    await expect(patient.message(lost)).to_have_count(1)
    await expect(moderator.message(lost)).to_have_count(1)
    assert [m["body"] for m in await history(api, c.mod_lee, c.group_a)] == [lost, "Yes, it did."]


async def test_once_a_websocket_has_worked_a_reconnect_opens_one_at_once(
    browse: TabFactory, community: Community
) -> None:
    """A tab's first connection long-polls and then upgrades (a network that blocks websockets
    still gets in); after its websocket closes, the reconnect opens a websocket straight away,
    with no long-polling requests, which in a reconnect storm the server would pay for."""
    c = community
    polls: list[str] = []
    websockets: list[str] = []
    routes: list[WebSocketRoute] = []

    def relay(page_side: WebSocketRoute) -> None:
        routes.append(page_side)
        page_side.connect_to_server()

    patient = await browse()
    patient.page.on(
        "request",
        lambda request: polls.append(request.url) if "transport=polling" in request.url else None,
    )
    patient.page.on("websocket", lambda socket: websockets.append(socket.url))
    await patient.page.route_web_socket(re.compile(r"/socket\.io/"), relay)
    await patient.sign_in(c.pat_ana)
    await patient.open_room(c.group_a, "Group A")
    await expect(patient.connection).to_have_text("Connected")
    await eventually(websockets_opened(routes, 1), "the upgrade to a websocket")
    assert polls, "the first connection did not long-poll first"
    assert all("sid=" in url for url in websockets), websockets  # an upgrade of a polled session

    polls.clear()
    websockets.clear()
    await routes[0].close(code=4000, reason="network lost")
    await eventually(websockets_opened(routes, 2), "a new websocket")
    await expect(patient.connection).to_have_text("Connected", timeout=RECONNECT_MS)
    await patient.send("back at once")
    await expect(patient.message("back at once")).not_to_contain_text(re.compile("Sending|Queued"))
    assert polls == []
    assert len(websockets) == 1 and "sid=" not in websockets[0], websockets


def websockets_opened(routes: list[WebSocketRoute], count: int) -> Callable[[], Awaitable[bool]]:
    async def opened() -> bool:
        return len(routes) == count

    return opened
