"""The python-socketio internals peerrooms relies on, checked against the installed release.

`realtime/delivery.py`, `realtime/hub.py`, `realtime/redis.py`, `realtime/frames.py`,
`realtime/engine_socket.py` and `realtime/connections.py` reach past python-socketio's public
API (to queue packets without a task per recipient, count a room's members, deliver pub/sub
messages at most once, drop malformed frames quietly, tell a client-sent `connect` event from
the real one, find and abort the connection of a client that stopped reading:
`realtime/backlog.py`, keep each socket's rooms beside the manager's so a disconnect does not
ask every room: `IndexedRoomsManager`, and serve a connection with fewer tasks).
pyproject.toml pins python-socketio and python-engineio to the minor releases these names were
read from; when an upgrade moves or reshapes one of them, this file fails before a delivery
silently stops."""

from __future__ import annotations

import ast
import inspect
import textwrap
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import engineio
import engineio.async_drivers.aiohttp
import pytest
import socketio
from bidict import ValueDuplicationError, bidict
from engineio.async_socket import AsyncSocket
from packaging.requirements import Requirement
from packaging.version import Version
from socketio.async_pubsub_manager import AsyncPubSubManager
from socketio.base_manager import BaseManager

from server.app import CORE
from server.realtime.delivery import IndexedRoomsManager, LocalManager
from server.realtime.frames import CheckedPacket
from server.realtime.hub import room_channel
from server.realtime.redis import ResilientRedisManager
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


def test_what_a_write_straight_onto_a_websocket_relies_on() -> None:
    """`realtime/websockets.py` replaces the aiohttp driver's websocket, reads a socket's
    states, and writes only while its writer waits in `poll` having sent all it took."""
    # The driver is looked up per upgrade in the server's table and called with the
    # socket's bound handler and the server; the handler runs inside the driver's call.
    upgrade = inspect.getsource(AsyncSocket._upgrade_websocket)
    assert (
        "self.server._async['websocket'](\n            self._websocket_handler, self.server)"
        in (upgrade)
    )
    driver = engineio.async_drivers.aiohttp
    assert driver._async["websocket"] is driver.WebSocket
    assert parameters(driver.WebSocket.__init__) == ["self", "handler", "server"]
    call = inspect.getsource(driver.WebSocket.__call__)
    assert "await self.handler(self)" in call
    for method in ("send", "wait", "close"):
        assert "self._sock." in inspect.getsource(getattr(driver.WebSocket, method)), method
    # The states read; a socket made by a server has them all.
    server = engineio.AsyncServer(async_mode="aiohttp")
    made = AsyncSocket(server, "sid")
    for state in ("closed", "closing", "upgrading", "upgraded", "last_ping", "queue"):
        assert hasattr(made, state), state
    assert "self.last_ping" in inspect.getsource(AsyncSocket.check_ping_timeout)
    # The writer takes packets only through `poll`, which takes all that wait, and sends
    # each before it polls again.
    handler = inspect.getsource(AsyncSocket._websocket_handler)
    assert "packets = await self.poll()" in handler
    assert "await ws.send(pkt.encode())" in handler
    assert "self.queue.get_nowait()" in inspect.getsource(AsyncSocket.poll)
    assert "self.queue.get()" in inspect.getsource(AsyncSocket.poll)
    # A packet for one client (acks among them) is encoded and handed to engine.io's send,
    # which peerrooms' server replaces with its own way (`SocketServer._send_packet`).
    assert parameters(socketio.AsyncServer._send_packet) == ["self", "eio_sid", "pkt"]
    assert "await self.eio.send(eio_sid, encoded_packet)" in inspect.getsource(
        socketio.AsyncServer._send_packet
    )
    assert "packet.Packet(packet.MESSAGE, data=data)" in inspect.getsource(
        engineio.AsyncServer.send
    )


