"""Live connections of this process and the emits that reach sockets on every process."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, cast

from server.kernel.actors import Actor
from server.realtime.delivery import ChannelEmits
from server.realtime.frames import SocketServer


def room_channel(room_id: int) -> str:
    return f"room:{room_id}"


def user_channel(user_id: int) -> str:
    return f"user:{user_id}"


# Every socket of a moderator or admin, on every process: where alerts go.
STAFF_CHANNEL = "staff"


# Slots, and a lock made when first needed: most connections sit idle, and each costs memory
# for as long as it is open.
@dataclass(slots=True)
class Connection:
    """One socket of a signed-in user on this process, and the rooms it has joined."""

    sid: str
    actor: Actor
    rooms: set[int] = field(default_factory=set)
    # The channels it follows beside its own and its user's (`Hub.follow`).
    channels: frozenset[str] = frozenset()
    _send_lock: asyncio.Lock | None = field(default=None, init=False, repr=False)

    @property
    def send_lock(self) -> asyncio.Lock:
        """python-socketio runs a connection's handlers concurrently; the router holds this
        while handling an in-order event (send), so a connection's messages are stored and
        delivered in the order it sent them (asyncio locks wake waiters first-in first-out)."""
        if self._send_lock is None:
            self._send_lock = asyncio.Lock()
        return self._send_lock


class Hub:
    def __init__(
        self, sio: SocketServer, count_deliveries: Callable[[int], None] | None = None
    ) -> None:
        self.sio = sio
        self._count_deliveries = count_deliveries
        self._connections: dict[str, Connection] = {}
        self._sids_by_user: dict[int, set[str]] = defaultdict(set)

    # ----- this process's connections -----

    async def register(self, sid: str, actor: Actor) -> Connection:
        if sid in self._connections:
            # A record holds the rooms the socket is in; replacing it would lose them.
            raise RuntimeError(f"socket {sid} is registered already")
        connection = Connection(sid, actor)
        self._connections[sid] = connection
        self._sids_by_user[actor.id].add(sid)
        await self.sio.enter_room(sid, user_channel(actor.id))
        if actor.is_staff:
            await self.sio.enter_room(sid, STAFF_CHANNEL)
        return connection

    def unregister(self, sid: str) -> Connection | None:
        connection = self._connections.pop(sid, None)
        if connection is not None:
            sids = self._sids_by_user[connection.actor.id]
            sids.discard(sid)
            if not sids:
                del self._sids_by_user[connection.actor.id]
        return connection

    def connection(self, sid: str) -> Connection | None:
        return self._connections.get(sid)

    def connections_of(self, user_id: int) -> list[Connection]:
        return [self._connections[sid] for sid in sorted(self._sids_by_user.get(user_id, ()))]

    def connection_count(self) -> int:
        return len(self._connections)

    def connections_in(self, room_id: int) -> list[Connection]:
        return [c for c in self._connections.values() if room_id in c.rooms]

    def local_room_ids(self) -> set[int]:
        """The rooms that have a socket on this process."""
        return {
            room_id for connection in self._connections.values() for room_id in connection.rooms
        }

    def reach_here(self, channels: list[str]) -> int:
        """How many of this process's sockets an emit to these channels is handed to, at
        most (a socket in two of them counts twice)."""
        joined = self.sio.manager.rooms.get("/", {})
        return sum(len(joined.get(channel, ())) for channel in channels)

    def membership_count(self) -> int:
        return sum(len(connection.rooms) for connection in self._connections.values())

    async def disconnect_all(self, flush_s: float) -> None:
        """Close every transport of this process. Clients see the transport close and
        reconnect (to another process behind the load balancer); a Socket.IO-level
        disconnect would instead tell socket.io-client not to reconnect. A client that does
        not take its close packet within `flush_s` (it stopped reading) has its connection
        aborted, so that nothing waits on it."""
        sockets = list(self.sio.eio.sockets.values())
        transports = [self.sio.transport(socket.sid) for socket in sockets]
        # wait=False: a polling client that stopped polling never fetches its close packet,
        # and engine.io's default close would wait for that forever.
        await asyncio.gather(
            *(socket.close(wait=False) for socket in sockets), return_exceptions=True
        )
        open_ = [t for t in transports if t is not None and not t.is_closing()]
        deadline = time.monotonic() + flush_s
        while open_ and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            open_ = [t for t in open_ if not t.is_closing()]
        for transport in open_:
            transport.abort()

    def update_actor(self, actor: Actor) -> None:
        for connection in self.connections_of(actor.id):
            # Each socket keeps the sign-in it came with: ending that sign-in closes it.
            connection.actor = replace(actor, session_id=connection.actor.session_id)

    # ----- socket rooms -----

    async def enter(self, connection: Connection, room_id: int) -> None:
        connection.rooms.add(room_id)
        await self.sio.enter_room(connection.sid, room_channel(room_id))

    async def leave(self, connection: Connection, room_id: int) -> None:
        connection.rooms.discard(room_id)
        await self.sio.leave_room(connection.sid, room_channel(room_id))

    async def follow(self, connection: Connection, channels: frozenset[str]) -> None:
        """Have the socket in exactly these channels (beside its own and its user's, which
        it is always in): it leaves those it was in and is no longer given."""
        for channel in connection.channels - channels:
            await self.sio.leave_room(connection.sid, channel)
        for channel in channels - connection.channels:
            await self.sio.enter_room(connection.sid, channel)
        connection.channels = channels

    # ----- emits (through the Socket.IO manager, so they reach every process) -----

    async def to_room(
        self, room_id: int, event: str, data: Any, *, skip_sid: str | None = None
    ) -> None:
        channel = room_channel(room_id)
        if self._count_deliveries is not None:
            # Counted from the room's size, not by going through its members a second time.
            members = self.sio.manager.rooms.get("/", {}).get(channel, {})
            self._count_deliveries(len(members) - (skip_sid in members))
        await self.sio.emit(event, data, room=channel, skip_sid=skip_sid)

    async def to_user(self, user_id: int, event: str, data: Any) -> None:
        await self.sio.emit(event, data, room=user_channel(user_id))

    async def to_staff(self, event: str, data: Any) -> None:
        await self.sio.emit(event, data, room=STAFF_CHANNEL)

    async def to_channels(
        self, channels: list[str], event: str, data: Any, *, skipped: list[str]
    ) -> None:
        """To every socket in any of `channels` (once each) but those in any of `skipped`."""
        manager = cast(ChannelEmits, self.sio.manager)
        await manager.emit_beside(event, data, channels, skipped)

    async def to_connection(self, connection: Connection, event: str, data: Any) -> None:
        await self.sio.emit(event, data, to=connection.sid)
