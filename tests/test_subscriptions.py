"""One process's pub/sub subscriptions (server/realtime/subscriptions.py) against a real Redis:
a channel wanted while the listener is still subscribing is heard all the same."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

from redis.asyncio import Redis

from server.kernel.clock import SystemClock
from server.kernel.redis import RedisHealth, connect_redis
from server.realtime.redis import messages_while_answering
from server.realtime.subscriptions import ChannelSubscriptions

HEARD_WITHIN_S = 10.0


async def test_a_channel_wanted_while_the_listener_subscribes_is_heard(
    redis_url: str, redis_prefix: str
) -> None:
    listener = connect_redis(redis_url, 5.0, for_subscribing=True)
    publisher = Redis.from_url(redis_url)
    late: list[datetime] = []
    subscriptions = ChannelSubscriptions(
        listener,
        RedisHealth(),
        SystemClock(),
        process_wide=f"{redis_prefix}:socketio",
        subscribe_deadline_s=5.0,
        confirm_within_s=1.0,
        confirmed_late=late.append,
    )
    heard: asyncio.Queue[str] = asyncio.Queue()

    async def listen() -> None:
        messages: AsyncIterator[str] = subscriptions.listen(
            messages_while_answering,
            on_subscribed=lambda: None,
            on_lost=lambda: None,
            resubscribe_after_s=0.1,
        )
        async for data in messages:
            heard.put_nowait(data)

    listening = asyncio.create_task(listen())
    try:
        # The listener has sent its first SUBSCRIBE (of the process-wide channel alone) and
        # waits for the connection: a socket enters a room now, as at a process's start.
        await asyncio.sleep(0)
        room = f"{redis_prefix}:socketio:room:1"
        await subscriptions.want(room)

        async def published_until_heard() -> str:
            while True:
                await publisher.publish(room, "for room 1")
                with contextlib.suppress(TimeoutError):
                    return await asyncio.wait_for(heard.get(), 0.1)

        assert await asyncio.wait_for(published_until_heard(), HEARD_WITHIN_S) == "for room 1"
        # Its confirmation came after the join went on: what was stored meanwhile is caught up.
        assert len(late) == 1
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
        await subscriptions.close()
        await publisher.aclose()
        await listener.aclose()
