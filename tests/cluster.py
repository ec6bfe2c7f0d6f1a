"""Two server processes on one database and one Redis, and what the scale-out tests do with
them (tests/test_scale_out*.py; the `cluster` fixture is in conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from redis.asyncio import Redis

from tests.processes import RedisProcess, ServerProcess, create_admin, free_port, server_env
from tests.support import (
    Api,
    Community,
    Peer,
    Person,
    barrier_through_redis,
    build_community_as,
    joined,
    new_client_id,
    sign_in,
)

if TYPE_CHECKING:
    from tests.conftest import PeerFactory

# Short, so a killed process is reaped within a test; long enough that a process stalled
# by a loaded machine is not reaped (and its users announced offline) while alive.
PRESENCE_TTL_S = 5


@dataclass
class Cluster:
    a: ServerProcess
    b: ServerProcess
    api_a: Api
    api_b: Api
    community: Community
    redis_url: str
    redis_prefix: str

    async def barrier(self, *peers: Peer) -> None:
        """Everything either process emitted to these peers before now has arrived."""
        await barrier_through_redis(self.redis_url, self.redis_prefix, *peers)


async def start_cluster(
    database_url: str, tmp_path: Path, redis_url: str, redis_prefix: str, **settings: str
) -> AsyncIterator[Cluster]:
    """Two processes on an empty database: an admin and the community are made first."""
    env = cluster_env(database_url, tmp_path, redis_url, redis_prefix, **settings)
    async for cluster in run_cluster(env, tmp_path, None):
        yield cluster


def cluster_env(
    database_url: str, tmp_path: Path, redis_url: str, redis_prefix: str, **settings: str
) -> dict[str, str]:
    return server_env(
        database_url,
        tmp_path,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        presence_ttl_s=str(PRESENCE_TTL_S),
        **settings,
    )


async def run_cluster(
    env: dict[str, str], tmp_path: Path, community: Community | None
) -> AsyncIterator[Cluster]:
    """Two processes with this environment; `community`: the one their database already
    holds (a copy of the community template), else it is made here."""
    if community is None:
        await create_admin(env)  # which brings the schema up to date before both start
    started = await asyncio.gather(
        ServerProcess.start(env, tmp_path / "a.log"),
        ServerProcess.start(env, tmp_path / "b.log"),
        return_exceptions=True,
    )
    processes = [each for each in started if isinstance(each, ServerProcess)]
    try:
        for each in started:
            if isinstance(each, BaseException):
                raise each
        a, b = processes
        async with aiohttp.ClientSession() as session:
            api_a, api_b = Api(a.url, session), Api(b.url, session)
            if community is None:
                community = await build_community_as(api_a, await sign_in(api_a, "admin"))
            redis_url, redis_prefix = env["PEERROOMS_REDIS_URL"], env["PEERROOMS_REDIS_PREFIX"]
            yield Cluster(a, b, api_a, api_b, community, redis_url, redis_prefix)
    finally:
        for process in processes:
            await process.stop()


async def send(peer: Peer, room_id: int, body: str) -> dict[str, Any]:
    ack = await peer.call("send", {"room_id": room_id, "body": body, "client_id": new_client_id()})
    assert ack["ok"], ack
    return dict(ack["message"])


@asynccontextmanager
async def cluster_on_own_redis(
    database_url: str, tmp_path: Path, redis_prefix: str, **settings: str
) -> AsyncIterator[tuple[Cluster, RedisProcess]]:
    """Two processes on a redis-server of the test's own, for tests that stop or pause it."""
    redis = RedisProcess(free_port())
    await redis.start()
    try:
        async for cluster in start_cluster(
            database_url, tmp_path, redis.url, redis_prefix, **settings
        ):
            yield cluster, redis
    finally:
        await redis.stop()


async def in_room(
    peer: PeerFactory, room_id: int, *seats: tuple[Person, ServerProcess]
) -> list[Peer]:
    """Connect each person to the given process and join the room (each join must succeed)."""
    connected = []
    for person, process in seats:
        connection = await peer(person.token, process.url)
        await joined(connection, room_id)
        connected.append(connection)
    return connected


async def split_across(cluster: Cluster, peer: PeerFactory) -> list[Peer]:
    """pat_ana and pat_avi on process A, mod_lee on process B, all in group A."""
    people = cluster.community
    return await in_room(
        peer,
        people.group_a,
        (people.pat_ana, cluster.a),
        (people.pat_avi, cluster.a),
        (people.mod_lee, cluster.b),
    )


def ids_of(messages: list[dict[str, object]]) -> list[object]:
    return [message["id"] for message in messages]


async def join_code(peer: Peer, room_id: int) -> str | None:
    ack = await peer.call("join", {"room_id": room_id})
    return None if ack["ok"] else str(ack["error"]["code"])


async def send_code(peer: Peer, room_id: int) -> str | None:
    """The error code of a send attempt; None when it was stored."""
    ack = await peer.call(
        "send", {"room_id": room_id, "body": "hello", "client_id": new_client_id()}
    )
    return None if ack["ok"] else str(ack["error"]["code"])


async def typing_code(peer: Peer, room_id: int) -> str | None:
    """The error code of a typing signal; None when the socket is in the room."""
    ack = await peer.call("typing", {"room_id": room_id})
    return None if ack["ok"] else str(ack["error"]["code"])


async def out_of_room(peer: Peer, room_id: int) -> None:
    """Wait until the process holding this socket has taken it out of the room. A notice or
    a presence change seen meanwhile proves less: the notice travels on another channel than
    the control bus message that removes the socket, and a process stalled past the presence
    TTL has its users announced offline by the other while their sockets are still in."""
    await eventually(lambda: typing_code(peer, room_id), "forbidden")


async def close_before_stopping(*peers: Peer) -> None:
    """Disconnect before the cluster stops (the `peer` fixture would after): a process told
    to stop with sockets still open takes seconds longer to go."""
    for each in peers:
        await each.disconnect()


async def seats_in(cluster: Cluster, room_id: int) -> int:
    """How many connections, on any process, Redis counts in the room (redis_store.py)."""
    client = Redis.from_url(cluster.redis_url)
    try:
        return int(await client.hlen(f"{cluster.redis_prefix}:presence:room:{room_id}:seats"))
    finally:
        await client.aclose()


async def online_ids(api: Api, room_id: int, token: str) -> list[int]:
    reply = await api.get(f"/api/rooms/{room_id}/presence", token)
    return [user["id"] for user in reply.body["online"]]


async def eventually(
    read: Callable[[], Awaitable[object]], expected: object, timeout: float = 10.0
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    last = None
    while asyncio.get_running_loop().time() < deadline:
        last = await read()
        if last == expected:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"still {last!r}, expected {expected!r}")
