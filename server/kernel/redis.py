"""Redis connections and one shared account of Redis outages.

While Redis is unreachable the service keeps working on this process (messages are stored,
acked and delivered locally); the outage is logged once when it starts and once when it ends,
not for every message.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis

log = logging.getLogger(__name__)

# A refused connection fails at once; these bound the wait when Redis hangs or the network
# drops packets, so a request never stalls for longer than this on Redis.
CONNECT_TIMEOUT_S = 1.0
COMMAND_TIMEOUT_S = 2.0


def connect_redis(url: str, *, for_subscribing: bool = False) -> Redis:
    """A client for commands, or (for_subscribing) one whose reads may wait indefinitely for
    the next published message and which pings now and then to notice a dead connection."""
    return Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=None if for_subscribing else COMMAND_TIMEOUT_S,
        health_check_interval=5 if for_subscribing else 0,
        decode_responses=True,
    )


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
