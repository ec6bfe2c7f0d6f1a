"""Cross-process delivery over Redis: the Socket.IO client manager and the control bus."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
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
from server.realtime.delivery import IndexedRoomsManager, emit_message, emit_to_local_sockets
from server.realtime.subscriptions import ChannelSubscriptions, is_shared_room

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
# How long a socket entering a room waits for Redis to confirm the room's channel; a later
# confirmation delivers what was stored meanwhile (a catch-up), so nothing is missed.
CONFIRM_WITHIN_S = 1.0
# How long after a socket leaves a room its channel is unsubscribed (if no other socket here
# is in the room by then).
PRUNE_AFTER_S = 1.0
# Emits published on several channels, remembered to hand each to sockets once.
SEEN_EMITS_KEPT = 10_000
# The process that published a message.
ORIGIN = "origin"
# Marks a message decoded from Redis on its way to `_handle_emit` (never published).
FROM_REDIS = "_from_redis"
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
            async for message in messages_while_answering(pubsub):
                if message.get("type") == "message":
                    yield str(message["data"])
        except (RedisError, OSError, TimeoutError) as error:
            health.failed(f"subscription to {channel}", error)
            on_lost()
            await asyncio.sleep(RESUBSCRIBE_AFTER_S)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()


async def messages_while_answering(pubsub: PubSub) -> AsyncIterator[dict[str, Any]]:
    """Each message read off the subscription (published ones, and confirmations unless the
    pubsub ignores them); raises once the connection stops answering."""
    loop = asyncio.get_running_loop()
    heard = loop.time()
    pinged = False
    while True:
        message = await pubsub.get_message(timeout=HEARTBEAT_S)
        if message is not None:
            heard, pinged = loop.time(), False
            yield message
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


class ResilientRedisManager(IndexedRoomsManager, socketio.AsyncRedisManager):  # type: ignore[misc]
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

    Sockets on this process are handed their packets, and their rooms are indexed for a cheap
    disconnect, as `realtime/delivery.py` says (`IndexedRoomsManager`)."""

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
        self._subscriptions = ChannelSubscriptions(
            listener,
            health,
            clock,
            process_wide=channel,
            subscribe_deadline_s=SUBSCRIBE_DEADLINE_S,
            confirm_within_s=CONFIRM_WITHIN_S,
            confirmed_late=self._catch_up,
        )
        self._pruning: asyncio.Task[None] | None = None
        # An emit published on several channels reaches a process once per channel it
        # listens on; it is handed to sockets once (`emit_beside`).
        self._seen_emits = RecentIds(SEEN_EMITS_KEPT)
        # What this process published comes back on the channels it listens on: known by its
        # first bytes, it is dropped before it is decoded. (Not by `host_id`: a callback's
        # answer carries the host it is for.) Written out rather than encoded: python-socketio
        # swaps in the server's JSON codec after this, whose spacing differs.
        self._own_prefix = f'{{"{ORIGIN}":"{self.host_id}"'
        self.stats = SharingStats()
        self._away_since: datetime | None = None
        # Each is called, once a lost subscription is back, with the time it was lost.
        self.after_outage: list[Callable[[datetime], Coroutine[Any, Any, None]]] = []
        self._catching_up: set[asyncio.Task[None]] = set()
        # When the first publish that did not reach Redis was attempted (None: all did).
        self._unshared_since: datetime | None = None
        health.on_recovered.append(self._ask_for_catch_up)

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        if self._pruning is not None:
            self._pruning.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruning
        await self._subscriptions.close()

    @property
    def channels(self) -> int:
        return self._subscriptions.channels

    async def enter_room(
        self, sid: str, namespace: str, room: Any, eio_sid: str | None = None
    ) -> None:
        """Enter as python-socketio does, then (for a socket of this process in a shared
        room) listen on the room's channel, once Redis confirms it: what is published there
        from now on reaches the socket."""
        await super().enter_room(sid, namespace, room, eio_sid=eio_sid)
        if is_shared_room(room) and self.sid_is_here(sid, namespace):
            await self._subscriptions.want(self._channel_of(room))

    async def leave_room(self, sid: str, namespace: str, room: Any) -> None:
        await super().leave_room(sid, namespace, room)
        if is_shared_room(room):
            self._prune_soon()

    async def disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        await super().disconnect(sid, namespace, **kwargs)
        self._prune_soon()

    def _channel_of(self, room: str) -> str:
        return f"{self.channel}:{room}"

    def _prune_soon(self) -> None:
        """Unsubscribe, a moment from now, the channels of rooms no socket here is in: one
        pass for a burst of leaves (a closing process, a reconnect storm), and a room left
        and joined again at once keeps its channel."""
        if self._pruning is None or self._pruning.done():
            self._pruning = asyncio.create_task(self._prune_after_a_moment())

    async def _prune_after_a_moment(self) -> None:
        await self._clock.sleep(PRUNE_AFTER_S)
        here = self.rooms.get("/", {})
        start = len(self.channel) + 1
        await self._subscriptions.prune(lambda channel: channel[start:] in here)

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
        message = {
            **emit_message(event, data, channels, skipped),
            "host_id": self.host_id,
            "emit_id": uuid.uuid4().hex,
        }
        await self._handle_emit(message)
        await self._publish(message)

    async def _publish(self, data: Any) -> Any:
        """On the channel of the room an emit is for (one per room for an emit to several),
        or the process-wide one; an emit to a socket of this process is not published."""
        channels = self._channels_for(data)
        if not channels:
            return None
        encoded = self._with_origin_first(data)
        try:
            self._health.check()
            for channel in channels:
                await self._publisher.publish(channel, encoded)
        except RedisError as error:
            self._health.failed("socket.io publish", error)
            if self._unshared_since is None:
                self._unshared_since = self._clock.now()
            return None
        self._health.succeeded()
        return None

    def _with_origin_first(self, data: dict[str, Any]) -> str:
        """The message encoded with its origin first, as `_own_prefix`'s very bytes."""
        body = self.json.dumps(data)
        if ORIGIN in data or body == "{}":
            raise ValueError(f"not a Socket.IO manager message: {body[:80]}")
        return f"{self._own_prefix},{body[1:]}"

    def _channels_for(self, data: dict[str, Any]) -> list[str]:
        if data.get("method") != "emit" or data.get("callback") is not None:
            return [self.channel]
        room = data.get("room")
        rooms = room if isinstance(room, list) else [room]
        shared = [r for r in rooms if is_shared_room(r)]
        if shared and len(shared) == len(rooms):
            return [self._channel_of(r) for r in shared]
        if isinstance(room, str) and self.sid_is_here(room, data.get("namespace") or "/"):
            return []
        return [self.channel]

    def sid_is_here(self, sid: str, namespace: str) -> bool:
        return self.eio_sid_from_sid(sid, namespace) is not None

    async def _listen(self) -> AsyncIterator[dict[str, Any]]:
        async for data in self._subscriptions.listen(
            messages_while_answering,
            on_subscribed=self._subscribed,
            on_lost=self._lost,
            resubscribe_after_s=RESUBSCRIBE_AFTER_S,
        ):
            if data.startswith(self._own_prefix):
                continue
            since = read_catch_up_request(data)
            if since is not None:
                self._catch_up(since)
                continue
            try:
                message = self.json.loads(data)
            except ValueError:
                log.warning("ignored a malformed Socket.IO pub/sub message")
                continue
            if not isinstance(message, dict):
                continue
            self.stats.received += 1
            emit_id = message.get("emit_id")
            if isinstance(emit_id, str) and not self._seen_emits.first_time(emit_id):
                continue
            message[FROM_REDIS] = True
            yield message

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
        from_redis = message.pop(FROM_REDIS, False)
        if message.get("event") == "message" and not self._delivered.first_time(message):
            return
        if message.get("callback") is not None or message.get("binary"):
            await super()._handle_emit(message)
            return
        data = message.get("data")
        handed = await emit_to_local_sockets(
            self,
            message["event"],
            data if isinstance(data, list) else [data],
            message.get("namespace"),
            message.get("room"),
            message.get("skip_sid"),
            message.get("skip_rooms"),
        )
        if from_redis and handed:
            self.stats.delivered += 1

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


@dataclass
class SharingStats:
    """Pub/sub messages this process decoded, and how many of them it had a socket for: the
    second over the first is how much of what it hears it needs."""

    received: int = 0
    delivered: int = 0


class RecentIds:
    """The last `kept` ids seen (a set and the order they came in)."""

    def __init__(self, kept: int) -> None:
        self._kept = kept
        self._ids: set[str] = set()
        self._order: deque[str] = deque()

    def first_time(self, id_: str) -> bool:
        if id_ in self._ids:
            return False
        self._ids.add(id_)
        self._order.append(id_)
        if len(self._order) > self._kept:
            self._ids.discard(self._order.popleft())
        return True


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
