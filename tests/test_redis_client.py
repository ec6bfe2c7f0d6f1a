"""The Redis client every process uses. A burst of concurrent commands waits for a free
connection, and the first command after a Redis restart gets through: either failure would
read as an outage and keep a message off the other processes. A hung Redis costs one call its
timeout, not every call (the circuit breaker)."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.exceptions import RedisError

from server.kernel.redis import MAX_CONNECTIONS, RedisDown, RedisHealth, connect_redis
from tests.processes import RedisProcess, free_port


async def test_a_burst_of_publishes_past_the_pool_size_all_succeed(
    redis_url: str, redis_prefix: str
) -> None:
    client = connect_redis(redis_url, 2.0)
    listener = connect_redis(redis_url, 2.0, for_subscribing=True)
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
    client = connect_redis(redis.url, 2.0)
    try:
        # Fill the pool with connections that the restart will leave dead.
        await asyncio.gather(*(client.publish("warm", "up") for _ in range(MAX_CONNECTIONS)))
        await redis.stop()
        await redis.start()
        listener = connect_redis(redis.url, 2.0, for_subscribing=True)
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


async def test_a_hung_redis_costs_one_call_its_timeout_then_none_until_it_answers() -> None:
    redis = RedisProcess(free_port())
    await redis.start()
    client = connect_redis(redis.url, 0.3)
    health = RedisHealth(probe=client.ping)
    await health.start()
    try:
        await client.ping()
        redis.pause()
        with pytest.raises(RedisError) as timed_out:
            await client.ping()
        health.failed("ping", timed_out.value)
        started = time.monotonic()
        for _ in range(100):
            with pytest.raises(RedisDown):
                health.check()
        assert time.monotonic() - started < 0.1  # no call waited
        assert health.errors == 1
        redis.resume()
        deadline = time.monotonic() + 5
        while health.down and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not health.down, "the probe never found Redis back"
        health.check()
    finally:
        await health.close()
        await client.aclose()
        await redis.stop()
