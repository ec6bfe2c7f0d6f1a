"""One presence suite run against the in-process store and the Redis store, plus what only
the Redis store does: counting across processes, cleaning up after a dead process, repairing
itself after Redis lost its data, and carrying on while Redis is unreachable."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from server.kernel.redis import RedisHealth, connect_redis
from server.presence.redis_store import RedisPresenceStore
from server.presence.store import InProcessPresenceStore, PresenceChange, PresenceStore
from tests.processes import free_port
from tests.support import (
    Api,
    FakeClock,
    Peer,
    Person,
    barrier,
    build_community,
    joined,
    public,
    server_settings,
    start_server,
)

StoreFactory = Callable[[], Awaitable[RedisPresenceStore]]


@pytest.fixture
async def redis_stores(redis_url: str, redis_prefix: str) -> AsyncIterator[StoreFactory]:
    """Redis stores sharing one prefix, as the processes of one deployment would."""
    clients: list[Redis] = []

    async def new_store() -> RedisPresenceStore:
        client = connect_redis(redis_url, 2.0)
        clients.append(client)
        return RedisPresenceStore(client, redis_prefix, secrets.token_hex(4), 3.0, RedisHealth())

    yield new_store
    for client in clients:
        await client.aclose()


@pytest.fixture(params=["in-process", "redis"])
async def store(request: pytest.FixtureRequest, redis_stores: StoreFactory) -> PresenceStore:
    if request.param == "in-process":
        return InProcessPresenceStore()
    return await redis_stores()


async def test_only_a_users_first_connection_in_a_room_is_new(store: PresenceStore) -> None:
    assert await store.add(1, 10, "tab-1") is True
    assert await store.add(1, 10, "tab-2") is False
    assert await store.add(1, 10, "tab-2") is False  # the same connection twice
    assert await store.add(1, 11, "tab-3") is True
    assert await store.add(2, 10, "tab-1") is True  # another room counts apart


async def test_only_a_users_last_connection_leaving_is_the_end(store: PresenceStore) -> None:
    await store.add(1, 10, "tab-1")
    await store.add(1, 10, "tab-2")
    assert await store.remove(1, 10, "tab-1") is False
    assert await store.remove(1, 10, "tab-1") is False  # already gone
    assert await store.remove(1, 10, "tab-2") is True
    assert await store.remove(1, 10, "never-there") is False
    assert await store.user_ids(1) == []


async def test_it_lists_and_counts_the_users_in_each_room(store: PresenceStore) -> None:
    for room_id, user_id, conn_id in [(1, 12, "a"), (1, 10, "b"), (1, 10, "c"), (2, 11, "d")]:
        await store.add(room_id, user_id, conn_id)
    assert await store.user_ids(1) == [10, 12]
    assert await store.user_ids(2) == [11]
    assert await store.user_ids(3) == []
    assert await store.counts([1, 2, 3]) == {1: 2, 2: 1, 3: 0}


async def test_connections_on_two_processes_count_as_one_user(redis_stores: StoreFactory) -> None:
    process_a, process_b = await redis_stores(), await redis_stores()
    assert await process_a.add(1, 10, "sid-a") is True
    assert await process_b.add(1, 10, "sid-b") is False
    assert await process_b.user_ids(1) == [10]
    assert await process_a.remove(1, 10, "sid-a") is False
    assert await process_b.remove(1, 10, "sid-b") is True
    assert await process_a.counts([1]) == {1: 0}


async def test_a_dead_processs_users_are_reported_offline_by_a_survivor(
    redis_stores: StoreFactory, redis_url: str, redis_prefix: str
) -> None:
    dying, survivor = await redis_stores(), await redis_stores()
    assert await dying.maintain() == []
    assert await survivor.maintain() == []
    await dying.add(1, 10, "sid-1")
    await dying.add(2, 10, "sid-1")
    await survivor.add(1, 11, "sid-2")
    await survivor.add(2, 10, "sid-3")  # user 10 is still in room 2 through the survivor

    # The dying process stops refreshing its heartbeat; expiry is what removes this key.
    client = Redis.from_url(redis_url)
    await client.delete(f"{redis_prefix}:presence:proc:{dying.process_id}:alive")
    await client.aclose()

    changes = await survivor.maintain()
    assert changes == [PresenceChange(1, 10, "offline")]
    assert await survivor.user_ids(1) == [11]
    assert await survivor.user_ids(2) == [10]
    assert await survivor.maintain() == []  # cleaned up once


async def test_presence_is_rebuilt_after_redis_lost_its_data(
    redis_stores: StoreFactory, redis_url: str, redis_prefix: str
) -> None:
    store = await redis_stores()
    await store.maintain()
    await store.add(1, 10, "sid-1")
    await store.add(1, 11, "sid-2")

    client = Redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(match=f"{redis_prefix}:*")]
    await client.delete(*keys)  # what a Redis restart without persistence leaves
    await client.aclose()
    assert await store.user_ids(1) == []

    changes = await store.maintain()
    assert sorted(changes, key=lambda c: c.user_id) == [
        PresenceChange(1, 10, "online"),
        PresenceChange(1, 11, "online"),
    ]
    assert await store.user_ids(1) == [10, 11]


async def test_while_redis_is_unreachable_this_processs_presence_carries_on() -> None:
    health = RedisHealth()
    unreachable = connect_redis(f"redis://127.0.0.1:{free_port()}/0", 2.0)
    store = RedisPresenceStore(unreachable, "peerrooms-test-down", "proc", 3.0, health)
    try:
        assert await store.add(1, 10, "sid-1") is True
        assert await store.add(1, 10, "sid-2") is False
        assert await store.user_ids(1) == [10]
        assert await store.counts([1]) == {1: 1}
        assert await store.remove(1, 10, "sid-1") is False
        assert await store.remove(1, 10, "sid-2") is True
        assert await store.maintain() == []
        assert health.down is True
        # One call failed; the breaker kept the others from trying (kernel/redis.py).
        assert health.errors >= 1
    finally:
        await unreachable.aclose()


# ----- upkeep on the server's clock -----


async def test_a_dead_processs_users_go_offline_at_the_next_upkeep_on_the_servers_clock(
    database_url: str, tmp_path: Path, clock: FakeClock, redis_url: str, redis_prefix: str
) -> None:
    """The server's upkeep runs every quarter of the presence TTL of its clock: not before
    the clock gets there, and then it reports a dead process's users offline."""
    ttl_s = 30
    settings = server_settings(
        database_url, tmp_path, redis_url=redis_url, redis_prefix=redis_prefix, presence_ttl_s=ttl_s
    )
    server = await start_server(settings, clock)
    client = connect_redis(redis_url, 2.0)
    ana: Peer | None = None
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(server.url, session)
            c = await build_community(server, api)
            ana = await Peer(server.url, c.pat_ana.token).connect()
            await joined(ana, c.group_a)
            # Bo sits in the room through another process, which then dies.
            dead = RedisPresenceStore(client, redis_prefix, "dead", ttl_s, RedisHealth())
            await dead.maintain()
            await dead.add(c.group_a, c.pat_bo.id, "sid-on-the-dead-process")
            await client.delete(f"{redis_prefix}:presence:proc:dead:alive")

            def bo_offline() -> list[Any]:
                return [p for p in ana.received("presence") if p["user"]["id"] == c.pat_bo.id]

            await clock.advance(seconds=ttl_s / 4 - 0.1)
            await barrier(ana)
            assert bo_offline() == []
            assert c.pat_bo.id in await online_ids(api, c.group_a, c.mod_lee)

            await clock.advance(seconds=0.1)
            await barrier(ana)
            assert bo_offline() == [
                {"room_id": c.group_a, "user": public(c.pat_bo), "status": "offline"}
            ]
            assert c.pat_bo.id not in await online_ids(api, c.group_a, c.mod_lee)

            await clock.advance(seconds=ttl_s / 4)  # cleaned up once
            await barrier(ana)
            assert len(bo_offline()) == 1
    finally:
        if ana is not None:
            await ana.disconnect()
        await client.aclose()
        await server.stop()


async def online_ids(api: Api, room_id: int, staff: Person) -> list[int]:
    reply = await api.get(f"/api/rooms/{room_id}/presence", token=staff.token)
    assert reply.status == 200, reply.body
    return [user["id"] for user in reply.body["online"]]
