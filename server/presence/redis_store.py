"""Presence shared by every process through Redis.

Key layout (every key starts with the configured prefix; see docs/redis.md):

- ``{p}:presence:room:{room}:seats``  hash, ``{process}:{sid}`` -> user id: every connection
  in the room, on any process;
- ``{p}:presence:room:{room}:users``  hash, user id -> number of those connections;
- ``{p}:presence:proc:{process}:seats``  set of ``{room}:{user}:{sid}``: one process's
  connections, so survivors can clean up after it;
- ``{p}:presence:proc:{process}:alive``  a key that expires unless its process refreshes it;
- ``{p}:presence:procs``  set of the processes that have written presence;
- ``{p}:presence:reap:{process}``  claims the clean-up of a dead process for one survivor.

A process keeps a mirror of its own connections in memory. Redis calls that fail fall back to
the mirror (this process's users only), and the maintenance pass brings Redis back in line
with the mirror once Redis answers again, so presence recovers without a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.kernel.redis import RedisHealth
from server.presence.store import InProcessPresenceStore, PresenceChange, PresenceStore, Seat

# Adds one connection; answers 1 when it is the user's first in the room.
_ADD = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('SADD', KEYS[3], ARGV[3])
if redis.call('HINCRBY', KEYS[2], ARGV[2], 1) == 1 then return 1 end
return 0
"""

# Removes one connection; answers 1 when it was the user's last in the room.
_REMOVE = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[3])
  return 0
end
redis.call('SREM', KEYS[3], ARGV[3])
if redis.call('HINCRBY', KEYS[2], ARGV[2], -1) <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[2])
  return 1
