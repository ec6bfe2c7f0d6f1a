"""Cross-process delivery over Redis: the Socket.IO client manager and the control bus."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import datetime
from typing import Any

import socketio
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from server.kernel.clock import Clock
from server.kernel.redis import RedisHealth
from server.realtime.bus import ControlBus
from server.realtime.delivery import emit_to_local_sockets

log = logging.getLogger(__name__)

# How long a lost subscription waits before subscribing again. Short and flat, so delivery
# between processes comes back within seconds of Redis (python-socketio's own backoff grows
# to a minute).
RESUBSCRIBE_AFTER_S = 0.5


async def listen_forever(
    redis: Redis,
    channel: str,
    health: RedisHealth,
    on_subscribed: Callable[[], None] = lambda: None,
    on_lost: Callable[[], None] = lambda: None,
) -> AsyncIterator[str]:
    """The data of every message on a channel, subscribing again whenever Redis goes away
    and comes back."""
    while True:
        pubsub: PubSub = redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(channel)
            health.succeeded()
            on_subscribed()
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    yield str(message["data"])
        except (RedisError, OSError) as error:
            health.failed(f"subscription to {channel}", error)
            on_lost()
            await asyncio.sleep(RESUBSCRIBE_AFTER_S)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()


class ResilientRedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    """python-socketio's Redis manager, logging an outage once instead of per message and
    resubscribing promptly. Emits reach this process's sockets before they are published, so
    local delivery goes on while Redis is down.

    Pub/sub keeps nothing for a subscriber that was away: messages other processes published
    while this one's subscription was down never arrive. So after a lost subscription is back,
    `after_outage` callbacks run (rooms deliver the messages stored meanwhile to this process's
    sockets), and every `message` event is delivered to a room's sockets at most once, whether
    it came from this process, from Redis or from that catch-up.

    Sockets on this process are handed their packets as `realtime/delivery.py` says."""

    def __init__(
        self,
        *,
        channel: str,
        health: RedisHealth,
        publisher: Redis,
        listener: Redis,
        clock: Clock,
    ) -> None:
        super().__init__(channel=channel, logger=log)
        self._health = health
        self._publisher = publisher
        self._listener = listener
        self._clock = clock
        self._delivered = DeliveredMessages()
        self._away_since: datetime | None = None
        # Each is called, once a lost subscription is back, with the time it was lost.
        self.after_outage: list[Callable[[datetime], Coroutine[Any, Any, None]]] = []
        self._catching_up: set[asyncio.Task[None]] = set()

    async def deliver_here(self, room: str, event: str, data: Any) -> None:
        """An emit to this process's sockets in `room` only (at most once, as every emit)."""
        await self._handle_emit(
            {"method": "emit", "event": event, "data": [data], "namespace": "/", "room": room}
        )

    async def _publish(self, data: Any) -> Any:
        try:
            result = await self._publisher.publish(self.channel, self.json.dumps(data))
        except RedisError as error:
            self._health.failed("socket.io publish", error)
            return None
        self._health.succeeded()
        return result

    async def _listen(self) -> AsyncIterator[str]:
        async for data in listen_forever(
            self._listener,
            self.channel,
            self._health,
            on_subscribed=self._subscribed,
            on_lost=self._lost,
        ):
            yield data

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        if message.get("event") == "message" and not self._delivered.first_time(message):
            return
        if message.get("callback") is not None or message.get("binary"):
            await super()._handle_emit(message)
            return
        data = message.get("data")
        await emit_to_local_sockets(
            self,
            message["event"],
            data if isinstance(data, list) else [data],
            message.get("namespace"),
            message.get("room"),
            message.get("skip_sid"),
        )

    def _lost(self) -> None:
        if self._away_since is None:
            self._away_since = self._clock.now()

    def _subscribed(self) -> None:
        since, self._away_since = self._away_since, None
        if since is None:
            return
        for catch_up in self.after_outage:
            task = asyncio.create_task(catch_up(since))
            self._catching_up.add(task)
            task.add_done_callback(self._catching_up.discard)


class DeliveredMessages:
    """The ids of the `message` events delivered lately, per socket room (bounded)."""

    REMEMBERED_PER_ROOM = 1000

    def __init__(self) -> None:
        self._ids: dict[str, tuple[set[int], deque[int]]] = {}

    def first_time(self, message: dict[str, Any]) -> bool:
        """Records the message; False when this room was already given this id."""
        data = message.get("data")
        payload = data[0] if isinstance(data, list) and data else data
        message_id = payload.get("id") if isinstance(payload, dict) else None
        room = message.get("room")
        if not isinstance(message_id, int) or not isinstance(room, str):
            return True
        ids, order = self._ids.setdefault(room, (set(), deque()))
        if message_id in ids:
            return False
        ids.add(message_id)
        order.append(message_id)
        if len(order) > self.REMEMBERED_PER_ROOM:
            ids.discard(order.popleft())
        return True


class RedisControlBus(ControlBus):
    """A control bus whose messages reach every process subscribed to the channel."""

    def __init__(self, redis: Redis, listener: Redis, channel: str, health: RedisHealth) -> None:
        super().__init__()
        self._redis = redis
        self._listener = listener
        self._channel = channel
        self._health = health
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def publish(self, kind: str, payload: dict[str, Any]) -> None:
        try:
            await self._redis.publish(self._channel, json.dumps({"kind": kind, "payload": payload}))
        except RedisError as error:
            # Other processes miss this one; this process still acts on it.
            self._health.failed("control bus publish", error)
            await self.dispatch(kind, payload)
            return
        self._health.succeeded()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._receive())
        # Wait (briefly) for the subscription, so a message published right after start-up
        # is not missed by this process.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout=2.0)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _receive(self) -> None:
        async for data in listen_forever(
            self._listener, self._channel, self._health, self._subscribed.set
        ):
            try:
                envelope = json.loads(data)
                kind, payload = envelope["kind"], envelope["payload"]
            except (ValueError, KeyError, TypeError):
                log.warning("ignored a malformed control bus message")
                continue
            await self.dispatch(kind, payload)
