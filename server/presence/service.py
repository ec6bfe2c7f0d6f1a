"""Entering and leaving rooms live, and the `presence` events that announce it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.presence.store import PresenceStore
from server.realtime.bus import ControlBus
from server.realtime.hub import Connection, Hub

EVICT = "presence.evict"


@dataclass
class PresenceService:
    store: PresenceStore
    hub: Hub
    bus: ControlBus

    def __post_init__(self) -> None:
        self.bus.subscribe(EVICT, self._evict_here)

    async def enter(self, connection: Connection, room_id: int) -> None:
        """Put a connection in a room; announce the user if this is their first connection."""
        await self.hub.enter(connection, room_id)
        if await self.store.add(room_id, connection.actor.id, connection.sid):
            await self._announce(connection, room_id, "online")

    async def exit(self, connection: Connection, room_id: int) -> None:
        """Take a connection out of a room; announce the user gone if it was their last."""
        await self.hub.leave(connection, room_id)
        if await self.store.remove(room_id, connection.actor.id, connection.sid):
            await self._announce(connection, room_id, "offline")

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

    async def _evict_here(self, payload: dict[str, Any]) -> None:
        room_ids = set(payload["room_ids"])
        for connection in self.hub.connections_of(int(payload["user_id"])):
            for room_id in sorted(connection.rooms & room_ids):
                await self.exit(connection, room_id)

    async def _announce(self, connection: Connection, room_id: int, status: str) -> None:
        await self.hub.to_room(
            room_id,
            "presence",
            {"room_id": room_id, "user": connection.actor.public(), "status": status},
            skip_sid=connection.sid,
        )
