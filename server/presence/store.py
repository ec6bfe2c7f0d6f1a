"""The presence store interface and its in-process implementation.

A store counts connections per (room, user). It answers `True` from `add` only for a user's
first connection in a room and from `remove` only for the last, which is when `presence`
online/offline is announced. A Redis implementation shares the counts between processes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Seat:
    """One connection of one user in one room."""

    room_id: int
    user_id: int
    conn_id: str

    @property
    def member(self) -> str:
        return f"{self.room_id}:{self.user_id}:{self.conn_id}"

    @classmethod
    def from_member(cls, member: str) -> Seat:
        room_id, user_id, conn_id = member.split(":", 2)
        return cls(int(room_id), int(user_id), conn_id)


@dataclass(frozen=True)
class PresenceChange:
    """A user who came online or went offline in a room through upkeep, not through a join
    or leave of theirs (a dead process cleaned up, Redis repaired after an outage)."""

    room_id: int
    user_id: int
    status: Literal["online", "offline"]


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

    @property
    def maintenance_interval_s(self) -> float | None:
        """How often `maintain` must run; None when the store needs no upkeep."""
        return None

    async def maintain(self) -> list[PresenceChange]:
        """Periodic upkeep; answers the presence changes it caused, to be announced."""
        return []

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

    def seats(self) -> Iterator[Seat]:
        for room_id, users in self._rooms.items():
            for user_id, conn_ids in users.items():
                for conn_id in conn_ids:
                    yield Seat(room_id, user_id, conn_id)
