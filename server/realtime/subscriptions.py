"""Which pub/sub channels one process listens on: a process hears a room's traffic only while
it has a socket in that room.

With one channel for everything, every process decoded every emit of every room, and adding a
process added that much work to each of the others. Here an emit to a named socket room (a
chat room, a person's channel, an audience, staff) is published on that room's own Redis
channel, and a process subscribes to it when a socket here first enters the room. Everything
else (broadcasts, an emit to one socket of another process, catch-up requests) stays on the
process-wide channel, which every process hears.

Entering waits for Redis to confirm the subscription, so a message stored after a join began
reading history reaches the joiner live: "enter before reading" (rooms/service.py) holds across
processes. Leaving unsubscribes lazily: a room left empty is dropped at the next `prune`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from typing import Any, TypeGuard

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from server.kernel.clock import Clock
from server.kernel.redis import RedisHealth
from server.realtime.hub import STAFF_CHANNEL

log = logging.getLogger(__name__)

# Named socket rooms have a ':' in their name ("room:3", "user:7", "audience:alumni"), but for
# the one every moderator's and admin's socket is in; a socket's own room is its sid, which
# never has one.
UNPREFIXED_SHARED_ROOMS = frozenset({STAFF_CHANNEL})


def is_shared_room(room: object) -> TypeGuard[str]:
    """Whether `room` is a named socket room whose emits travel on a channel of their own
    (not a sid, not a list, not None: those stay on the process-wide channel)."""
    return isinstance(room, str) and (":" in room or room in UNPREFIXED_SHARED_ROOMS)


class ChannelSubscriptions:
    """One pub/sub connection: the process-wide channel, and one channel per shared socket
    room with a socket on this process.

    `listen` yields every published message's data, subscribing again to everything wanted
    whenever Redis goes away (or stops answering) and comes back. `want` subscribes one more
    channel and returns once Redis confirms it (or at once while Redis is away: the catch-up
    after an outage delivers what was missed). A confirmation later than `confirm_within_s`
    calls `confirmed_late` with the time the wait began, so that what was stored meanwhile
    is delivered here all the same."""

    def __init__(
        self,
        redis: Redis,
        health: RedisHealth,
        clock: Clock,
        *,
        process_wide: str,
        subscribe_deadline_s: float,
        confirm_within_s: float,
        confirmed_late: Callable[[datetime], None],
    ) -> None:
        self._redis = redis
        self._health = health
        self._clock = clock
        self._process_wide = process_wide
        self._subscribe_deadline_s = subscribe_deadline_s
        self._confirm_within_s = confirm_within_s
        self._confirmed_late = confirmed_late
        # Wanted channel -> set once Redis confirmed it on the current connection.
        self._wanted: dict[str, asyncio.Event] = {}
        # Channels whose confirmation was waited for in vain, and since when.
        self._late: dict[str, datetime] = {}
        # Wanted channels whose SUBSCRIBE could not be sent (Redis away or failing): sent once
        # Redis answers again, or with everything at the next subscription.
        self._unsent: set[str] = set()
        self._resending: asyncio.Task[None] | None = None
        health.on_recovered.append(self._send_unsent_soon)
        self._pubsub: PubSub | None = None
        # (Un)subscribing one at a time: a room left and joined again at once must not see
        # its SUBSCRIBE overtake the UNSUBSCRIBE decided before it.
        self._changing = asyncio.Lock()

    @property
    def channels(self) -> int:
        """How many per-room channels are subscribed (or being subscribed) now."""
        return len(self._wanted)

    async def listen(
        self,
        messages: Callable[[PubSub], AsyncIterator[dict[str, Any]]],
        on_subscribed: Callable[[], None],
        on_lost: Callable[[], None],
        resubscribe_after_s: float,
    ) -> AsyncIterator[str]:
        while True:
            pubsub: PubSub = self._redis.pubsub()
            for confirmed in self._wanted.values():
                confirmed.clear()
            try:
                subscribing = list(self._wanted)
                async with asyncio.timeout(self._subscribe_deadline_s):
                    await pubsub.subscribe(self._process_wide, *subscribing)
                self._unsent.difference_update(subscribing)
                self._pubsub = pubsub
                self._health.succeeded()
                # A channel wanted while that SUBSCRIBE was under way had no connection to go
                # on: it is sent now, or it would be heard only after the next outage.
                self._send_unsent_soon()
                on_subscribed()
                async for message in messages(pubsub):
                    kind = message.get("type")
                    if kind == "message":
                        yield str(message["data"])
                    elif kind == "subscribe":
                        self._confirm(str(message["channel"]))
            except (RedisError, OSError, TimeoutError) as error:
                self._health.failed("subscription to the Socket.IO channels", error)
                on_lost()
                await asyncio.sleep(resubscribe_after_s)
            finally:
                self._pubsub = None
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def want(self, channel: str) -> None:
        async with self._changing:
            confirmed = self._wanted.get(channel)
            if confirmed is None:
                confirmed = self._wanted[channel] = asyncio.Event()
                if not await self._send(lambda pubsub: pubsub.subscribe(channel)):
                    self._unsent.add(channel)
                    if not self._health.down:
                        # The listener is (re)subscribing: once this is confirmed, what was
                        # stored meanwhile is delivered here. (After an outage, the catch-up
                        # for the whole outage does that.)
                        self._late.setdefault(channel, self._clock.now())
                    return
        if confirmed.is_set() or self._pubsub is None or self._health.down:
            return
        began = self._clock.now()
        try:
            await asyncio.wait_for(confirmed.wait(), self._confirm_within_s)
        except TimeoutError:
            log.warning("Redis has not confirmed the subscription to %s yet", channel)
            self._late.setdefault(channel, began)

    async def prune(self, keep: Callable[[str], bool]) -> None:
        """Unsubscribe every wanted channel that `keep` no longer wants."""
        async with self._changing:
            dropped = [channel for channel in self._wanted if not keep(channel)]
            for channel in dropped:
                del self._wanted[channel]
                self._late.pop(channel, None)
                self._unsent.discard(channel)
            if dropped:
                await self._send(lambda pubsub: pubsub.unsubscribe(*dropped))

    def wanted(self) -> Iterable[str]:
        return self._wanted.keys()

    async def close(self) -> None:
        if self._resending is not None:
            self._resending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resending

    def _send_unsent_soon(self) -> None:
        if self._unsent and (self._resending is None or self._resending.done()):
            self._resending = asyncio.create_task(self._send_unsent())

    async def _send_unsent(self) -> None:
        async with self._changing:
            channels = sorted(self._unsent & self._wanted.keys())
            if channels and await self._send(lambda pubsub: pubsub.subscribe(*channels)):
                self._unsent.difference_update(channels)

    async def _send(self, command: Callable[[PubSub], Any]) -> bool:
        """Run a (un)subscribe on the listening connection; False when there is none (Redis
        away: the next subscription takes every wanted channel) or it failed."""
        pubsub = self._pubsub
        if pubsub is None or self._health.down:
            return False
        try:
            async with asyncio.timeout(self._subscribe_deadline_s):
                await command(pubsub)
        except (RedisError, OSError, TimeoutError) as error:
            # The listener notices a dead connection on its own and subscribes again.
            self._health.failed("subscribing to a room's channel", error)
            return False
        return True

    def _confirm(self, channel: str) -> None:
        confirmed = self._wanted.get(channel)
        if confirmed is not None:
            confirmed.set()
        since = self._late.pop(channel, None)
        if since is not None:
            self._confirmed_late(since)