def test_what_the_engine_socket_takes_over() -> None:
    """`realtime/engine_socket.py` gives engine.io's sockets a subclass as they are stored in
    the server's table, and replaces their websocket loop, their poll and their pings."""
    # Sockets are made by the connect handler and stored in the table before anything runs
    # on them; the table is a plain attribute, set once in the constructor.
    connect = inspect.getsource(engineio.AsyncServer._handle_connect)
    made = connect.index("s = async_socket.AsyncSocket(self, sid)")
    stored = connect.index("self.sockets[sid] = s")
    assert made < stored < connect.index("await s.send(pkt)") < connect.index("s.schedule_ping()")
    assert "self.sockets = {}" in inspect.getsource(engineio.base_server.BaseServer.__init__)
    # A class without slots of its own, so a subclass adding only methods may take its place.
    assert "__slots__" not in vars(AsyncSocket)
    assert all("__slots__" not in vars(base) for base in AsyncSocket.__mro__[1:-1])
    # Pings: scheduled at connect and on each pong, once the last one was answered; sent
    # through the queue, marking when.
    assert "self.schedule_ping()" in inspect.getsource(AsyncSocket.receive)
    schedule = inspect.getsource(AsyncSocket.schedule_ping)
    assert "if self.last_ping:" in schedule and "self.last_ping = None" in schedule
    send_ping = inspect.getsource(AsyncSocket._send_ping)
    assert "asyncio.sleep(self.server.ping_interval)" in send_ping
    assert "self.last_ping = time.time()" in send_ping
    # The poll: what waits, up to the end mark, or QueueEmpty when nothing comes in time or
    # the wait is cancelled.
    poll = inspect.getsource(AsyncSocket.poll)
    assert "self.server.ping_interval + self.server.ping_timeout" in poll
    assert "except (asyncio.TimeoutError, asyncio.CancelledError):" in poll
    assert "self.queue.put_nowait(None)" in poll
    # The websocket loop: the upgrade handshake, the reading deadline, the end.
    handler = inspect.getsource(AsyncSocket._websocket_handler)
    for step in (
        "decoded_pkt.packet_type != packet.PING",
        "decoded_pkt.data != 'probe'",
        "packet.Packet(packet.PONG, data='probe')",
        "await self.queue.put(packet.Packet(packet.NOOP))",
        "decoded_pkt.packet_type != packet.UPGRADE",
        "self.server.ping_interval + self.server.ping_timeout",
        "await self.receive(pkt)",
        "except exceptions.UnknownPacketError:",
        "except exceptions.SocketIsClosedError:",
        "await self.queue.put(None)",
        "reason=self.server.reason.TRANSPORT_CLOSE",
    ):
        assert step in handler, step


@pytest.mark.parametrize(
    "data",
    [
        None,
        "text",
        b"bytes",
        ["event", {"id": 1, "body": "hi", "reactions": [{"emoji": "x", "n": 2}]}],
        ["event", {"id": 1, "nested": [[{"deep": bytearray(b"x")}]]}],
        ["event", {"a": [1, 2.5, True, None, {"b": "c"}]}],
        {"key": [{"k": b"v"}]},
        [[], {}, [{}]],
    ],
)
def test_the_binary_check_answers_as_the_library(data: Any) -> None:
    assert CheckedPacket.data_is_binary(data) is socketio.packet.Packet.data_is_binary(data)


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


# The manager methods `IndexedRoomsManager` overrides, with the parameters it takes them with.
INDEXED_OVERRIDES = {
    "basic_enter_room": ["self", "sid", "namespace", "room", "eio_sid"],
    "basic_leave_room": ["self", "sid", "namespace", "room"],
    "basic_close_room": ["self", "room", "namespace"],
    "basic_disconnect": ["self", "sid", "namespace", "kwargs"],
    "get_rooms": ["self", "sid", "namespace"],
}


def test_the_room_methods_the_index_overrides_keep_their_signatures() -> None:
    for name, wanted in INDEXED_OVERRIDES.items():
        assert parameters(getattr(BaseManager, name)) == wanted, name
        assert parameters(getattr(IndexedRoomsManager, name)) == wanted, name
        # Defined once, in BaseManager: nothing between it and our managers replaces them.
        for cls in (socketio.AsyncManager, AsyncPubSubManager, socketio.AsyncRedisManager):
            assert name not in vars(cls), (cls.__name__, name)
        for ours in (LocalManager, ResilientRedisManager):
            assert getattr(ours, name) is vars(IndexedRoomsManager)[name], (ours.__name__, name)
    # Every entering, leaving and disconnecting reaches them.
    for name, calls in {
        "enter_room": "self.basic_enter_room(",
        "leave_room": "self.basic_leave_room(",
        "close_room": "self.basic_close_room(",
        "disconnect": "self.basic_disconnect(",
    }.items():
        assert calls in inspect.getsource(getattr(socketio.AsyncManager, name)), name
    assert "self.basic_enter_room(" in inspect.getsource(BaseManager.pre_connect)
    assert "self.basic_leave_room(" in inspect.getsource(BaseManager.basic_close_room)
    assert "self.manager.disconnect(" in inspect.getsource(socketio.AsyncServer._handle_disconnect)


ROOM_MUTATORS = {"pop", "popitem", "clear", "update", "setdefault", "put", "forceput"}


