"""Frames a client sends that are not Socket.IO: dropped with one log line per connection and
a count, not a traceback per frame (which would let anyone flood the log)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import socketio
from socketio import packet

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
    JSON, an unknown packet type, an event without a name."""

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


class SocketServer(socketio.AsyncServer):  # type: ignore[misc]
    """The Socket.IO server, dropping malformed frames quietly: `on_malformed` counts each,
    and each connection's first is logged in one line."""

    def __init__(self, *args: Any, on_malformed: Callable[[], None], **options: Any) -> None:
        super().__init__(*args, serializer=CheckedPacket, **options)
        self._on_malformed = on_malformed
        self._told: set[str] = set()

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
