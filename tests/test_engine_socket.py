"""engine.io's socket as peerrooms runs it (server/realtime/engine_socket.py), on real servers
(peerrooms' and python-socketio's own, for contrast) and real clients: the tasks an idle
connection keeps and those a frame starts, pings on a timer and a silent client let go, the
upgrade from long polling, and frames that are no engine.io packet."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import pytest
import socketio

from server.realtime.engine_socket import EngineSocket
from tests.test_delivery import Relay, library_server, peerrooms_server, serving

# The test's clients run in the server's loop; their tasks are told apart by where their
# coroutines are written. Not counted either: the waits both sides put in `wait_for`
# (asyncio.Queue's get: the clients' writers and the library server's, never peerrooms';
# Event.wait: the clients' calls and engine.io's one service task).
CLIENT_FILES = ("engineio/async_client.py", "socketio/async_client.py", "aiohttp/client_ws.py")
SHARED_WAITS = {"Queue.get", "Event.wait"}


def task_name(coro: Any) -> str | None:
    """Where a task's coroutine is defined, for a server's task; None for a client's."""
    code = getattr(coro, "cr_code", None)
    filename = code.co_filename if code is not None else ""
    qualname = getattr(coro, "__qualname__", repr(coro))
    if filename.endswith(CLIENT_FILES) or qualname in SHARED_WAITS:
        return None
    return f"{filename.rsplit('/', 1)[-1]}:{qualname}"


def server_tasks() -> Counter[str]:
    return Counter(
        name for task in asyncio.all_tasks() if (name := task_name(task.get_coro())) is not None
    )


@contextmanager
def tasks_started() -> Iterator[Counter[str]]:
    """The server's tasks started inside the block, by name."""
    loop = asyncio.get_running_loop()
    started: Counter[str] = Counter()
    previous = loop.get_task_factory()

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        if (name := task_name(coro)) is not None:
            started[name] += 1
        if previous is not None:
            return previous(loop, coro, **kwargs)
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(counting)
    try:
        yield started
    finally:
        loop.set_task_factory(previous)


AIOHTTP_PER_CONNECTION = {
    "web_protocol.py:RequestHandler.start": 1,
    "web_protocol.py:RequestHandler._handle_request": 1,
}
OURS_PER_CONNECTION = AIOHTTP_PER_CONNECTION | {
    "engine_socket.py:EngineSocket._write_until_ended": 1
}
# python-socketio's own: a writer, a task for each read, a task asleep until the next ping
# (and, not counted here, one for the writer's queue).
LIBRARY_PER_CONNECTION = AIOHTTP_PER_CONNECTION | {
    "async_socket.py:AsyncSocket._websocket_handler.<locals>.writer": 1,
    "async_socket.py:AsyncSocket._websocket_handler.<locals>.websocket_wait": 1,
    "async_socket.py:AsyncSocket._send_ping": 1,
}


@pytest.mark.parametrize(
    ("make", "per_connection"),
    [(peerrooms_server, OURS_PER_CONNECTION), (library_server, LIBRARY_PER_CONNECTION)],
    ids=["peerrooms", "library"],
)
async def test_an_idle_websocket_connection_keeps_aiohttp_s_tasks_and_a_writer(
    make: Callable[[], socketio.AsyncServer], per_connection: dict[str, int]
) -> None:
    async with serving(make()) as relay:
        first, _ = await relay.client("room:1")  # the server's own tasks start with it
        await relay.barrier(first)
        before = server_tasks()
        clients = [await relay.client("room:1") for _ in range(6)]
        await relay.barrier(*(index for index, _ in clients))
        kept = server_tasks() - before

    assert kept == Counter({name: 6 * count for name, count in per_connection.items()})


@pytest.mark.parametrize(
    ("make", "per_event"),
    [
        (peerrooms_server, {"async_server.py:AsyncServer._handle_event_internal": 1}),
        (
            library_server,
            {
                "async_server.py:AsyncServer._handle_event_internal": 1,
                "async_socket.py:AsyncSocket._websocket_handler.<locals>.websocket_wait": 1,
            },
        ),
    ],
    ids=["peerrooms", "library"],
)
async def test_a_frame_read_starts_only_its_event_handler_s_task(
    make: Callable[[], socketio.AsyncServer], per_event: dict[str, int]
) -> None:
    async with serving(make()) as relay:
        ana, _ = await relay.client("room:1")
        await relay.barrier(ana)
        with tasks_started() as started:
            for _ in range(20):
                assert await relay.clients[ana].call("probe", timeout=5) == "ok"

    assert started == Counter({name: 20 * count for name, count in per_event.items()})