def functions_changing_rooms(module: Any) -> set[str]:
    """The functions of a module that change a manager's `rooms` (assign or delete in it, or
    call a mutating method on it)."""

    def mentions_rooms(node: ast.AST) -> bool:
        return any(
            isinstance(part, ast.Attribute) and part.attr == "rooms" for part in ast.walk(node)
        )

    found = set()
    for function in ast.walk(ast.parse(inspect.getsource(module))):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign | ast.Delete):
                targets = node.targets
            elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                targets = [node.target]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ROOM_MUTATORS
            ):
                targets = [node.func.value]
            if any(mentions_rooms(target) for target in targets):
                found.add(function.name)
    return found


def test_rooms_change_only_in_the_methods_the_index_follows() -> None:
    """The index is kept in step by `basic_enter_room` and `basic_leave_room`: no other code
    of python-socketio's managers or server may change `rooms`."""
    modules = [
        socketio.base_manager,
        socketio.async_manager,
        socketio.async_pubsub_manager,
        socketio.async_redis_manager,
        socketio.base_server,
        socketio.async_server,
    ]
    changing = {
        (module.__name__, name) for module in modules for name in functions_changing_rooms(module)
    }
    assert changing == {
        ("socketio.base_manager", "__init__"),
        ("socketio.base_manager", "basic_enter_room"),
        ("socketio.base_manager", "basic_leave_room"),
    }


def attributes_of_self(function: Any) -> set[str]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    }


def test_the_library_disconnect_cleans_up_what_ours_does() -> None:
    """`IndexedRoomsManager.basic_disconnect` does what python-socketio's does after leaving
    the rooms: should a release clean up anything more, ours must too."""
    assert attributes_of_self(BaseManager.basic_disconnect) == {
        "rooms",
        "basic_leave_room",
        "callbacks",
        "pending_connect",
        "pending_disconnect",
    }
    assert attributes_of_self(BaseManager.get_rooms) == {"rooms"}


def as_lists(pending: dict[str | None, Any]) -> dict[str | None, list[str]]:
    """A pending table as python-socketio keeps it (ours keeps each namespace's sids in a
    dict, `delivery.py: PendingSids`)."""
    return {namespace: list(sids) for namespace, sids in pending.items()}


@pytest.mark.parametrize("kind", [socketio.AsyncManager, LocalManager])
async def test_the_shapes_of_rooms_callbacks_and_pending_lists(kind: type[Any]) -> None:
    """`rooms[namespace][room]` is a bidict of sid -> eio_sid (None: the connection to the
    namespace; the sid: the socket's own room), and a room or namespace left empty goes;
    `callbacks` is by sid, `pending_connect` and `pending_disconnect` lists of sids by
    namespace. Checked on python-socketio's manager and on ours."""
    manager = kind()
    socketio.AsyncServer(async_mode="aiohttp", client_manager=manager)
    assert (manager.rooms, manager.callbacks) == ({}, {})
    assert (manager.pending_connect, manager.pending_disconnect) == ({}, {})

    sid = await manager.pre_connect("eio-1", "/")
    assert as_lists(manager.pending_connect) == {"/": [sid]}
    assert list(manager.rooms["/"]) == [None, sid]
    for room in (None, sid):
        assert type(manager.rooms["/"][room]) is bidict
        assert dict(manager.rooms["/"][room]) == {sid: "eio-1"}
    await manager.connect(sid, "/")
    assert manager.pending_connect == {}

    await manager.enter_room(sid, "/", "room:1")
    members = manager.rooms["/"]["room:1"]
    assert type(members) is bidict
    assert dict(members) == {sid: "eio-1"}
    # A second sid with the same eio_sid is refused, not put in place of the first: a socket
    # leaves a room only through `basic_leave_room`.
    with pytest.raises(ValueDuplicationError):
        members["another-sid"] = "eio-1"
    assert dict(members) == {sid: "eio-1"}
    assert sorted(manager.get_rooms(sid, "/")) == sorted([sid, "room:1"])

    await manager.leave_room(sid, "/", "room:1")
    assert "room:1" not in manager.rooms["/"]
    manager._generate_ack_id(sid, print)
    assert list(manager.callbacks) == [sid]
    manager.pre_disconnect(sid, "/")
    assert as_lists(manager.pending_disconnect) == {"/": [sid]}
    await manager.disconnect(sid, "/")
    assert (manager.rooms, manager.callbacks) == ({}, {})
    assert (manager.pending_connect, manager.pending_disconnect) == ({}, {})
