"""Once-per-interval throttles (typing indicators), in-process; a Redis subclass shares them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.kernel.redis import RedisHealth

# Above this many keys the in-process throttle drops expired ones, so memory stays bounded
# by the users active within one interval.
_PRUNE_ABOVE = 10_000


class Throttle(ABC):
    @abstractmethod
    async def allow(self, key: str, interval_s: float, now: datetime) -> bool:
        """True at most once per `interval_s` for the same key."""

    async def close(self) -> None:  # noqa: B027 - an optional hook; in-process holds nothing
        """Release what the throttle holds."""


class InProcessThrottle(Throttle):
    def __init__(self) -> None:
        self._next_allowed: dict[str, float] = {}

    async def allow(self, key: str, interval_s: float, now: datetime) -> bool:
        moment = now.timestamp()
        if self._next_allowed.get(key, 0.0) > moment:
            return False
        if len(self._next_allowed) > _PRUNE_ABOVE:
            self._next_allowed = {k: t for k, t in self._next_allowed.items() if t > moment}
        self._next_allowed[key] = moment + interval_s
        return True


class RedisThrottle(Throttle):
    """The same throttle shared by every process; this process's own when Redis is down."""

    def __init__(self, redis: Redis, prefix: str, health: RedisHealth) -> None:
        self._redis = redis
        self._prefix = prefix
        self._health = health
        self._fallback = InProcessThrottle()

    async def allow(self, key: str, interval_s: float, now: datetime) -> bool:
        try:
            self._health.check()
            allowed = await self._redis.set(
                f"{self._prefix}:throttle:{key}", "1", px=max(1, int(interval_s * 1000)), nx=True
            )
        except RedisError as error:
            self._health.failed("throttle", error)
            return await self._fallback.allow(key, interval_s, now)
        self._health.succeeded()
        return bool(allowed)