end
return 0
"""


@dataclass
class RedisPresenceStore(PresenceStore):
    redis: Redis
    prefix: str
    process_id: str
    ttl_s: float
    health: RedisHealth
    _mirror: InProcessPresenceStore = field(default_factory=InProcessPresenceStore)
    _in_sync: bool = False

    def __post_init__(self) -> None:
        self._add = self.redis.register_script(_ADD)
        self._remove = self.redis.register_script(_REMOVE)

    # ----- keys -----

    def _key(self, *parts: object) -> str:
        return ":".join([self.prefix, "presence", *map(str, parts)])

    def _seat_keys(self, room_id: int, process_id: str) -> list[str]:
        return [
            self._key("room", room_id, "seats"),
            self._key("room", room_id, "users"),
            self._key("proc", process_id, "seats"),
        ]

    @staticmethod
    def _seat_args(seat: Seat, process_id: str) -> list[str]:
        return [f"{process_id}:{seat.conn_id}", str(seat.user_id), seat.member]

    @property
    def maintenance_interval_s(self) -> float | None:
        # A quarter of the TTL: with the alive key living two thirds of it, a dead process is
        # noticed and cleaned up within about 11/12 of the TTL.
        return self.ttl_s / 4

    @property
    def _alive_ttl_ms(self) -> int:
        return max(1000, int(self.ttl_s * 2000 / 3))

    # ----- the PresenceStore interface -----

    async def add(self, room_id: int, user_id: int, conn_id: str) -> bool:
        first_here = await self._mirror.add(room_id, user_id, conn_id)
        seat = Seat(room_id, user_id, conn_id)
        try:
            self.health.check()
            first = await self._add(
                keys=self._seat_keys(room_id, self.process_id),
                args=self._seat_args(seat, self.process_id),
            )
        except RedisError as error:
            self._lost_redis("presence add", error)
            return first_here
        self.health.succeeded()
        return bool(first)

    async def remove(self, room_id: int, user_id: int, conn_id: str) -> bool:
        last_here = await self._mirror.remove(room_id, user_id, conn_id)
        seat = Seat(room_id, user_id, conn_id)
        try:
            self.health.check()
            last = await self._remove(
                keys=self._seat_keys(room_id, self.process_id),
                args=self._seat_args(seat, self.process_id),
            )
        except RedisError as error:
            self._lost_redis("presence remove", error)
            return last_here
        self.health.succeeded()
        return bool(last)

    async def user_ids(self, room_id: int) -> list[int]:
        try:
            self.health.check()
            users = await self.redis.hkeys(self._key("room", room_id, "users"))
        except RedisError as error:
            self._lost_redis("presence read", error)
            return await self._mirror.user_ids(room_id)
        self.health.succeeded()
        return sorted(int(user) for user in users)

    async def counts(self, room_ids: Sequence[int]) -> dict[int, int]:
        if not room_ids:
            return {}
        try:
            self.health.check()
            async with self.redis.pipeline(transaction=False) as pipe:
                for room_id in room_ids:
                    pipe.hlen(self._key("room", room_id, "users"))
                lengths = await pipe.execute()
        except RedisError as error:
            self._lost_redis("presence read", error)
            return await self._mirror.counts(room_ids)
        self.health.succeeded()
        return {room_id: int(n) for room_id, n in zip(room_ids, lengths, strict=True)}

    # ----- upkeep -----

    async def maintain(self) -> list[PresenceChange]:
        """Refresh this process's heartbeat, repair Redis after an outage or a wipe, and
        clean up after processes that died without doing so themselves."""
        try:
            changes = await self._heartbeat_and_sync()
            changes += await self._reap_dead_processes()
        except RedisError as error:
            self._lost_redis("presence upkeep", error)
            return []
        self.health.succeeded()
        return changes

    async def close(self) -> None:
        """Leave Redis as if this process had never been there (a clean shutdown)."""
        try:
            # Nothing to announce: the sockets are closing and their disconnects announce them.
            await self._forget_process(self.process_id)
            await self.redis.srem(self._key("procs"), self.process_id)
            await self.redis.delete(self._key("proc", self.process_id, "alive"))
        except RedisError as error:
            self.health.failed("presence close", error)

    async def _heartbeat_and_sync(self) -> list[PresenceChange]:
        await self.redis.sadd(self._key("procs"), self.process_id)
        previous = await self.redis.set(
            self._key("proc", self.process_id, "alive"), "1", px=self._alive_ttl_ms, get=True
        )
        if previous is not None and self._in_sync:
            return []
        # The alive key was missing (Redis restarted or wiped, or this process stalled and
        # was reaped) or an earlier call failed: make Redis hold exactly our connections.
        changes = await self._sync_with_mirror()
        self._in_sync = True
        return changes

    async def _sync_with_mirror(self) -> list[PresenceChange]:
        local = {seat.member: seat for seat in self._mirror.seats()}
        recorded = await self._members(self._key("proc", self.process_id, "seats"))
        changes: list[PresenceChange] = []
        for member in set(recorded) - set(local):
            seat = Seat.from_member(member)
            if await self._remove(
                keys=self._seat_keys(seat.room_id, self.process_id),
                args=self._seat_args(seat, self.process_id),
            ):
                changes.append(PresenceChange(seat.room_id, seat.user_id, "offline"))
        for member in sorted(set(local) - set(recorded)):
            seat = local[member]
            if await self._add(
                keys=self._seat_keys(seat.room_id, self.process_id),
                args=self._seat_args(seat, self.process_id),
            ):
                changes.append(PresenceChange(seat.room_id, seat.user_id, "online"))
        return changes

    async def _reap_dead_processes(self) -> list[PresenceChange]:
        changes: list[PresenceChange] = []
        for process_id in await self._members(self._key("procs")):
            if process_id == self.process_id:
                continue
            if await self.redis.exists(self._key("proc", process_id, "alive")):
                continue
            claimed = await self.redis.set(
                self._key("reap", process_id), self.process_id, nx=True, px=self._alive_ttl_ms
            )
            if claimed:
                changes += await self._forget_process(process_id)
                await self.redis.srem(self._key("procs"), process_id)
        return changes

    async def _forget_process(self, process_id: str) -> list[PresenceChange]:
        changes: list[PresenceChange] = []
        seats_key = self._key("proc", process_id, "seats")
        for member in await self._members(seats_key):
            seat = Seat.from_member(member)
            if await self._remove(
                keys=self._seat_keys(seat.room_id, process_id),
                args=self._seat_args(seat, process_id),
            ):
                changes.append(PresenceChange(seat.room_id, seat.user_id, "offline"))
        await self.redis.delete(seats_key)
        return changes

    async def _members(self, key: str) -> set[str]:
        members = await self.redis.smembers(key)
        return {m.decode() if isinstance(m, bytes) else m for m in members}

    def _lost_redis(self, what: str, error: RedisError) -> None:
        self._in_sync = False
        self.health.failed(what, error)
