"""Each client's open websocket, and writing a packet straight onto it.

engine.io hands every packet for a socket to that socket's queue, and one writer task per
socket takes it off and sends it. For a room's message that is, for each recipient, a wake-up
of its writer task, an `asyncio.wait_for` around the queue (in Python 3.11 a task of its own
and a timer), the packet encoded again and framed, then the write: most of a delivery's CPU
under the fan-out benchmark, paid once per member of the room.

Here a packet is framed once, and written straight to the connection of each recipient whose
writer has nothing in hand and nothing waiting in its queue (`PacketQueue.all_written`):
then nothing can go before it, and nothing can be sent between (the loop does not turn while
the write is made), so the order engine.io would keep is kept. Anything else (a socket
still long-polling or upgrading, a writer busy sending, a connection whose buffer already
holds unsent bytes, a socket closing or waiting for its pong) goes through engine.io's queue
as before, so a client that stops reading still fills its queue and is let go at the bound
(`backlog.py`).

Websockets are opened without permessage-deflate. The compressor aiohttp keeps for a
connection that negotiated it holds zlib's window and hash tables (about 256 KiB) from its
first message on, against about 36 KiB for everything else an idle connection keeps, and
a chat line of a few hundred bytes gains little from it. socket.io's own server has shipped
with it off by default since its version 3. A frame framed once for a room could not be
shared by compressing connections anyway: each has its own compression state.
"""

from __future__ import annotations

import asyncio
import struct
import time
from dataclasses import dataclass
from typing import Any

from aiohttp.web import WebSocketResponse
from engineio import packet as eio_packet
from engineio.async_drivers.aiohttp import WebSocket

# RFC 6455 §5.2: FIN set, opcode 1 (text); a server's frames are never masked.
FINAL_TEXT = 0x81
SHORT_LENGTH_LIMIT = 126
MEDIUM_LENGTH_LIMIT = 1 << 16


def text_frame(payload: bytes) -> bytes:
    """One unmasked, uncompressed websocket text frame carrying `payload` (UTF-8)."""
    length = len(payload)
    if length < SHORT_LENGTH_LIMIT:
        header = struct.pack("!BB", FINAL_TEXT, length)
    elif length < MEDIUM_LENGTH_LIMIT:
        header = struct.pack("!BBH", FINAL_TEXT, 126, length)
    else:
        header = struct.pack("!BBQ", FINAL_TEXT, 127, length)
    return header + payload


class OutgoingPacket(eio_packet.Packet):  # type: ignore[misc]
    """An engine.io packet that frames itself for a websocket once, however many sockets it
    is written to."""

    _frame: bytes | None = None

    def websocket_frame(self) -> bytes:
        if self._frame is None:
            self._frame = text_frame(self.encode().encode("utf-8"))
        return self._frame


def websocket_frame_of(eio_pkt: Any) -> bytes | None:
    """The packet as one websocket text frame; None for binary data, which engine.io frames
    as a binary message."""
    if not isinstance(eio_pkt.data, str):
        return None
    if isinstance(eio_pkt, OutgoingPacket):
        return eio_pkt.websocket_frame()
    return text_frame(eio_pkt.encode().encode("utf-8"))


@dataclass(slots=True)
class OpenWebSocket:
    """A socket's websocket while its handler runs, and the TCP connection under it."""

    response: WebSocketResponse
    transport: asyncio.Transport | None

    def writable_transport(self) -> asyncio.Transport | None:
        """The connection, if it is open and everything written before has left for the
        kernel."""
        transport = self.transport
        if transport is None or self.response.closed or transport.is_closing():
            return None
        return transport if transport.get_write_buffer_size() == 0 else None


class PlainWebSocket(WebSocket):  # type: ignore[misc]
    """engine.io's aiohttp websocket, without compression, and known to the server as its
    socket's open websocket while engine.io's handler runs on it."""

    async def __call__(self, environ: dict[str, Any]) -> WebSocketResponse:
        request = environ["aiohttp.request"]
        self._sock = WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size, compress=False
        )
        await self._sock.prepare(request)
        self.environ = environ
        # engine.io passes its socket's bound `_websocket_handler`; the socket is its self.
        eio_socket = self.handler.__self__
        sid = eio_socket.sid
        self._queue = eio_socket.queue
        opened = OpenWebSocket(self._sock, request.transport)
        self.server.websockets[sid] = opened
        try:
            await self.handler(self)
        finally:
            if self.server.websockets.get(sid) is opened:
                del self.server.websockets[sid]
        return self._sock

    async def wait(self, timeout: float | None = None) -> str | bytes:
        """The next text or binary message; OSError once the connection closed or failed,
        TimeoutError when none came within `timeout` seconds (`engine_socket.py`)."""
        message = await self._sock.receive(timeout)
        data = message.data
        if not isinstance(data, str | bytes):
            raise OSError(f"the websocket ended ({message.type.name})")
        return data

    async def send(self, message: str | bytes) -> None:
        """engine.io's writer task sends each packet it took here; while a send waits for
        the connection to drain, what it took is still in hand (`PacketQueue.all_written`)."""
        self._queue.mark_writing()
        try:
            await super().send(message)
        finally:
            self._queue.mark_written()


def writer_is_idle(eio_socket: Any) -> bool:
    """The socket is on its websocket, not closing, its pong not overdue, and its writer task
    has written everything it took and nothing waits in its queue."""
    if eio_socket.closed or eio_socket.closing or eio_socket.upgrading or not eio_socket.upgraded:
        return False
    last_ping = eio_socket.last_ping
    if last_ping and time.time() - last_ping > eio_socket.server.ping_timeout:
        # engine.io's own send closes such a socket; let it.
        return False
    return bool(eio_socket.queue.all_written())
