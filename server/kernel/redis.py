"""Redis connections and one shared account of Redis outages.

While Redis is unreachable the service keeps working on this process (messages are stored,
acked and delivered locally); the outage is logged once when it starts and once when it ends,
not for every message.
"""

from __future__ import annotations

import logging

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

log = logging.getLogger(__name__)

# A refused connection fails at once; these bound the wait when Redis hangs or the network
# drops packets, so a request never stalls for longer than this on Redis.
CONNECT_TIMEOUT_S = 1.0
COMMAND_TIMEOUT_S = 2.0
# Connections per client. A burst of emits publishes concurrently; past this many, a call waits
# for a free connection (up to COMMAND_TIMEOUT_S) instead of failing: redis-py's default pool
# raises MaxConnectionsError, which would look like an outage and keep messages off the other
# processes.
MAX_CONNECTIONS = 32


def retry_once_on_a_dead_connection() -> Retry:
    """Pooled connections opened before a Redis restart are dead, and the first command on
    one fails. Retrying once, on a fresh connection, keeps that first publish after an outage
    from being lost to the other processes. Timeouts are not retried: they would double the
    longest stall."""
    return Retry(NoBackoff(), retries=1, supported_errors=(RedisConnectionError,))


def connect_redis(url: str, *, for_subscribing: bool = False) -> Redis:
    """A client for commands, or (for_subscribing) one whose reads may wait indefinitely for
    the next published message and which pings now and then to notice a dead connection."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=COMMAND_TIMEOUT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=None if for_subscribing else COMMAND_TIMEOUT_S,
        health_check_interval=5 if for_subscribing else 0,
        retry=retry_once_on_a_dead_connection(),
        decode_responses=True,
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes it too


class RedisHealth:
    """Whether Redis answered the last call, and how many calls have failed in all."""

    def __init__(self) -> None:
        self.down = False
        self.errors = 0

    def failed(self, what: str, error: BaseException) -> None:
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
