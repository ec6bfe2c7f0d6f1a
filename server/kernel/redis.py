"""Redis connections and one shared account of Redis outages, with a circuit breaker.

While Redis is unreachable, or hangs, the service keeps working on this process (messages are
stored, acked and delivered locally) without waiting on Redis for each; the outage is logged
once when it starts and once when it ends, not for every message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# A refused connection fails at once; these bound the wait when Redis hangs or the network
# drops packets, so a request never stalls for longer than this on Redis. (The command
# timeout is a setting: REDIS_COMMAND_TIMEOUT_S.)
CONNECT_TIMEOUT_S = 1.0
# Connections per client. A burst of emits publishes concurrently; past this many, a call waits
# for a free connection (up to the command timeout) instead of failing: redis-py's default pool
# raises MaxConnectionsError, which would look like an outage and keep messages off the other
# processes.
MAX_CONNECTIONS = 32
# While Redis is down, how often one ping (given the command timeout) asks whether it is back.
PROBE_EVERY_S = 0.5


def retry_once_on_a_dead_connection() -> Retry:
    """Pooled connections opened before a Redis restart are dead, and the first command on
    one fails. Retrying once, on a fresh connection, keeps that first publish after an outage
    from being lost to the other processes. Timeouts are not retried: they would double the
    longest stall."""
    return Retry(NoBackoff(), retries=1, supported_errors=(RedisConnectionError,))


def connect_redis(url: str, command_timeout_s: float, *, for_subscribing: bool = False) -> Redis:
    """A client for commands, or (for_subscribing) one whose reads may wait indefinitely for
    the next published message (the listener pings it: realtime/redis.py)."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=command_timeout_s,
        socket_connect_timeout=min(CONNECT_TIMEOUT_S, command_timeout_s),
        socket_timeout=None if for_subscribing else command_timeout_s,
        retry=retry_once_on_a_dead_connection(),
        decode_responses=True,
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes it too


class RedisDown(RedisConnectionError):
    """Raised instead of calling Redis while it is known to be down. A RedisError, so every
    caller's fallback (this process's own state) takes it like a failed call."""


class RedisHealth:
    """Whether Redis is up, and a circuit breaker on it: after a call fails, calls are not
    made (`check` raises RedisDown at once) until a probe, a ping every PROBE_EVERY_S, gets an
    answer. Without it a hung Redis cost every call its full timeout: every send waited on the
    rate limit and again on the publish. The outage is logged once when it starts and once
    when it ends."""

    def __init__(self, probe: Callable[[], Awaitable[object]] | None = None) -> None:
        self.down = False
        self.errors = 0
        # Called (synchronously) when Redis answers again after an outage.
        self.on_recovered: list[Callable[[], None]] = []
        self._probe = probe
        self._probing: asyncio.Task[None] | None = None

    def check(self) -> None:
        if self.down:
            raise RedisDown("Redis is down; this process carries on alone")

    def failed(self, what: str, error: BaseException) -> None:
        if isinstance(error, RedisDown):
            return  # not a call that failed: one that was not made
        self.errors += 1
        if not self.down:
            self.down = True
            log.error(
                "Redis is unreachable (%s: %s); carrying on in this process only until it is back",
                what,
                error.__class__.__name__,
            )

    def succeeded(self) -> None:
        if self.down:
            self.down = False
            log.warning("Redis is reachable again; sharing with other processes resumes")
            for listener in self.on_recovered:
                listener()

    async def start(self) -> None:
        if self._probe is not None:
            self._probing = asyncio.create_task(self._probe_while_down(self._probe))

    async def close(self) -> None:
        if self._probing is not None:
            self._probing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probing

    async def _probe_while_down(self, probe: Callable[[], Awaitable[object]]) -> None:
        while True:
            await asyncio.sleep(PROBE_EVERY_S)
            if not self.down:
                continue
            try:
                await probe()
            except (RedisError, OSError):
                continue
            self.succeeded()