def engineio_url(relay: Relay, transport: str, sid: str | None = None) -> str:
    url = f"{relay.url}/socket.io/?EIO=4&transport={transport}"
    if sid is not None:
        url += f"&sid={sid}"
    return url.replace("http", "ws") if transport == "websocket" else url


@pytest.fixture
async def quick_pings() -> AsyncIterator[Relay]:
    """A server pinging every second, and letting a client go a second after an
    unanswered ping."""
    async with serving(peerrooms_server(ping_interval=1, ping_timeout=1)) as relay:
        yield relay


async def test_pings_come_each_interval_and_a_client_that_stops_answering_is_let_go(
    quick_pings: Relay,
) -> None:
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(engineio_url(quick_pings, "websocket")) as ws:
            opened = await ws.receive_str(timeout=5)
            assert opened.startswith("0"), opened
            sid = json.loads(opened[1:])["sid"]
            assert isinstance(quick_pings.sio.eio.sockets[sid], EngineSocket)
            began = loop.time()
            for expected_at in (1.0, 2.0, 3.0):
                assert await ws.receive_str(timeout=5) == "2"
                assert loop.time() - began == pytest.approx(expected_at, abs=0.5)
                await ws.send_str("3")  # the pong

            # Silent from here: the next ping goes unanswered.
            assert await ws.receive_str(timeout=5) == "2"
            ended = await ws.receive(timeout=5)

    assert ended.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    # Two seconds after the last pong (its ping interval and timeout), or a second after
    # the unanswered ping (engine.io's service task), whichever is first.
    assert loop.time() - began == pytest.approx(4.5, abs=1.0)
    for _ in range(50):
        if sid not in quick_pings.sio.eio.sockets or quick_pings.sio.eio.sockets[sid].closed:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the socket was not closed")


async def test_an_unknown_packet_type_is_ignored_and_a_frame_of_no_type_ends_only_its_connection(
    quick_pings: Relay,
) -> None:
    bystander, _ = await quick_pings.client("room:1")
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(engineio_url(quick_pings, "websocket")) as ws:
            assert (await ws.receive_str(timeout=5)).startswith("0")
            await ws.send_str("9 no such type")
            await ws.send_str("40")  # Socket.IO's connect, answered after the frame above
            assert (await ws.receive_str(timeout=5)).startswith("40")

            await ws.send_str("x is no packet type")
            ended = await ws.receive(timeout=5)
            assert ended.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)

    assert await quick_pings.clients[bystander].call("probe", timeout=5) == "ok"


async def test_a_polling_client_upgrades_to_the_websocket_and_is_served_there(
    quick_pings: Relay,
) -> None:
    client = socketio.AsyncClient()
    heard: list[Any] = []
    client.on("room", heard.append)
    await client.connect(quick_pings.url, transports=["polling", "websocket"])
    try:
        for _ in range(50):
            if client.transport() == "websocket":
                break
            await asyncio.sleep(0.1)
        assert client.transport() == "websocket"
        sid = client.get_sid()
        assert sid is not None
        eio_sid = quick_pings.sio.manager.eio_sid_from_sid(sid, "/")
        upgraded = quick_pings.sio.eio.sockets[eio_sid]
        assert isinstance(upgraded, EngineSocket)
        assert upgraded.upgraded and not upgraded.upgrading

        await quick_pings.sio.enter_room(sid, "room:1")
        await quick_pings.sio.emit("room", "after the upgrade", room="room:1")
        assert await client.call("probe", timeout=5) == "ok"
        await asyncio.sleep(2.5)  # two pings answered over the websocket
        assert client.connected
        assert heard == ["after the upgrade"]
    finally:
        await client.disconnect()


async def test_an_upgrade_without_its_probe_leaves_the_socket_on_long_polling(
    quick_pings: Relay,
) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(engineio_url(quick_pings, "polling")) as reply:
            opened = await reply.text()
        sid = json.loads(opened[opened.index("{") :])["sid"]
        async with session.ws_connect(engineio_url(quick_pings, "websocket", sid)) as ws:
            await ws.send_str("5")  # an upgrade packet before any probe
            ended = await ws.receive(timeout=5)
            assert ended.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)

        socket = quick_pings.sio.eio.sockets[sid]
        assert not socket.upgraded and not socket.upgrading and not socket.closed
        # The socket still polls: its next ping comes on a poll.
        async with session.get(engineio_url(quick_pings, "polling", sid)) as reply:
            assert reply.status == 200
            assert await reply.text() == "2"
