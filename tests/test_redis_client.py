"""The Redis client every process uses. A burst of concurrent commands waits for a free
connection, and the first command after a Redis restart gets through: either failure would
read as an outage and keep a message off the other processes."""

from __future__ import annotations

import asyncio

from server.kernel.redis import MAX_CONNECTIONS, connect_redis
from tests.processes import RedisProcess, free_port


async def test_a_burst_of_publishes_past_the_pool_size_all_succeed(
    redis_url: str, redis_prefix: str
) -> None:
    client = connect_redis(redis_url)
    listener = connect_redis(redis_url, for_subscribing=True)
    channel = f"{redis_prefix}:burst"
    pubsub = listener.pubsub()
    await pubsub.subscribe(channel)
    try:
        burst = MAX_CONNECTIONS * 20
        receivers = await asyncio.gather(*(client.publish(channel, str(n)) for n in range(burst)))
        assert receivers == [1] * burst
        received: set[str] = set()
        deadline = asyncio.get_running_loop().time() + 10
        while len(received) < burst and asyncio.get_running_loop().time() < deadline:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if message is not None:
                received.add(message["data"])
        assert received == {str(n) for n in range(burst)}
    finally:
        await pubsub.aclose()
        await client.aclose()
        await listener.aclose()


async def test_the_first_publish_after_a_redis_restart_gets_through() -> None:
    redis = RedisProcess(free_port())
    await redis.start()
    client = connect_redis(redis.url)
    try:
        # Fill the pool with connections that the restart will leave dead.
        await asyncio.gather(*(client.publish("warm", "up") for _ in range(MAX_CONNECTIONS)))
        await redis.stop()
        await redis.start()
        listener = connect_redis(redis.url, for_subscribing=True)
        pubsub = listener.pubsub()
        await pubsub.subscribe("after-restart")
        try:
            assert await client.publish("after-restart", "first") == 1
        finally:
            await pubsub.aclose()
            await listener.aclose()
    finally:
        await client.aclose()
        await redis.stop()
