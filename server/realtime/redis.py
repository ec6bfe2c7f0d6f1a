"""Cross-process delivery over Redis: the Socket.IO client manager and the control bus."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import socketio
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from server.kernel.redis import RedisHealth
from server.realtime.bus import ControlBus

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
            await asyncio.sleep(RESUBSCRIBE_AFTER_S)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]


class ResilientRedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    """python-socketio's Redis manager, logging an outage once instead of per message and
    resubscribing promptly. Emits reach this process's sockets before they are published, so
    local delivery goes on while Redis is down."""

    def __init__(
        self, *, channel: str, health: RedisHealth, publisher: Redis, listener: Redis
    ) -> None:
        super().__init__(channel=channel, logger=log)
        self._health = health
        self._publisher = publisher
        self._listener = listener

    async def _publish(self, data: Any) -> Any:
        try:
            result = await self._publisher.publish(self.channel, self.json.dumps(data))
        except RedisError as error:
            self._health.failed("socket.io publish", error)
            return None
        self._health.succeeded()
        return result

    async def _listen(self) -> AsyncIterator[str]:
        async for data in listen_forever(self._listener, self.channel, self._health):
            yield data


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
