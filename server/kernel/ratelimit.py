"""Token buckets: a sustained rate with bursts, per key (a user's sends).

In-process for one server; in Redis when several processes must share the same buckets.
Time comes from the caller (the injected clock), so both run on the same time in tests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.kernel.redis import RedisHealth


class RateLimiter(ABC):
    @abstractmethod
    async def take(
        self, key: str, per_second: float, burst: int, now: datetime, cost: int = 1
    ) -> float:
        """Take `cost` tokens (0 or 1): 0.0 when there was a token, else the seconds until
        there will be. With cost 0 it only looks: a check before an attempt that is charged
        only when it fails (a sign-in)."""


class InProcessRateLimiter(RateLimiter):
    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}

    async def take(
        self, key: str, per_second: float, burst: int, now: datetime, cost: int = 1
    ) -> float:
        moment = now.timestamp()
        tokens, at = self._buckets.get(key, (float(burst), moment))
        tokens = min(float(burst), tokens + max(0.0, moment - at) * per_second)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - cost, moment)
            return 0.0
        self._buckets[key] = (tokens, moment)
        return (1.0 - tokens) / per_second


# Refill, then take `cost` tokens (0 or 1) if there is one; the bucket expires once it would
# be full again.
# Answers the wait as a string because Redis truncates Lua numbers to integers.
_TAKE = """
local per_second = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * per_second)
local wait = 0
if tokens >= 1 then tokens = tokens - cost else wait = (1 - tokens) / per_second end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / per_second * 1000) + 1000)
return tostring(wait)
"""


class RedisRateLimiter(RateLimiter):
    def __init__(self, redis: Redis, prefix: str, health: RedisHealth) -> None:
        self._take = redis.register_script(_TAKE)
        self._prefix = prefix
        self._health = health
        self._fallback = InProcessRateLimiter()

    async def take(
        self, key: str, per_second: float, burst: int, now: datetime, cost: int = 1
    ) -> float:
        try:
            self._health.check()
            wait = await self._take(
                keys=[f"{self._prefix}:ratelimit:{key}"],
                args=[repr(per_second), str(burst), repr(now.timestamp()), str(cost)],
            )
        except RedisError as error:
            self._health.failed("rate limit", error)
            return await self._fallback.take(key, per_second, burst, now, cost)
        self._health.succeeded()
        return float(wait)
