"""Rooms as each send needs them, kept in memory on every process (realtime/shared_cache.py):
a send reads its room's settings (lock, slow mode, contact policy, audience) from here, not
from the database. A change to a room is made through `RoomService.update_room`, which tells
every process to forget the room."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from server.realtime.bus import ControlBus
from server.realtime.shared_cache import SharedCache
from server.rooms import store
from server.rooms.models import Room

ROOM_CHANGED = "rooms.room_changed"


async def read_rooms(session: AsyncSession, room_ids: list[int]) -> dict[int, Room]:
    return {room.id: room for room in await store.rooms_by_id(session, room_ids) if room.id}


def kept_rooms(bus: ControlBus) -> SharedCache[Room]:
    return SharedCache(bus, ROOM_CHANGED, read_rooms)
