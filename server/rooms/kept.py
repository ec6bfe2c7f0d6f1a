"""Rooms as each send needs them, kept in memory on every process (realtime/shared_cache.py):
entering a room (a send, a join, a page of history) reads its settings (audience, lock, slow
mode, contact policy) from here, not from the database. A change to a room is made through
`RoomService.update_room`, which tells every process to forget the room. Kept rooms are shared
by every request: read them, never change them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from server.realtime.bus import ControlBus
from server.realtime.shared_cache import SharedCache
from server.rooms import store
from server.rooms.models import Room

ROOM_CHANGED = "rooms.room_changed"


async def read_rooms(session: AsyncSession, room_ids: list[int]) -> dict[int, Room]:
    # Copies in no session: the reader's session may hold (and go on to change) the same
    # instance, and a rollback there would expire what every request reads.
    return {
        room.id: Room.model_validate(room)
        for room in await store.rooms_by_id(session, room_ids)
        if room.id
    }


def kept_rooms(bus: ControlBus) -> SharedCache[Room]:
    return SharedCache(bus, ROOM_CHANGED, read_rooms)
