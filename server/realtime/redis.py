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
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from server.kernel.clock import Clock
from server.kernel.redis import RedisHealth
from server.realtime.bus import ControlBus
from server.realtime.delivery import emit_message, emit_to_local_sockets

log = logging.getLogger(__name__)

# How long a lost subscription waits before subscribing again. Short and flat, so delivery
# between processes comes back within seconds of Redis (python-socketio's own backoff grows
# to a minute).
RESUBSCRIBE_AFTER_S = 0.5
# A subscription quiet for HEARTBEAT_S is pinged; one that has not answered anything for
# DEAD_AFTER_S is taken for lost. A hung Redis (or a dead network) closes nothing: without
# this the listener waited on its socket forever, and never caught up afterwards.
HEARTBEAT_S = 1.0
DEAD_AFTER_S = 3.0
# Subscribing is a command like any other: a hung Redis must not hold it forever.
SUBSCRIBE_DEADLINE_S = 2.0
# Control messages kept while Redis is down, to publish once it is back; past this many the
# oldest are dropped (each is a few hundred bytes).
UNSENT_KEPT = 10_000
# Longer than another process takes to notice a lost subscription and subscribe again
# (HEARTBEAT_S, DEAD_AFTER_S, RESUBSCRIBE_AFTER_S), with room to spare.
RESEND_AGAIN_AFTER_S = 5.0
# The pub/sub message asking every process to deliver what was stored since `since` to its
# own sockets: sent by a process whose publishes failed, once Redis is back.
CATCH_UP_METHOD = "peerrooms_catch_up"


async def listen_forever(
    redis: Redis,
    channel: str,
    health: RedisHealth,
    on_subscribed: Callable[[], None] = lambda: None,
    on_lost: Callable[[], None] = lambda: None,
) -> AsyncIterator[str]:
    """The data of every message on a channel, subscribing again whenever Redis goes away
    (or stops answering) and comes back."""
    while True:
        pubsub: PubSub = redis.pubsub(ignore_subscribe_messages=True)
        try:
            async with asyncio.timeout(SUBSCRIBE_DEADLINE_S):
                await pubsub.subscribe(channel)
            health.succeeded()
            on_subscribed()
            async for data in messages_while_answering(pubsub):
                yield data
        except (RedisError, OSError, TimeoutError) as error:
            health.failed(f"subscription to {channel}", error)
            on_lost()
            await asyncio.sleep(RESUBSCRIBE_AFTER_S)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()


async def messages_while_answering(pubsub: PubSub) -> AsyncIterator[str]:
    """The data of each published message; raises once the connection stops answering."""
    loop = asyncio.get_running_loop()
    heard = loop.time()
    pinged = False
    while True:
        message = await pubsub.get_message(timeout=HEARTBEAT_S)
        if message is not None:
            heard, pinged = loop.time(), False
            if message.get("type") == "message":
                yield str(message["data"])
            continue
        quiet_s = loop.time() - heard
        if quiet_s >= DEAD_AFTER_S:
            raise RedisConnectionError(f"no answer on the subscription for {quiet_s:.1f} s")
        if not pinged:
            async with asyncio.timeout(DEAD_AFTER_S):
                await pubsub.ping()
            pinged = True


def catch_up_request(since: datetime) -> dict[str, Any]:
    return {"method": CATCH_UP_METHOD, "since": since.isoformat()}


