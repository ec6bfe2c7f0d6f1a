"""Entering a room: it exists, its audience includes the actor, and no access gate objects."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import Actor
from server.kernel.clock import Clock
from server.kernel.errors import not_found
from server.rooms import store
from server.rooms.gates import AccessGate
from server.rooms.models import Room
from server.rooms.policy import require_entry


@dataclass
class RoomAccess:
    clock: Clock
    gates: list[AccessGate] = field(default_factory=list)

    async def enter(
        self, session: AsyncSession, actor: Actor, room_id: int, *, for_update: bool = False
    ) -> Room:
        """The room, if the actor may be in it now; `for_update` locks its row (see store)."""
        room = await store.get_room(session, room_id, for_update=for_update)
        if room is None:
            raise not_found("room")
        await self.admit(session, actor, room)
        return room

    async def admit(self, session: AsyncSession, actor: Actor, room: Room) -> None:
        """Refuses an actor who may not be in this (already loaded) room now."""
        require_entry(actor, room)
        now = self.clock.now()
        for gate in self.gates:
            await gate.check_access(session, actor, room, now)
