"""A light Socket.IO client: Engine.IO v4 / Socket.IO v5 over one aiohttp websocket.

python-socketio's own client costs several times more CPU per message (packet objects, a
task per event, polling upgrade). A load generator that spends its CPU on the client measures
itself, so this client does only what the benchmark needs: the websocket-only handshake,
events with acks, ping/pong, and a raw-text hook for `message` events that the caller parses
as cheaply as it likes.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from typing import Any

import aiohttp

MESSAGE_PREFIX = '42["message",'
CONNECT_TIMEOUT_S = 30.0
# The connections of clients that will stop reading (`stalling_socket`): a receive buffer of
# kilobytes, as the stalled member of tests/test_slow_clients.py has, and the segment size of
# a real network. Over loopback the segments are 64 KiB, and the kernel sizes the server's
# send buffer by them (up to 4 MiB here, tcp_wmem); with ordinary segments it stays near
# 100 KiB, as for a phone on a mobile network, so the server's own backlog starts filling
# after about as much as a phone's connection would hold.
STALLED_RECEIVE_BUFFER_BYTES = 4096
STALLED_SEGMENT_BYTES = 1400
TCP_ESTABLISHED = 1

# (raw packet text, receive time in time.time_ns()) for each `message` event.
MessageHook = Callable[[str, int], None]


class RefusedError(RuntimeError):
    """The server refused the Socket.IO connection (CONNECT_ERROR)."""


def socketio_url(base_url: str) -> str:
    """The websocket endpoint of a server's default Socket.IO path, skipping polling."""
    ws_base = base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    return f"{ws_base}/socket.io/?EIO=4&transport=websocket"


def client_id_of(raw: str) -> str:
    """The `client_id` of a raw `message` packet, without parsing the whole JSON.

    Both servers serialise with json.dumps, so the key appears once in the payload (the
    benchmark's bodies never contain it)."""
    key = raw.find('"client_id"', len(MESSAGE_PREFIX))
    start = raw.find('"', key + 11) + 1
    return raw[start : raw.find('"', start)]


def message_id_of(raw: str) -> int:
    """The `id` of a raw `message` packet. A full parse: only the storm scenario asks, for a
    few messages per client, off the load runs' hot path."""
    return int(json.loads(raw[2:])[1]["id"])


def stalling_socket(addr_info: aiohttp.AddrInfoType) -> socket.socket:
    """A socket for a client that will stop reading (an aiohttp connector's socket_factory):
    set before connecting, so the handshake announces them (STALLED_* above)."""
    family, kind, protocol, _name, _address = addr_info
    made = socket.socket(family, kind, protocol)
    made.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALLED_RECEIVE_BUFFER_BYTES)
    made.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, STALLED_SEGMENT_BYTES)
    return made


