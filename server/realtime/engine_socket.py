"""engine.io's socket, keeping two tasks per idle websocket connection where engine.io keeps
four, and starting none per frame a client sends.

engine.io (4.x) runs, for each websocket connection:
- the connection's own handler task (aiohttp's), which reads frames;
- a writer task, waiting on the socket's queue inside `asyncio.wait_for`: on Python 3.11 a
  task of its own for the queue's `get`, made again at each wake-up;
- for each frame read, a task for the read, inside another `wait_for`;
- a task asleep between pings, one per ping interval.

An idle connection so holds four tasks, and each of them a coroutine frame or two: a few KiB
of the 30-odd an idle connection costs (`python -m bench idle`), and a task started and
finished for every frame a client sends. `EngineSocket` reads in the handler's own task and
waits on the queue under `asyncio.timeout` (a timer, not a task), with the same deadlines,
and schedules its ping with `loop.call_later`. What it sends and when, the upgrade from long
polling, and how it closes follow engine.io's protocol as the library does.

engine.io makes its sockets itself (`AsyncServer._handle_connect`) and offers no hook for the
class, so the server's socket table (`SocketTable`) gives each new socket this class as it is
stored, before anything runs on it. A socket stored some other way keeps the library's class
and works as before.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from engineio import exceptions
from engineio import packet as eio_packet
from engineio.async_socket import AsyncSocket

log = logging.getLogger(__name__)


class FrameChannel(Protocol):
    """The websocket as the socket reads and writes it (`websockets.PlainWebSocket`)."""

    async def wait(self, timeout: float | None = None) -> str | bytes: ...

    async def send(self, message: str | bytes) -> None: ...

    async def close(self) -> None: ...


class EngineSocket(AsyncSocket):  # type: ignore[misc]
    """An engine.io socket that reads each frame in its connection's task, waits for what to
    send without a task per wait, and pings from a timer."""

    # engine.io's own state (`BaseSocket.__init__`), as read here.
    last_ping: float | None
    connected: bool
    upgrading: bool
    upgraded: bool

    def _silence_limit(self) -> float:
        """How long a connection may stay silent (a ping unanswered, nothing to send) before
        it is taken for gone: engine.io's own limit."""
        return float(self.server.ping_interval + self.server.ping_timeout)

    # ----- pings -----

    def schedule_ping(self) -> None:
        """The next ping, a ping interval from now, once the last one was answered (engine.io
        calls this at connect and on each pong)."""
        if not self.last_ping:
            return
        self.last_ping = None
        asyncio.get_running_loop().call_later(self.server.ping_interval, self._ping)

    def _ping(self) -> None:
        if self.closing or self.closed:
            return
        # Answered by a pong, or the socket is closed `ping_timeout` after this mark.
        self.last_ping = time.time()
        self.queue.put_nowait(eio_packet.Packet(eio_packet.PING))

    # ----- what to send -----

    async def poll(self) -> list[Any]:
        """Everything waiting to be sent, once something is; [] once the socket is ending.
        Raises QueueEmpty when nothing came within the silence limit, or the wait was
        cancelled, as engine.io's own does: its callers close the socket on it."""
        try:
            async with asyncio.timeout(self._silence_limit()):
                first = await self.queue.get()
        except (TimeoutError, asyncio.CancelledError):
            raise exceptions.QueueEmpty() from None
        self.queue.task_done()
        return self._take_waiting(first)

    def _take_waiting(self, first: Any) -> list[Any]:
        """`first` and whatever waits behind it, up to the end mark (None), which is left for
        the next poll so that the packets before it are still sent."""
        packets: list[Any] = []
        item = first
        while item is not None:
            packets.append(item)
            if self.queue.empty():
                return packets
            item = self.queue.get_nowait()
            self.queue.task_done()
        if packets:
            self.queue.put_nowait(None)
        return packets

    # ----- the websocket -----

    async def _websocket_handler(self, ws: FrameChannel) -> None:
        """Serve the socket over `ws` until either side ends it: the upgrade handshake when
        the socket began on long polling, then a writer task sending what is queued while
        this task reads."""
        if self.connected:
            if not await self._upgrade_from_polling(ws):
                return
        else:
            self.connected = True
            self.upgraded = True
        writer = asyncio.ensure_future(self._write_until_ended(ws))
        try:
            await self._read_until_ended(ws)
        finally:
            self.queue.put_nowait(None)  # the writer's end mark
        await writer
        await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)

    async def _upgrade_from_polling(self, ws: FrameChannel) -> bool:
        """engine.io's upgrade: the client probes with a ping, the server answers and ends the
        poll it holds open, and the client confirms with an upgrade packet. Until then what
        is sent waits in the queue for the poll."""
        self.upgrading = True
        try:
            probe = await self._next_packet(ws)
            if probe is None or probe.packet_type != eio_packet.PING or probe.data != "probe":
                log.info("%s: websocket upgrade failed: no probe", self.sid)
                return False
            await ws.send(eio_packet.Packet(eio_packet.PONG, data="probe").encode())
            self.queue.put_nowait(eio_packet.Packet(eio_packet.NOOP))
            confirmed = await self._next_packet(ws)
            if confirmed is None or confirmed.packet_type != eio_packet.UPGRADE:
                log.info("%s: websocket upgrade failed: not confirmed", self.sid)
                return False
            self.upgraded = True
            return True
        finally:
            self.upgrading = False

    async def _read_until_ended(self, ws: FrameChannel) -> None:
        while (pkt := await self._next_packet(ws)) is not None:
            try:
                await self.receive(pkt)
            except exceptions.UnknownPacketError:
                continue
            except exceptions.SocketIsClosedError:
                return
            except Exception:
                # One packet's failure does not end the connection, as in engine.io.
                log.exception("%s: receiving a packet failed", self.sid)

    async def _next_packet(self, ws: FrameChannel) -> eio_packet.Packet | None:
        """The client's next packet; None once the connection closed or failed, stayed
        silent past the limit, or sent a frame that is no engine.io packet."""
        try:
            data = await ws.wait(self._silence_limit())
        except (TimeoutError, OSError):
            return None
        try:
            return eio_packet.Packet(encoded_packet=data)
        except ValueError as error:
            log.info("%s: ended on a frame that is no engine.io packet (%s)", self.sid, error)
            return None

    async def _write_until_ended(self, ws: FrameChannel) -> None:
        try:
            while packets := await self._packets_to_send():
                for pkt in packets:
                    await ws.send(pkt.encode())
        except (OSError, RuntimeError) as error:
            # The connection went; the reading side sees it end too.
            log.debug("%s: writing to the websocket failed (%s)", self.sid, error)
        finally:
            await ws.close()

    async def _packets_to_send(self) -> list[Any]:
        try:
            return await self.poll()
        except exceptions.QueueEmpty:
            return []


class SocketTable(dict[str, AsyncSocket]):
    """engine.io's table of its sockets by id, giving each library socket stored in it the
    class `EngineSocket` (which adds no state of its own, only methods)."""

    def __setitem__(self, sid: str, socket: AsyncSocket) -> None:
        if type(socket) is AsyncSocket:
            socket.__class__ = EngineSocket
        super().__setitem__(sid, socket)