def read_catch_up_request(data: str) -> datetime | None:
    """The `since` of a catch-up request; None for anything else (most messages, cheaply)."""
    if CATCH_UP_METHOD not in data:
        return None
    try:
        message = json.loads(data)
        if message.get("method") != CATCH_UP_METHOD:
            return None
        return datetime.fromisoformat(message["since"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


class ResilientRedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    """python-socketio's Redis manager, logging an outage once instead of per message and
    resubscribing promptly. Emits reach this process's sockets before they are published, so
    local delivery goes on while Redis is down.

    Pub/sub keeps nothing for a subscriber that was away: messages other processes published
    while this one's subscription was down never arrive, nor do those this process failed to
    publish. So after a lost subscription is back, `after_outage` callbacks run (rooms deliver
    the messages stored meanwhile to this process's sockets); a process whose publishes failed
    asks every process for that catch-up once Redis is back (a catch-up request on the
    channel); and every `message` event is delivered to a room's sockets at most once, whether
    it came from this process, from Redis or from a catch-up.

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
        # When the first publish that did not reach Redis was attempted (None: all did).
        self._unshared_since: datetime | None = None
        health.on_recovered.append(self._ask_for_catch_up)

    async def deliver_here(self, room: str, event: str, data: Any) -> None:
        """An emit to this process's sockets in `room` only (at most once, as every emit)."""
        await self._handle_emit(
            {"method": "emit", "event": event, "data": [data], "namespace": "/", "room": room}
        )

    async def emit_beside(
        self, event: str, data: Any, channels: list[str], skipped: list[str]
    ) -> None:
        """To the sockets in `channels` but not in `skipped`, on every process (delivery.py:
        `ChannelEmits`): here first, as every emit."""
        message = {**emit_message(event, data, channels, skipped), "host_id": self.host_id}
        await self._handle_emit(message)
        await self._publish(message)

    async def _publish(self, data: Any) -> Any:
        try:
            self._health.check()
            result = await self._publisher.publish(self.channel, self.json.dumps(data))
        except RedisError as error:
            self._health.failed("socket.io publish", error)
            if self._unshared_since is None:
                self._unshared_since = self._clock.now()
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
            since = read_catch_up_request(data)
            if since is None:
                yield data
            else:
                self._catch_up(since)

    def _ask_for_catch_up(self) -> None:
        since, self._unshared_since = self._unshared_since, None
        if since is not None:
            self._run(self._publish_catch_up_request(since))

    async def _publish_catch_up_request(self, since: datetime) -> None:
        request = self.json.dumps(catch_up_request(since))
        try:
            await self._publisher.publish(self.channel, request)
        except RedisError as error:
            self._health.failed("catch-up request", error)
            self._unshared_since = min(since, self._unshared_since or since)

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
            message.get("skip_rooms"),
        )

    def _lost(self) -> None:
        if self._away_since is None:
            self._away_since = self._clock.now()

    def _subscribed(self) -> None:
        since, self._away_since = self._away_since, None
        if since is not None:
            self._catch_up(since)

    def _catch_up(self, since: datetime) -> None:
        for catch_up in self.after_outage:
            self._run(catch_up(since))

    def _run(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
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
    """A control bus whose messages reach every process subscribed to the channel.

    A message that could not be published (Redis down) is acted on here at once and kept,
    and published once Redis is back, in order: a ban or a sign-out made during an outage
    then reaches the sockets on the other processes too. Every kind of message is safe to
    act on twice (this process gets its own back), and a late one does what it did here."""

    def __init__(self, redis: Redis, listener: Redis, channel: str, health: RedisHealth) -> None:
        super().__init__()
        self._redis = redis
        self._listener = listener
        self._channel = channel
        self._health = health
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._unsent: deque[str] = deque(maxlen=UNSENT_KEPT)
        self._resending: asyncio.Task[None] | None = None
        health.on_recovered.append(self._resend_soon)

    async def publish(self, kind: str, payload: dict[str, Any]) -> None:
        message = json.dumps({"kind": kind, "payload": payload})
        try:
            self._health.check()
            await self._redis.publish(self._channel, message)
        except RedisError as error:
            # Other processes miss this one until Redis is back; this process acts on it now.
            self._health.failed("control bus publish", error)
            self._unsent.append(message)
            await self.dispatch(kind, payload)
            return
        self._health.succeeded()

    def after_outage(self, callback: Callable[[], None]) -> None:
        # Redis answering again, as this process first learns of it (a probe, a command or a
        # subscription): before the Socket.IO manager's catch-up, which waits for its own
        # subscription.
        self._health.on_recovered.append(callback)

    def _resend_soon(self) -> None:
        if self._unsent and (self._resending is None or self._resending.done()):
            self._resending = asyncio.create_task(self._resend())

    async def _resend(self) -> None:
        """Publish what was kept, now and once more RESEND_AGAIN_AFTER_S later: when Redis
        restarted, the other processes are subscribing again at about the time this one
        finds it back, and a message published before a process resubscribed never reaches
        it. (Every message is safe to act on twice.)"""
        kept = list(self._unsent)
        self._unsent.clear()
        for attempt in range(2):
            if attempt:
                await asyncio.sleep(RESEND_AGAIN_AFTER_S)
            for index, message in enumerate(kept):
                try:
                    await self._redis.publish(self._channel, message)
                except RedisError as error:
                    self._health.failed("control bus publish", error)
                    self._unsent.extendleft(reversed(kept[index:]))  # at the next recovery
                    return

    async def start(self) -> None:
        self._task = asyncio.create_task(self._receive())
        # Wait (briefly) for the subscription, so a message published right after start-up
        # is not missed by this process.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout=2.0)

    async def close(self) -> None:
        for task in (self._task, self._resending):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

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
