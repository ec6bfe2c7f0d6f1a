"""What may wait to be written to one client, and letting go of one that stopped reading.

A phone that stops reading (asleep in a pocket, a dead network) cannot take what is sent to
it: the kernel's buffers fill, the websocket's writer waits on them, and everything after
queues in engine.io's queue for that socket, without end, while the writer, and so the
connection, never finishes. Past the bound (messages or bytes) the client is cut off: its
TCP connection is aborted, which ends the writer and the connection at once, and it catches
up with `since` when it comes back. Aborting the transport is also how a shutdown lets go of
such clients (`abort_transports`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from server.realtime.packet_queue import PacketQueue

log = logging.getLogger(__name__)

# Below this many queued packets the bytes are not counted: a reading client's queue holds
# zero to a few, and summing them on every send would cost the fan-out for nothing.
COUNT_BYTES_FROM = 32


@dataclass(frozen=True)
class BacklogLimit:
    max_messages: int
    max_bytes: int

    def exceeded_by(self, queue: PacketQueue) -> bool:
        waiting = queue.qsize()
        if waiting >= self.max_messages:
            return True
        if waiting < COUNT_BYTES_FROM:
            return False
        return sum(queued_bytes(p) for p in queue.pending()) >= self.max_bytes


def queued_bytes(eio_packet: Any) -> int:
    data = getattr(eio_packet, "data", None)
    return len(data) if isinstance(data, str | bytes) else 0


def transport_of(environ: dict[str, Any] | None) -> asyncio.Transport | None:
    """The TCP transport under a socket (engine.io keeps the aiohttp request it came in on;
    a websocket stays on that request's connection)."""
    request = (environ or {}).get("aiohttp.request")
    return getattr(request, "transport", None)


@dataclass
class SlowClients:
    """Cuts off the clients whose backlog passes the limit, once each."""

    limit: BacklogLimit
    on_cut_off: Callable[[], None]
    cutting: set[str] = field(default_factory=set)

    def is_cut_off(self, eio_sid: str) -> bool:
        return eio_sid in self.cutting

    def over_limit(self, eio_socket: Any) -> bool:
        return self.limit.exceeded_by(eio_socket.queue)

    def cut_off(
        self, eio_socket: Any, transport: asyncio.Transport | None
    ) -> Coroutine[Any, Any, None]:
        """Abort the client's connection now; the answer closes its engine.io socket (the
        disconnect handlers run: presence, attendance), to be run as a task of its own."""
        sid = eio_socket.sid
        self.cutting.add(sid)
        self.on_cut_off()
        log.warning(
            "cut off connection %s: %d packets waiting for a client that is not reading",
            sid,
            eio_socket.queue.qsize(),
        )
        if transport is not None:
            transport.abort()
        return self._close(eio_socket)

    async def _close(self, eio_socket: Any) -> None:
        try:
            # abort: no CLOSE packet, which would only queue behind the rest.
            await eio_socket.close(wait=False, abort=True)
        finally:
            self.cutting.discard(eio_socket.sid)
