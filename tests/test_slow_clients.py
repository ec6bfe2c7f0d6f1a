"""A phone that stops reading: what waits for it is bounded, past the bound it is let go, and
it never holds a shutdown up.

The stalled client is a raw websocket whose socket has a small receive buffer and that never
reads after joining: the kernel's buffers fill after a few dozen kilobytes, as they would for
a phone asleep in a pocket, and the server's writes to it then wait."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from server.app import EVENTS
from tests.conftest import PeerFactory
from tests.processes import ServerProcess, create_admin, server_env
from tests.support import (
    Api,
    Community,
    Peer,
    RunningServer,
    community_at,
    eventually,
    joined,
    send,
    with_settings,
)

pytestmark = pytest.mark.persistence

# 3,990 characters of one short word: long to send, cheap for the crisis detector to read.
BODY = "ok " * 1330


def small_receive_buffer(addr_info: Any) -> socket.socket:
    family, kind, protocol, _, _ = addr_info
    made = socket.socket(family, kind, protocol)
    made.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return made


@asynccontextmanager
async def stalled_member(url: str, token: str, room_id: int) -> AsyncIterator[None]:
    """A member who joins `room_id` and then never reads again."""
    connector = aiohttp.TCPConnector(socket_factory=small_receive_buffer)
    async with aiohttp.ClientSession(connector=connector) as session:
        ws_url = url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
        async with session.ws_connect(ws_url, autoping=False) as ws:
            await ws.receive()  # engine.io's open packet
            await ws.send_str("40" + json.dumps({"token": token}))
            assert (await ws.receive()).data.startswith("40")
            await ws.send_str("421" + json.dumps(["join", {"room_id": room_id}]))
            while not (await ws.receive()).data.startswith("431"):
                pass
            # From now on nothing is read off the connection: what the server sends piles up
            # in the (small) kernel buffer, then in the server's.
            transport = ws._writer.transport
            transport.pause_reading()
            try:
                yield
            finally:
                # Reading again, the client sees at once a connection the server has let go
                # of (rather than waiting out the close handshake's timeout).
                if not transport.is_closing():
                    transport.resume_reading()


async def flood(sender: Peer, room_id: int, count: int, in_flight: int = 1) -> list[int]:
    """`count` messages, `in_flight` of them sent at once (each still acked and stored)."""
    ids: list[int] = []
    for start in range(0, count, in_flight):
        batch = range(start, min(start + in_flight, count))
        acks = await asyncio.gather(*(send(sender, room_id, f"{n} {BODY}") for n in batch))
        ids.extend(ack["id"] for ack in acks)
    return ids


@with_settings(client_backlog_messages=40, client_backlog_bytes=65_536)
async def test_a_member_who_stops_reading_is_let_go_at_the_bound_and_catches_up(
    server: RunningServer, community: Community, peer: PeerFactory, api: Api
) -> None:
    c = community
    avi = await peer(c.pat_avi.token)
    await joined(avi, c.group_a)
    events = server.app[EVENTS]
    hub = events.hub
    async with stalled_member(server.url, c.pat_ana.token, c.group_a):
        [connection] = hub.connections_of(c.pat_ana.id)
        # The server's kernel buffer for her connection grows to 4 MB here; a small one
        # fills with a few messages, as a long stall would fill the large one.
        eio_sid = events.sio.manager.eio_sid_from_sid(connection.sid, "/")
        transport = events.sio.transport(eio_sid)
        assert transport is not None
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        sent = await flood(avi, c.group_a, 150)

        async def let_go() -> bool:
            return not hub.connections_of(c.pat_ana.id)

        await eventually(let_go, "pat_ana's connection closed")
        # The member who reads got every message, unhindered.
        await avi.wait_for("message", lambda m: m["id"] == sent[-1])
        async with api.session.get(f"{api.base_url}/metrics") as reply:
            assert "peerrooms_slow_clients_cut_off_total 1.0" in await reply.text()

    # Back (a new connection), she catches up on everything she missed.
    ana = await peer(c.pat_ana.token)
    caught_up = await joined(ana, c.group_a, since=sent[0] - 1)
    missed = [m["id"] for m in caught_up["messages"]]
    assert missed[: len(sent)] == sent[: len(missed)]
    assert missed, caught_up


async def test_a_reading_member_is_never_let_go_by_the_bound(
    server: RunningServer, community: Community, peer: PeerFactory
) -> None:
    c = community
    ana, avi = await peer(c.pat_ana.token), await peer(c.pat_avi.token)
    for each in (ana, avi):
        await joined(each, c.group_a)
    sent = await flood(avi, c.group_a, 300)  # 1.2 MB: past the default byte bound, in time
    await ana.wait_for("message", lambda m: m["id"] == sent[-1])
    assert ana.client.connected
    assert [m["id"] for m in ana.received("message")] == sent


async def test_sigterm_with_a_member_who_stopped_reading_exits_within_the_grace(
    database_url: str, tmp_path: Path, peer: PeerFactory
) -> None:
    grace_s = 2.0
    # Bounds high enough that the stalled member is not let go before the shutdown.
    env = server_env(
        database_url,
        tmp_path,
        shutdown_grace_s=str(grace_s),
        client_backlog_messages="100000",
        client_backlog_bytes="100000000",
    )
    await create_admin(env)
    process = await ServerProcess.start(env, tmp_path / "server.log")
    try:
        c = await community_at(process.url)
        avi = await peer(c.pat_avi.token, process.url)
        await joined(avi, c.group_a)
        async with stalled_member(process.url, c.pat_ana.token, c.group_a):
            # About 4.8 MB: more than the server's kernel buffer (autotuned to 4 MB here)
            # holds, so the websocket's writer is left waiting.
            await flood(avi, c.group_a, 1200, in_flight=20)
            started = time.monotonic()
            process.process.terminate()
            code = await asyncio.wait_for(process.process.wait(), grace_s + 10)
            took = time.monotonic() - started
    finally:
        await process.stop()
    assert code == 0, (process.log_path.read_text(), code)
    assert took <= grace_s + 2, f"exited {took:.1f} s after SIGTERM"
