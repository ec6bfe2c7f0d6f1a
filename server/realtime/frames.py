"""The Socket.IO server as peerrooms runs it. Frames a client sends that are not Socket.IO:
dropped with one log line per connection and a count, not a traceback per frame (which would
let anyone flood the log). What waits to be sent to a client: bounded (`backlog.py`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import engineio
import socketio
from engineio import packet as eio_packet
from socketio import packet

from server.realtime.backlog import SlowClients, transport_of
from server.realtime.engine_socket import SocketTable
from server.realtime.packet_queue import PacketQueue
from server.realtime.websockets import (
    OpenWebSocket,
    PlainWebSocket,
    websocket_frame_of,
    writer_is_idle,
)

log = logging.getLogger(__name__)

# What a client may send: the server never takes CONNECT_ERROR, or anything unnumbered, and
# peerrooms' events are JSON: a binary packet announces attachments that python-socketio
# would hold, and would take the connection's next frames as, until they all arrive.
CLIENT_PACKET_TYPES = frozenset({packet.CONNECT, packet.DISCONNECT, packet.EVENT, packet.ACK})
# How many connections' "already said" marks are kept before they are forgotten.
MAX_REMEMBERED = 10_000


class MalformedFrame(ValueError):
    """A frame that does not decode to a packet a client may send."""


class CheckedPacket(packet.Packet):  # type: ignore[misc]
    """python-socketio's packet, refusing what a client may not send as MalformedFrame: bad
    JSON, an unknown packet type, an event without a name; and looking for binary parts in
    what is sent without the library's recursion."""

    @classmethod
    def data_is_binary(cls, data: Any) -> bool:
        """Whether bytes are anywhere in `data`, as the library answers. Asked of every
        packet the server makes (each room message, each ack); the library's version calls
        itself on every value and folds the answers with `functools.reduce`, about 3 % of
        the server's CPU under the fan-out benchmark."""
        waiting = [data]
        while waiting:
            item = waiting.pop()
            if isinstance(item, bytes | bytearray):
                return True
            if isinstance(item, list):
                waiting.extend(item)
            elif isinstance(item, dict):
                waiting.extend(item.values())
        return False

    def decode(self, encoded_packet: Any) -> int:
        try:
            count = int(super().decode(encoded_packet) or 0)
        except (ValueError, TypeError, IndexError, KeyError) as error:
            raise MalformedFrame(f"{error.__class__.__name__}: {error}") from None
        if self.packet_type not in CLIENT_PACKET_TYPES:
            raise MalformedFrame(f"packet type {self.packet_type} is not for a client to send")
        if self.packet_type == packet.EVENT and not (
            isinstance(self.data, list) and self.data and isinstance(self.data[0], str)
        ):
            raise MalformedFrame("an event is a list that starts with its name")
        return count


class EngineServer(engineio.AsyncServer):  # type: ignore[misc]
    """engine.io's server, knowing each socket's open websocket and the TCP connection under
    it (`websockets.py`): engine.io keeps only the request a socket began on (a polling
    request, for a client that upgrades), and letting go of a client that stopped reading
    means aborting that connection. Its sockets keep fewer tasks (`engine_socket.py`)."""

    _async: dict[str, Any]  # engine.io's table of its async mode's drivers

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        self.websockets: dict[str, OpenWebSocket] = {}
        self.sockets = SocketTable()
        # The drivers' table is the module's own, shared by every server: copied, not changed.
        self._async = {**self._async, "websocket": PlainWebSocket}

    def create_queue(self, *args: Any, **kwargs: Any) -> Any:
        """Each socket's outgoing packets: a PacketQueue (packet_queue.py), unless asked for
        a bounded one."""
        if args or kwargs:
            return super().create_queue(*args, **kwargs)
        return PacketQueue()


class SocketServer(socketio.AsyncServer):  # type: ignore[misc]
    """The Socket.IO server, dropping malformed frames quietly (`on_malformed` counts each,
    and each connection's first is logged in one line) and cutting off clients that stop
    reading (`slow_clients`)."""

    def __init__(
        self,
        *args: Any,
        on_malformed: Callable[[], None],
        slow_clients: SlowClients,
        **options: Any,
    ) -> None:
        super().__init__(*args, serializer=CheckedPacket, **options)
        self._on_malformed = on_malformed
        self._told: set[str] = set()
        self._slow = slow_clients
        self._cutting_off: set[asyncio.Task[None]] = set()

    def _engineio_server_class(self) -> type[EngineServer]:
        return EngineServer

    def transport(self, eio_sid: str) -> asyncio.Transport | None:
        """The TCP connection a socket's packets are written to now, if it is known."""
        opened: OpenWebSocket | None = self.eio.websockets.get(eio_sid)
        if opened is not None and opened.transport is not None:
            return opened.transport
        return transport_of(self.environ.get(eio_sid))

    def write_now(self, eio_sid: str, eio_pkt: Any) -> bool:
        """Write the packet straight onto the socket's websocket if nothing is waiting to go
        before it (`websockets.py`); False: it is for engine.io's queue, as before."""
        opened = self.eio.websockets.get(eio_sid)
        if opened is None:
            return False
        eio_socket = self.eio.sockets.get(eio_sid)
        if eio_socket is None or self._slow.is_cut_off(eio_sid) or not writer_is_idle(eio_socket):
            return False
        transport = opened.writable_transport()
        if transport is None:
            return False
        frame = websocket_frame_of(eio_pkt)
        if frame is None:
            return False
        transport.write(frame)
        return True

    async def _send_packet(self, eio_sid: str, pkt: Any) -> None:
        """A packet for one client (an ack, a connect's answer): python-socketio hands it to
        engine.io's queue; here it goes the way of every other packet, straight onto an idle
        websocket, and past the backlog bound."""
        encoded = pkt.encode()
        for part in encoded if isinstance(encoded, list) else [encoded]:
            await self._send_eio_packet(eio_sid, eio_packet.Packet(eio_packet.MESSAGE, part))

    async def _send_eio_packet(self, eio_sid: str, eio_pkt: Any) -> None:
        eio_socket = self.eio.sockets.get(eio_sid)
        if eio_socket is not None:
            if self._slow.is_cut_off(eio_sid):
                return
            if self.write_now(eio_sid, eio_pkt):
                return
            if self._slow.over_limit(eio_socket):
                closing = self._slow.cut_off(eio_socket, self.transport(eio_sid))
                task = asyncio.ensure_future(closing)
                self._cutting_off.add(task)
                task.add_done_callback(self._cutting_off.discard)
                return
        await super()._send_eio_packet(eio_sid, eio_pkt)

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except MalformedFrame as error:
            self._dropped(eio_sid, error)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        self._told.discard(eio_sid)
        await super()._handle_eio_disconnect(eio_sid, reason)

    def _dropped(self, eio_sid: str, error: MalformedFrame) -> None:
        self._on_malformed()
        if eio_sid in self._told:
            return
        if len(self._told) >= MAX_REMEMBERED:
            self._told.clear()
        self._told.add(eio_sid)
        log.warning("dropped a malformed frame from connection %s (%s)", eio_sid, error)
