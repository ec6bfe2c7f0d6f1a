"""Handing an emit to this process's sockets.

python-socketio's manager encodes a broadcast once, then starts a task per recipient to queue
the packet on its socket, and waits for them all. Queueing a packet never waits (engine.io's
queue is unbounded; each socket's own writer task sends it), so in a room of 12 the tasks
cost more than the queueing: they were a sixth of the server's CPU under the fan-out
benchmark. Here each recipient's packet is queued in turn, in the emitting task.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import socketio
from engineio import packet as eio_packet
from socketio import packet

log = logging.getLogger(__name__)


def arguments_of(data: Any) -> list[Any]:
    """An emit's arguments, as python-socketio reads `data`: a tuple is several, None none,
    anything else one."""
    if isinstance(data, tuple):
        return list(data)
    return [] if data is None else [data]


class ChannelEmits(Protocol):
    """Both managers' emit to the sockets in any of `channels` but those in any of `skipped`,
    on every process; each process reads both lists against its own sockets, so a socket is
    skipped by what it is in there (the room it joined, its user's channel)."""

    async def emit_beside(
        self, event: str, data: Any, channels: list[str], skipped: list[str]
    ) -> None: ...


def emit_message(event: str, data: Any, channels: list[str], skipped: list[str]) -> dict[str, Any]:
    """An `emit_beside` as python-socketio's pub/sub message for an emit without a callback,
    with the skipped channels beside. A process that does not know `skip_rooms` (an older
    one, during an upgrade) delivers it skipping nothing: emit beside only to channels no
    older process has sockets in, or with what the whole channel may be given."""
    return {
        "method": "emit",
        "event": event,
        "data": [data],
        "binary": False,
        "namespace": "/",
        "room": channels,
        "skip_sid": None,
        "skip_rooms": skipped,
        "callback": None,
    }


def sids_in(manager: socketio.AsyncManager, namespace: str | None, channels: Any) -> set[str]:
    if not channels:
        return set()
    return {sid for sid, _ in manager.get_participants(namespace, list(channels))}


async def emit_to_local_sockets(
    manager: socketio.AsyncManager,
    event: str,
    arguments: list[Any],
    namespace: str | None,
    room: Any,
    skip_sid: Any = None,
    skip_rooms: Any = None,
) -> int:
    """What python-socketio's `AsyncManager.emit` does for an emit without a callback
    (`room` None is everyone, or one room, or a list of them; `skip_sid` one sid or a list),
    and not to the sockets in any of `skip_rooms`. Answers how many sockets it was handed to."""
    if namespace not in manager.rooms:
        return 0
    skipped = set(skip_sid if isinstance(skip_sid, list) else [skip_sid])
    skipped |= sids_in(manager, namespace, skip_rooms)
    recipients = [
        (sid, eio_sid)
        for sid, eio_sid in manager.get_participants(namespace, room)
        if sid not in skipped
    ]
    if not recipients:
        # Nothing to encode for (a room heard with no socket left in it here).
        return 0
    encoded = manager.server.packet_class(
        packet.EVENT, namespace=namespace, data=[event, *arguments]
    ).encode()
    # A payload with binary parts encodes as several packets.
    parts = [
        eio_packet.Packet(eio_packet.MESSAGE, part)
        for part in (encoded if isinstance(encoded, list) else [encoded])
    ]
    for sid, eio_sid in recipients:
        for part in parts:
            try:
                await manager.server._send_eio_packet(eio_sid, part)
            except Exception:
                # engine.io drops a packet for a socket that has closed; whatever else fails
                # for one socket must not keep the packet from the rest.
                log.debug("could not queue %s for %s", event, sid, exc_info=True)
    return len(recipients)


class LocalManager(socketio.AsyncManager):  # type: ignore[misc]
    """python-socketio's manager for one process, delivering as above."""

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        if callback is not None:
            await super().emit(
                event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, to=to
            )
            return
        await emit_to_local_sockets(
            self, event, arguments_of(data), namespace, to or room, skip_sid
        )

    async def emit_beside(
        self, event: str, data: Any, channels: list[str], skipped: list[str]
    ) -> None:
        await emit_to_local_sockets(self, event, [data], "/", channels, skip_rooms=skipped)
