"""Emits to this process's sockets (server/realtime/delivery.py), on real python-socketio
servers (peerrooms' and the library's own) and real clients: each member of a room gets a
broadcast once, others and the skipped sid none, and a socket that closed meanwhile does not
keep it from the rest. On peerrooms' server a broadcast is written straight onto idle
websockets (server/realtime/websockets.py): in order with what was queued, whole at any
length, and never compressed."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp import web
from engineio import packet as eio_packet
from socketio import packet

from server.realtime.backlog import BacklogLimit, SlowClients
from server.realtime.delivery import LocalManager
from server.realtime.frames import SocketServer


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


def peerrooms_server(**options: Any) -> SocketServer:
    """peerrooms' Socket.IO server, which writes straight onto idle websockets."""
    return SocketServer(
        async_mode="aiohttp",
        client_manager=LocalManager(),
        on_malformed=lambda: None,
        slow_clients=SlowClients(BacklogLimit(1000, 10_000_000), on_cut_off=lambda: None),
        **options,
    )


def library_server() -> socketio.AsyncServer:
    """python-socketio's own server, which queues every packet."""
    return socketio.AsyncServer(async_mode="aiohttp", client_manager=LocalManager())


@asynccontextmanager
async def serving(sio: socketio.AsyncServer) -> AsyncIterator[Relay]:
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


@pytest.fixture(params=[peerrooms_server, library_server], ids=["peerrooms", "library"])
async def relay(request: pytest.FixtureRequest) -> AsyncIterator[Relay]:
    async with serving(request.param()) as relay:
        yield relay


@pytest.fixture
async def ours() -> AsyncIterator[Relay]:
    async with serving(peerrooms_server()) as relay:
        yield relay


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


# ----- peerrooms' server: packets written straight onto idle websockets (websockets.py) -----


def eio_socket_of(relay: Relay, sid: str) -> Any:
    return relay.sio.eio.sockets[relay.sio.manager.eio_sid_from_sid(sid, "/")]


async def test_a_room_emit_to_an_idle_websocket_is_written_without_queueing(
    ours: Relay,
) -> None:
    ana, ana_sid = await ours.client("room:1")
    queue = eio_socket_of(ours, ana_sid).queue
    await ours.barrier(ana)
    assert queue.all_written()

    await ours.sio.emit("message", {"id": 1}, room="room:1")
    # Nothing was queued for the writer task: the frame went to the connection.
    assert queue.all_written()
    await ours.barrier(ana)
    assert ours.received[ana] == [("message", ({"id": 1},))]


async def test_what_waits_in_a_socket_queue_reaches_it_before_a_later_room_emit(
    ours: Relay,
) -> None:
    ana, ana_sid = await ours.client("room:1")
    ben, _ = await ours.client("room:1")
    await ours.barrier(ana, ben)
    eio_socket = eio_socket_of(ours, ana_sid)
    queued = ours.sio.packet_class(packet.EVENT, namespace="/", data=["queued", 1]).encode()

    # In one step of the loop: a packet queued for Ana (her writer is woken but has not run),
    # then a room emit, then, once her writer has sent, another.
    await eio_socket.send(eio_packet.Packet(eio_packet.MESSAGE, queued))
    await ours.sio.emit("room", 2, room="room:1")
    assert eio_socket.queue.qsize() == 2  # the emit waits behind the queued packet
    await ours.barrier(ana)
    await ours.sio.emit("room", 3, room="room:1")
    await ours.barrier(ana, ben)

    assert ours.received[ana] == [("queued", (1,)), ("room", (2,)), ("room", (3,))]
    assert ours.received[ben] == [("room", (2,)), ("room", (3,))]


async def test_queued_and_written_packets_interleaved_at_random_arrive_in_order(
    ours: Relay,
) -> None:
    """Packets queued for engine.io's writer and room emits, with the loop let run zero to
    three turns between them: every state the writer passes through (woken, holding what
    it took, between two polls, waiting) meets an emit, and the order holds throughout."""
    ana, ana_sid = await ours.client("room:1")
    await ours.barrier(ana)
    eio_socket = eio_socket_of(ours, ana_sid)
    chance = random.Random(20261207)
    for n in range(400):
        if chance.random() < 0.5:
            encoded = ours.sio.packet_class(packet.EVENT, namespace="/", data=["n", n]).encode()
            await eio_socket.send(eio_packet.Packet(eio_packet.MESSAGE, encoded))
        else:
            await ours.sio.emit("n", n, room="room:1")
        for _ in range(chance.randrange(4)):
            await asyncio.sleep(0)
    await ours.barrier(ana)

    assert ours.received[ana] == [("n", (n,)) for n in range(400)]


@pytest.mark.parametrize("frame_payload", [125, 126, 127, 65_535, 65_536, 70_001])
async def test_a_frame_of_any_length_arrives_whole(ours: Relay, frame_payload: int) -> None:
    """Websocket frames carry their length in 7, 16 or 64 bits (RFC 6455 §5.2): each size on
    either side of the limits, with characters of one to four bytes in UTF-8."""
    ana, _ = await ours.client("room:1")
    await ours.barrier(ana)
    # 42["m","…"]: the frame's payload is ten bytes around the text.
    text_bytes = frame_payload - len(b'42["m",""]')
    text = "é€😀"
    text = text * (text_bytes // len(text.encode())) + "a" * (text_bytes % len(text.encode()))
    assert len(f'42["m","{text}"]'.encode()) == frame_payload

    await ours.sio.emit("m", text, room="room:1")
    await ours.sio.emit("m", "after", room="room:1")
    await ours.barrier(ana)

    assert ours.received[ana] == [("m", (text,)), ("m", ("after",))]


async def test_a_client_offering_compression_gets_a_plain_websocket(ours: Relay) -> None:
    url = ours.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, compress=15) as ws:
            assert ws.compress == 0
            assert (await ws.receive()).data.startswith("0")  # engine.io's open packet
