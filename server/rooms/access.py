"""Entering a room: it exists, its audience includes the actor, and no access gate objects;
and how much of its history the actor may read there (rooms/visibility.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from server.kernel.actors import Actor
from server.kernel.clock import Clock
from server.kernel.errors import AppError, not_found
from server.realtime.shared_cache import SharedCache
from server.rooms.gates import AccessGate
from server.rooms.models import Room
from server.rooms.policy import require_entry
from server.rooms.visibility import HistoryWindow


@dataclass
class RoomAccess:
    clock: Clock
    # Rooms as kept in memory (rooms/kept.py).
    rooms: SharedCache[Room]
    gates: list[AccessGate] = field(default_factory=list)
    history: HistoryWindow = field(init=False)

    def __post_init__(self) -> None:
        self.history = HistoryWindow(self.clock)

    async def enter(self, session: AsyncSession, actor: Actor, room_id: int) -> Room:
        """The room, if the actor may be in it now: the kept one, to read and not to change
        (the session reads it if it is not kept)."""
        room = await self.rooms.get(session, room_id)
        if room is None:
            raise not_found("room")
        await self.admit(session, actor, room)
        return room

    async def allows(self, session: AsyncSession, actor: Actor, room: Room) -> bool:
        """Whether the actor may be in this room now (its audience, and no ban): what every
        view of the room (its meetings, their notices and calendar entries) asks too."""
        try:
            await self.admit(session, actor, room)
        except AppError:
            return False
        return True

    async def admit(self, session: AsyncSession, actor: Actor, room: Room) -> None:
        """Refuses an actor who may not be in this (already loaded) room now."""
        require_entry(actor, room)
        now = self.clock.now()
        for gate in self.gates:
            await gate.check_access(session, actor, room, now)

    async def kept_out(self, session: AsyncSession, room: Room) -> set[int]:
        """Those of the room's audience whom a gate keeps out now (banned)."""
        now = self.clock.now()
        kept: set[int] = set()
        for gate in self.gates:
            kept |= await gate.kept_out(session, room, now)
        return kept

    async def enter_to_read(
        self, session: AsyncSession, actor: Actor, room_id: int, message_id: int
    ) -> Room:
        """The room of a message the actor acts on (a reaction, a report, an edit), as
        `enter` has it; a message before what the actor may read of the room's history is
        `not_found`, as if it were not there."""
        room = await self.enter(session, actor, room_id)
        if message_id <= await self.history.hidden_through(session, actor, room):
            raise not_found("message")
        return room
