"""The python-socketio internals peerrooms relies on, checked against the installed release.

`realtime/delivery.py`, `realtime/hub.py`, `realtime/redis.py`, `realtime/frames.py` and
`realtime/connections.py` reach past python-socketio's public API (to queue packets without a
task per recipient, count a room's members, deliver pub/sub messages at most once, drop
malformed frames quietly, tell a client-sent `connect` event from the real one, and find and
abort the connection of a client that stopped reading: `realtime/backlog.py`).
pyproject.toml pins python-socketio and python-engineio to the minor releases these names were
read from; when an upgrade moves or reshapes one of them, this file fails before a delivery
silently stops."""

from __future__ import annotations

import inspect
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import engineio
import engineio.async_drivers.aiohttp
import pytest
import socketio
from engineio.async_socket import AsyncSocket
from packaging.requirements import Requirement
from packaging.version import Version
from socketio.async_pubsub_manager import AsyncPubSubManager

from server.app import CORE
from server.realtime.frames import CheckedPacket
from server.realtime.hub import room_channel
from tests.conftest import PeerFactory
from tests.support import Community, RunningServer, joined

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def pinned_requirement(name: str) -> Requirement:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    found = [Requirement(line) for line in dependencies if Requirement(line).name == name]
    assert len(found) == 1, f"pyproject.toml names {name} {len(found)} times"
    return found[0]


@pytest.mark.parametrize("name", ["python-socketio", "python-engineio"])
def test_the_installed_release_is_in_the_pinned_minor(name: str) -> None:
    requirement = pinned_requirement(name)
    installed = Version(metadata.version(name))
    assert installed in requirement.specifier, (name, str(installed), str(requirement))
    # A minor upgrade must be a decision: the pin admits patch releases only.
    next_minor = Version(f"{installed.major}.{installed.minor + 1}.0")
    assert next_minor not in requirement.specifier, str(requirement)


def test_the_server_queues_a_raw_engineio_packet_for_one_socket() -> None:
    send = socketio.AsyncServer._send_eio_packet
    assert inspect.iscoroutinefunction(send)
    assert parameters(send) == ["self", "eio_sid", "eio_pkt"]
    # `packet_class` is what encodes an emit, set per server from its serializer.
    server = socketio.AsyncServer(async_mode="aiohttp")
    assert server.packet_class is socketio.packet.Packet
    assert isinstance(server.eio.sockets, dict)


def test_the_manager_emit_and_participants_keep_their_shape() -> None:
    emit = socketio.AsyncManager.emit
    assert inspect.iscoroutinefunction(emit)
    assert parameters(emit)[:8] == [
        "self",
        "event",
        "data",
        "namespace",
        "room",
        "skip_sid",
        "callback",
        "to",
    ]
    assert parameters(socketio.AsyncManager.get_participants) == ["self", "namespace", "room"]
    manager = socketio.AsyncManager()
    assert manager.rooms == {}
    assert manager.server is None


def test_the_pubsub_manager_hooks_we_override_are_still_called() -> None:
    base = AsyncPubSubManager
    for name, wanted in {
        "_publish": ["self", "data"],
        "_listen": ["self"],
        "_handle_emit": ["self", "message"],
    }.items():
        hook = getattr(base, name)
        assert parameters(hook) == wanted, name
    assert inspect.iscoroutinefunction(base._handle_emit)
    # The listening loop must still hand emits from other hosts to `_handle_emit`, and the
    # Redis manager must still read its subscription through `_listen`.
    loop_source = inspect.getsource(base._thread)
    assert "self._listen()" in loop_source
    assert "self._handle_emit(data)" in loop_source
    assert issubclass(socketio.AsyncRedisManager, base)
    assert "channel" in parameters(socketio.AsyncRedisManager.__init__)


def test_the_frame_handlers_we_wrap_and_the_connection_states_we_read() -> None:
    server = socketio.AsyncServer
    for name in ("_handle_eio_message", "_handle_eio_disconnect"):
        assert inspect.iscoroutinefunction(getattr(server, name)), name
    assert parameters(server._handle_eio_message) == ["self", "eio_sid", "data"]
    assert parameters(server._handle_eio_disconnect) == ["self", "eio_sid", "reason"]
    # A packet class passed as `serializer` is used as is; its decode may raise.
    assert server(async_mode="aiohttp", serializer=CheckedPacket).packet_class is CheckedPacket
    assert parameters(socketio.packet.Packet.decode) == ["self", "encoded_packet"]
    # The real connect handler runs while the socket is pending, the real disconnect handler
    # after it was marked leaving: `is_connected` is false in both, true for a client's event.
    manager = socketio.AsyncManager
    assert parameters(manager.is_connected) == ["self", "sid", "namespace"]
    for name in ("pre_connect", "connect", "pre_disconnect"):
        assert hasattr(manager, name), name
    assert "self.manager.pre_disconnect(sid, namespace=namespace)" in inspect.getsource(
        server._handle_disconnect
    )


def test_an_engineio_socket_closes_without_waiting() -> None:
    close = AsyncSocket.close
    assert inspect.iscoroutinefunction(close)
    assert "wait" in parameters(close)
    assert engineio.packet.MESSAGE == 4


def test_what_the_backlog_bound_reads_and_aborts() -> None:
    # engine.io's server class is chosen by a hook; its request handler takes the request.
    assert "_engineio_server_class" in vars(socketio.AsyncServer)
    assert parameters(engineio.AsyncServer.handle_request)[:2] == ["self", "args"]
    # Packets wait for the writer in an asyncio.Queue per socket, as engine.io packets whose
    # `data` is the encoded Socket.IO packet; an abort closes with no CLOSE packet.
    assert "self.queue.put(pkt)" in inspect.getsource(AsyncSocket.send)
    assert "abort" in parameters(AsyncSocket.close)
    # The request a socket began on is in its environ (the aiohttp driver puts it there).
    driver = inspect.getsource(engineio.async_drivers.aiohttp.translate_request)
    assert "'aiohttp.request': request" in driver
    assert "self.environ[eio_sid] = environ" in inspect.getsource(
        socketio.AsyncServer._handle_eio_connect
    )


async def test_a_joined_room_is_kept_where_the_hub_reads_it(
    server: RunningServer, community: Community, peer: PeerFactory
) -> None:
    ana = await peer(community.pat_ana.token)
    await joined(ana, community.group_a)
    sio = server.app[CORE].sio
    manager = sio.manager

    assert manager.server is sio
    members = manager.rooms["/"][room_channel(community.group_a)]
    assert len(members) == 1
    [(sid, eio_sid)] = list(manager.get_participants("/", room_channel(community.group_a)))
    assert sid in members
    assert members[sid] == eio_sid
    assert eio_sid in sio.eio.sockets
    assert isinstance(sio.eio.sockets[eio_sid], AsyncSocket)
