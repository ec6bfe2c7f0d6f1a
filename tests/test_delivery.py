"""Emits to this process's sockets (server/realtime/delivery.py), on a real python-socketio
server and real clients: each member of a room gets a broadcast once, others and the skipped
sid none, and a socket that closed meanwhile does not keep it from the rest."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import socketio
from aiohttp import web

from server.realtime.delivery import LocalManager


@dataclass
class Relay:
    sio: socketio.AsyncServer
    url: str
    clients: list[socketio.AsyncClient] = field(default_factory=list)
    received: dict[int, list[tuple[str, tuple[Any, ...]]]] = field(default_factory=dict)

    async def client(self, room: str | None) -> tuple[int, str]:
        """A connected client (in `room`, if given): its index and its sid."""
        index = len(self.clients)
        client = socketio.AsyncClient()
        self.received[index] = []

        def record(event: str, *args: Any) -> None:
            # A plain function: recorded in the first step of the client's task for the
            # packet, so `barrier` orders it (tests/support.py, Peer.barrier).
            self.received[index].append((event, args))

        # The decorator form is untyped (socketio has no stubs) and would erase this signature.
        client.on("*", record)

        await client.connect(self.url, transports=["websocket"])
        self.clients.append(client)
        sid = client.get_sid()
        assert sid is not None
        if room is not None:
            await self.sio.enter_room(sid, room)
        return index, sid

    async def barrier(self, *indexes: int) -> None:
        """Answer once these clients have recorded every event emitted to them before now:
        the server answers each one's probe after the packets it queued for it."""
        await asyncio.gather(*(self.clients[i].call(PROBE, timeout=5) for i in indexes))


PROBE = "probe"


async def answer_probe(_sid: str, *_args: Any) -> str:
    return "ok"


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=LocalManager())
    sio.on(PROBE, answer_probe)
    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    relay = Relay(sio, f"http://127.0.0.1:{port}")
    try:
        yield relay
    finally:
        for client in relay.clients:
            await client.disconnect()
        await runner.cleanup()


async def test_a_room_emit_reaches_each_member_once_and_no_one_else(relay: Relay) -> None:
    ana, _ = await relay.client("room:1")
    ben, ben_sid = await relay.client("room:1")
    cy, _ = await relay.client("room:1")
    outsider, _ = await relay.client("room:2")

    await relay.sio.emit("message", {"id": 7, "body": "hi"}, room="room:1")
    await relay.sio.emit("typing", {"user": 2}, room="room:1", skip_sid=ben_sid)
    await relay.sio.emit("pair", ("a", 2), room="room:1")
    await relay.barrier(ana, ben, cy, outsider)

    everyone_gets = [("message", ({"id": 7, "body": "hi"},)), ("pair", ("a", 2))]
    assert relay.received[ana] == [everyone_gets[0], ("typing", ({"user": 2},)), everyone_gets[1]]
    assert relay.received[cy] == relay.received[ana]
    assert relay.received[ben] == everyone_gets
    assert relay.received[outsider] == []


async def test_an_emit_to_no_room_reaches_everyone(relay: Relay) -> None:
    indexes = [(await relay.client(room))[0] for room in ("room:1", None)]
    await relay.sio.emit("notice", None)
    await relay.barrier(*indexes)
    assert [relay.received[index] for index in indexes] == [[("notice", ())]] * 2


async def test_a_socket_closed_meanwhile_does_not_keep_the_emit_from_the_others(
    relay: Relay,
) -> None:
    ana, _ = await relay.client("room:1")
    ben, ben_sid = await relay.client("room:1")
    cy, _ = await relay.client("room:1")
    # Ben's transport has closed, and his socket is not yet out of the room.
    eio_sid = relay.sio.manager.eio_sid_from_sid(ben_sid, "/")
    relay.sio.eio.sockets[eio_sid].closed = True

    await relay.sio.emit("message", {"id": 8}, room="room:1")
    await relay.barrier(ana, cy)  # Ben's closed transport gets nothing, this probe neither

    assert relay.received[ana] == [("message", ({"id": 8},))]
    assert relay.received[cy] == [("message", ({"id": 8},))]
    assert relay.received[ben] == []


async def test_an_emit_with_a_callback_is_answered(relay: Relay) -> None:
    ana, ana_sid = await relay.client(None)
    answered: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def answer(data: Any) -> Any:
        return {"answer": data["n"] + 1}

    relay.clients[ana].on("question", answer)

    await relay.sio.emit("question", {"n": 41}, to=ana_sid, callback=answered.set_result)
    assert await asyncio.wait_for(answered, timeout=5) == {"answer": 42}
