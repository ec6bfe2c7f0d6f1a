"""The presence store interface and its in-process implementation.

A store counts connections per (room, user). It answers `True` from `add` only for a user's
first connection in a room and from `remove` only for the last, which is when `presence`
online/offline is announced. A Redis implementation shares the counts between processes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Sequence


class PresenceStore(ABC):
    @abstractmethod
    async def add(self, room_id: int, user_id: int, conn_id: str) -> bool:
        """Record a connection in a room; True when it is the user's first there."""

    @abstractmethod
    async def remove(self, room_id: int, user_id: int, conn_id: str) -> bool:
        """Forget a connection; True when it was the user's last in the room."""

    @abstractmethod
    async def user_ids(self, room_id: int) -> list[int]:
        """The users with at least one connection in the room, ascending."""

    @abstractmethod
    async def counts(self, room_ids: Sequence[int]) -> dict[int, int]:
        """How many distinct users are in each room."""

    async def close(self) -> None:  # noqa: B027 - an optional hook; in-process holds nothing
        """Release what the store holds (connections, background tasks)."""


class InProcessPresenceStore(PresenceStore):
    """Presence for a single server process: nothing survives the process, nothing is shared."""

    def __init__(self) -> None:
        self._rooms: dict[int, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))

    async def add(self, room_id: int, user_id: int, conn_id: str) -> bool:
        connections = self._rooms[room_id][user_id]
        first = not connections
        connections.add(conn_id)
        return first

    async def remove(self, room_id: int, user_id: int, conn_id: str) -> bool:
        users = self._rooms.get(room_id)
        if users is None or conn_id not in users.get(user_id, ()):
            return False
        users[user_id].discard(conn_id)
        if users[user_id]:
            return False
        del users[user_id]
        if not users:
            del self._rooms[room_id]
        return True

    async def user_ids(self, room_id: int) -> list[int]:
        return sorted(self._rooms.get(room_id, {}))

    async def counts(self, room_ids: Sequence[int]) -> dict[int, int]:
        return {room_id: len(self._rooms.get(room_id, {})) for room_id in room_ids}
