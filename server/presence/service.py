"""Entering and leaving rooms live, and the `presence` events that announce it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from server.kernel.clock import Clock, LoopingCall
from server.presence.store import PresenceChange, PresenceStore
from server.realtime.bus import ControlBus
from server.realtime.hub import Connection, Hub

EVICT = "presence.evict"

# Public user objects ({id, display_name, role}) of these ids, for announcing users this
# process has no connection of (those of a dead process).
DescribeUsers = Callable[[Sequence[int]], Awaitable[list[dict[str, Any]]]]


class PresenceListener(Protocol):
    """Hears every connection entering and leaving a room (meeting attendance)."""

    async def entered(self, connection: Connection, room_id: int) -> None: ...

    async def exited(self, connection: Connection, room_id: int) -> None: ...


@dataclass
class PresenceService:
    store: PresenceStore
    hub: Hub
    bus: ControlBus
    describe_users: DescribeUsers
    clock: Clock
    listeners: list[PresenceListener] = field(default_factory=list)
    _upkeep: LoopingCall | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.bus.subscribe(EVICT, self._evict_here)

    async def enter(self, connection: Connection, room_id: int) -> None:
        """Put a connection in a room; announce the user if this is their first connection."""
        await self.hub.enter(connection, room_id)
        if await self.store.add(room_id, connection.actor.id, connection.sid):
            await self._announce(connection, room_id, "online")
        for listener in self.listeners:
            await listener.entered(connection, room_id)
        if self.hub.connection(connection.sid) is not connection:
            # The socket disconnected while this join was under way; its disconnect handler
            # has already run, so undo what the join added or the user stays "online".
            await self.exit(connection, room_id)

    async def exit(self, connection: Connection, room_id: int) -> None:
        """Take a connection out of a room; announce the user gone if it was their last."""
        await self.hub.leave(connection, room_id)
        if await self.store.remove(room_id, connection.actor.id, connection.sid):
            await self._announce(connection, room_id, "offline")
        for listener in self.listeners:
            await listener.exited(connection, room_id)

    async def exit_all(self, connection: Connection) -> None:
        for room_id in sorted(connection.rooms):
            await self.exit(connection, room_id)

    async def evict(self, user_id: int, room_ids: list[int]) -> None:
        """Take every connection of a user, on every process, out of these rooms."""
        await self.bus.publish(EVICT, {"user_id": user_id, "room_ids": room_ids})

    async def online_user_ids(self, room_id: int) -> list[int]:
        return await self.store.user_ids(room_id)

    async def online_counts(self, room_ids: list[int]) -> dict[int, int]:
        return await self.store.counts(room_ids)

    # ----- upkeep -----

    async def start(self) -> None:
        interval = self.store.maintenance_interval_s
        if interval is not None:
            await self.run_upkeep()
            self._upkeep = self.clock.looping_call(self.run_upkeep, interval)

    async def close(self) -> None:
        if self._upkeep is not None:
            await self._upkeep.stop()
        await self.store.close()

    async def run_upkeep(self) -> None:
        changes = await self.store.maintain()
        await self._announce_changes(changes)

    async def _announce_changes(self, changes: list[PresenceChange]) -> None:
        if not changes:
            return
        users = {
            user["id"]: user
            for user in await self.describe_users(sorted({change.user_id for change in changes}))
        }
        for change in changes:
            user = users.get(change.user_id)
            if user is not None:
                await self.hub.to_room(
                    change.room_id,
                    "presence",
                    {"room_id": change.room_id, "user": user, "status": change.status},
                )

    async def _evict_here(self, payload: dict[str, Any]) -> None:
        room_ids = set(payload["room_ids"])
        for connection in self.hub.connections_of(int(payload["user_id"])):
            for room_id in sorted(connection.rooms & room_ids):
                await self.exit(connection, room_id)

    async def _announce(self, connection: Connection, room_id: int, status: str) -> None:
        await self.hub.to_room(
            room_id,
            "presence",
            {"room_id": room_id, "user": connection.actor.member(), "status": status},
            skip_sid=connection.sid,
        )
