"""Handing an emit to this process's sockets.

python-socketio's manager encodes a broadcast once, then starts a task per recipient to queue
the packet on its socket, and waits for them all. Queueing a packet never waits (engine.io's
queue is unbounded; each socket's own writer task sends it), so in a room of 12 the tasks
cost more than the queueing: they were a sixth of the server's CPU under the fan-out
benchmark. Here each recipient is handed the packet in turn, in the emitting task: written
straight onto its websocket when nothing waits before it there (`websockets.py`), else queued.

Both managers (this one and `realtime/redis.py`'s) also keep, beside python-socketio's rooms,
the rooms each socket is in (`IndexedRoomsManager`), so a disconnect costs the rooms that
socket is in rather than a pass over every room of the process.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable
from typing import Any, Protocol

import socketio
from engineio import packet as eio_packet
from socketio import packet

from server.realtime.websockets import OutgoingPacket

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
    # A payload with binary parts encodes as several packets. Each is framed for a websocket
    # once, on its first direct write (`websockets.py`).
    parts = [
        OutgoingPacket(eio_packet.MESSAGE, part)
        for part in (encoded if isinstance(encoded, list) else [encoded])
    ]
    # Only peerrooms' server writes straight to websockets; python-socketio's queues.
    write_now = getattr(manager.server, "write_now", None)
    single = parts[0] if len(parts) == 1 else None
    for sid, eio_sid in recipients:
        try:
            if write_now is not None and single is not None and write_now(eio_sid, single):
                continue
            for part in parts:
                await manager.server._send_eio_packet(eio_sid, part)
        except Exception:
            # engine.io drops a packet for a socket that has closed; whatever else fails for
            # one socket must not keep the packet from the rest.
            log.debug("could not hand %s to %s", event, sid, exc_info=True)
    return len(recipients)


class PendingSids(dict[str, None]):
    """The sockets of one namespace still connecting (or disconnecting), in the order they
    came, as python-socketio's manager uses its list of them: `append`, `remove`, `in` and
    `len`. A list made each of those a scan of every socket still connecting: in a reconnect
    storm thousands wait in their connect handler at once, and every event of every socket
    asks whether its own sid is among them (`is_connected`), which is quadratic."""

    def append(self, sid: str) -> None:
        self[sid] = None

    def remove(self, sid: str) -> None:
        del self[sid]


class PendingTable(dict[str | None, PendingSids]):
    """`pending_connect` or `pending_disconnect`: namespace -> its sockets. The library
    stores a new list for a namespace; it is kept as `PendingSids`."""

    def __setitem__(self, namespace: str | None, sids: Iterable[str]) -> None:
        pending = sids if isinstance(sids, PendingSids) else PendingSids((s, None) for s in sids)
        super().__setitem__(namespace, pending)


class IndexedRoomsManager(socketio.AsyncManager):  # type: ignore[misc]
    """python-socketio's manager, knowing which rooms each socket is in.

    python-socketio keeps `rooms[namespace][room]` as a bidict of sid -> eio_sid and nothing
    the other way round: to disconnect a socket (`basic_disconnect`) it copies the
    namespace's whole room dict and asks each room whether the sid is in it, and `get_rooms`
    makes the same pass. Every socket has a room of its own (its sid), so one disconnect
    costs as many checks as there are sockets on the process, and a mass disconnect (a load
    balancer dropping every websocket, a restart) is quadratic: a py-spy profile of a
    restarted server showed ~9% of its CPU in `basic_disconnect` / `BidictBase.__contains__`
    while 2,000 clients left. Disconnecting 5,000 sockets (each in its own room, a shared
    room and its user's) from the manager directly took 1.17 s, 234 us each and growing with
    the count (62 us each for 1,000); with this index 23 ms, 4.5 us each at any count.

    So `_rooms_of[namespace][sid]` holds the rooms the socket is in (a list, in the order
    they were entered, so rooms are left in that order as the library's pass over its rooms
    did; a socket is in a handful of rooms, and a list of seven costs 120 bytes where a dict
    of them cost 650, 1.5 % of an idle connection), kept in step with `rooms` by the
    `basic_*` methods every entering and leaving goes through (the async ones and pub/sub
    messages call them), and read by `basic_disconnect` and `get_rooms`; no other code of
    python-socketio's changes `rooms`. That, and the names and shapes reached into here,
    are checked by tests/test_socketio_internals.py against the pinned release.

    Its sockets still connecting or disconnecting are kept as `PendingTable`s, not the
    library's lists, for the same reason: a storm of connects made them quadratic."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rooms_of: dict[str | None, dict[str, list[Hashable]]] = {}
        self.pending_connect = PendingTable()
        self.pending_disconnect = PendingTable()

    def rooms_of(self, sid: str, namespace: str | None) -> list[Hashable]:
        """The rooms the socket is in here, as the index has them (the room None, its
        connection to the namespace, first)."""
        return list(self._rooms_of.get(namespace, {}).get(sid, ()))

    def basic_enter_room(
        self, sid: str, namespace: str | None, room: Hashable, eio_sid: str | None = None
    ) -> None:
        # The library raises before adding anything (a second connection of an eio_sid to
        # the namespace, a sid room entered by another sid): then nothing is indexed either.
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        entered = self._rooms_of.setdefault(namespace, {}).setdefault(sid, [])
        if room not in entered:
            entered.append(room)

    def basic_leave_room(self, sid: str, namespace: str | None, room: Hashable) -> None:
        super().basic_leave_room(sid, namespace, room)
        self._forget_unless_in(sid, namespace, room)

    def basic_close_room(self, room: Hashable, namespace: str | None) -> None:
        # The library leaves each member through `basic_leave_room`, which forgets it; this
        # forgets them too should a release empty the room any other way.
        members = list(self.rooms.get(namespace, {}).get(room, ()))
        super().basic_close_room(room, namespace)
        for sid in members:
            self._forget_unless_in(sid, namespace, room)

    def basic_disconnect(self, sid: str, namespace: str | None, **kwargs: Any) -> None:
        """What python-socketio's `basic_disconnect` does, finding the socket's rooms in the
        index instead of asking every room of the namespace."""
        if namespace not in self.rooms:
            # As the library: a namespace with no rooms left has nothing of this socket's.
            return
        for room in self.rooms_of(sid, namespace):
            self.basic_leave_room(sid, namespace, room)
        # Each leave has forgotten its room; an entry left over (a room removed from `rooms`
        # behind the manager's back) must not outlive the socket.
        self._forget_socket(sid, namespace)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            waiting = pending.get(namespace)
            if waiting is not None and sid in waiting:
                waiting.remove(sid)
                if not waiting:
                    del pending[namespace]

    def get_rooms(self, sid: str, namespace: str | None) -> list[Hashable]:
        """The rooms the socket is in (its own among them), without its connection (None)."""
        return [room for room in self.rooms_of(sid, namespace) if room is not None]

    def _forget_unless_in(self, sid: str, namespace: str | None, room: Hashable) -> None:
        if sid in self.rooms.get(namespace, {}).get(room, ()):
            return
        by_sid = self._rooms_of.get(namespace)
        if by_sid is None:
            return
        entered = by_sid.get(sid)
        if entered is None:
            return
        if room in entered:
            entered.remove(room)
        if not entered:
            self._forget_socket(sid, namespace)

    def _forget_socket(self, sid: str, namespace: str | None) -> None:
        by_sid = self._rooms_of.get(namespace)
        if by_sid is not None:
            by_sid.pop(sid, None)
            if not by_sid:
                del self._rooms_of[namespace]


class LocalManager(IndexedRoomsManager):
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