class LightClient:
    """One Socket.IO connection. Not thread-safe; one event loop drives many of these."""

    def __init__(self, session: aiohttp.ClientSession, on_message: MessageHook | None = None):
        self._session = session
        self._on_message = on_message
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._acks: dict[int, Callable[[dict[str, Any]], None]] = {}
        self._next_ack = 0
        self._reader: asyncio.Task[None] | None = None
        self.events: dict[str, int] = {}
        self.closed_reason: str | None = None

    async def connect(self, base_url: str, auth: dict[str, Any] | None = None) -> None:
        """Open the websocket, answer the Engine.IO handshake and connect namespace '/'."""
        ws = await self._session.ws_connect(
            socketio_url(base_url), compress=0, autoping=True, max_msg_size=0
        )
        self._ws = ws
        opening = await ws.receive(timeout=CONNECT_TIMEOUT_S)
        if opening.type != aiohttp.WSMsgType.TEXT or not opening.data.startswith("0"):
            raise RefusedError(f"no Engine.IO open packet: {opening!r}")
        await ws.send_str("40" + json.dumps(auth or {}))
        while True:
            answer = await ws.receive(timeout=CONNECT_TIMEOUT_S)
            if answer.type != aiohttp.WSMsgType.TEXT:
                raise RefusedError(f"connection closed during connect: {answer!r}")
            if answer.data == "2":
                await ws.send_str("3")
                continue
            if answer.data.startswith("40"):
                break
            raise RefusedError(answer.data)
        self._reader = asyncio.get_running_loop().create_task(self._read_loop(ws))

    async def emit(
        self,
        event: str,
        data: dict[str, Any],
        on_ack: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """Send an event; `on_ack` runs with the ack's payload when it arrives (the caller
        does not wait for it, so a sender can keep a fixed rate)."""
        if self._ws is None:
            raise RuntimeError("connect first")
        if on_ack is None:
            packet = "42" + json.dumps([event, data])
        else:
            self._next_ack += 1
            self._acks[self._next_ack] = on_ack
            packet = f"42{self._next_ack}" + json.dumps([event, data])
        await self._ws.send_str(packet)

    async def call(self, event: str, data: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        """Send an event and wait for its ack."""
        answered: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

        def settle(payload: dict[str, Any]) -> None:
            if not answered.done():
                answered.set_result(payload)

        await self.emit(event, data, settle)
        return await asyncio.wait_for(answered, timeout)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()

    async def _read_loop(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for frame in ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                break
            self._dispatch(frame.data)
        self.closed_reason = f"websocket closed ({ws.close_code})"

    def _dispatch(self, raw: str) -> None:
        """Route one Engine.IO text packet. The `message` branch comes first: it is hot."""
        if raw.startswith(MESSAGE_PREFIX):
            if self._on_message is not None:
                self._on_message(raw, time.time_ns())
            return
        if raw == "2" and self._ws is not None:
            asyncio.ensure_future(self._ws.send_str("3"))
        elif raw.startswith("43"):
            self._ack(raw)
        elif raw.startswith("42"):
            name = raw[4 : raw.find('"', 4)]
            self.events[name] = self.events.get(name, 0) + 1
        elif raw.startswith("41") or raw.startswith("1"):
            self.closed_reason = "server disconnected"

    def _ack(self, raw: str) -> None:
        bracket = raw.index("[")
        handler = self._acks.pop(int(raw[2:bracket]), None)
        if handler is not None:
            args = json.loads(raw[bracket:])
            handler(args[0] if args else {})

    # ----- a client that stops reading (the overload scenario) -----

    def stop_reading(self) -> None:
        """From now on take nothing off the connection, as a phone asleep in a pocket: the
        read loop stops, so nothing is dispatched (acks and pings included), and the socket
        is no longer read (at once: left to aiohttp's flow control, 128 KiB more would be
        taken in small segments, and the server's kernel would grow its send buffer for
        them), so the kernel's buffers fill (small ones, on a `stalling_socket`) and the
        server's writes to this client wait."""
        if self._reader is not None:
            self._reader.cancel()
        if self._ws is not None:
            # aiohttp has no public handle on a websocket's transport; the writer's is it.
            self._ws._writer.transport.pause_reading()

    def connection_open(self) -> bool:
        """Is the TCP connection still established (read off the kernel, so it holds for a
        client that stopped reading and never saw the server let go)?"""
        raw = self._socket()
        if raw is None:
            return False
        try:
            info = raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
        except OSError:
            return False
        return bool(info[0] == TCP_ESTABLISHED)

    async def poke(self) -> None:
        """A websocket ping, which means nothing to Engine.IO. The server aborting a
        connection whose sent data this client never read leaves it waiting to send the
        rest, and the client's side established; data arriving then is answered with a
        reset, which `connection_open` shows at once."""
        if self._ws is None or self._ws.closed:
            return
        try:
            await self._ws.ping()
        except (aiohttp.ClientError, ConnectionError, RuntimeError):
            pass  # already gone: `connection_open` says so

    def _socket(self) -> Any:
        """The connection's socket (asyncio's wrapper of it), or None once it is gone."""
        if self._ws is None:
            return None
        return self._ws.get_extra_info("socket")
