"""Several server processes sharing one database and one Redis act as one service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from tests.conftest import PeerFactory
from tests.processes import RedisProcess, ServerProcess, create_admin, free_port, server_env
from tests.support import (
    PASSWORD,
    Api,
    Community,
    Peer,
    Person,
    barrier_through_redis,
    build_community_as,
    joined,
    new_client_id,
    sign_in,
    with_id,
)

pytestmark = pytest.mark.slow

PRESENCE_TTL_S = 3


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
    env = server_env(
        database_url,
        tmp_path,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        presence_ttl_s=str(PRESENCE_TTL_S),
        **settings,
    )
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
            community = await build_community_as(api_a, await sign_in(api_a, "admin"))
            yield Cluster(a, b, api_a, api_b, community, redis_url, redis_prefix)
    finally:
        for process in processes:
            await process.stop()


@pytest.fixture
async def cluster(
    database_url: str, tmp_path: Path, redis_url: str, redis_prefix: str
) -> AsyncIterator[Cluster]:
    async for started in start_cluster(database_url, tmp_path, redis_url, redis_prefix):
        yield started


async def send(peer: Peer, room_id: int, body: str) -> dict[str, Any]:
    ack = await peer.call("send", {"room_id": room_id, "body": body, "client_id": new_client_id()})
    assert ack["ok"], ack
    return dict(ack["message"])


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


def ids_of(messages: list[dict[str, object]]) -> list[object]:
    return [message["id"] for message in messages]


async def test_users_on_two_processes_chat_both_ways(cluster: Cluster, peer: PeerFactory) -> None:
    people, room = cluster.community, cluster.community.group_a
    ana, avi = await in_room(peer, room, (people.pat_ana, cluster.a), (people.pat_avi, cluster.b))

    from_a = await send(ana, room, "hello from process A")
    from_b = await send(avi, room, "hello from process B")
    for receiver in (ana, avi):
        for sent in (from_a, from_b):
            await receiver.wait_for("message", with_id(sent["id"]))
    await cluster.barrier(ana, avi)
    assert ids_of(ana.received("message")) == [from_a["id"], from_b["id"]]
    assert ids_of(avi.received("message")) == [from_a["id"], from_b["id"]]


async def test_presence_and_online_lists_agree_on_both_processes(
    cluster: Cluster, peer: PeerFactory
) -> None:
    people, room = cluster.community, cluster.community.group_a
    ana = await peer(people.pat_ana.token, cluster.a.url)
    await ana.call("join", {"room_id": room})
    avi = await peer(people.pat_avi.token, cluster.b.url)
    joined = await avi.call("join", {"room_id": room})
    assert [user["id"] for user in joined["online"]] == sorted(
        [people.pat_ana.id, people.pat_avi.id]
    )
    online = await ana.wait_for("presence", lambda p: p["status"] == "online")
    assert online["user"] == {"id": people.pat_avi.id, "display_name": "Avi", "role": "patient"}

    # A second tab of Avi's, on the other process, is not news; nor is closing it.
    second_tab = await peer(people.pat_avi.token, cluster.a.url)
    await second_tab.call("join", {"room_id": room})
    await second_tab.disconnect()
    # A disconnect has no answer: process A has handled it once the tab's seat is gone.
    await eventually(lambda: seats_in(cluster, room), 2)
    await cluster.barrier(ana)
    assert len(ana.received("presence")) == 1

    for api in (cluster.api_a, cluster.api_b):
        reply = await api.get(f"/api/rooms/{room}/presence", people.mod_lee.token)
        assert [user["id"] for user in reply.body["online"]] == sorted(
            [people.pat_ana.id, people.pat_avi.id]
        )
        rooms = await api.get("/api/rooms", people.pat_ana.token)
        counts = {r["id"]: r["online_count"] for r in rooms.body["rooms"]}
        assert counts[room] == 2

    await avi.disconnect()
    offline = await ana.wait_for("presence", lambda p: p["status"] == "offline")
    assert offline["user"]["id"] == people.pat_avi.id


async def test_graduation_through_one_process_closes_the_room_on_the_other(
    cluster: Cluster, peer: PeerFactory
) -> None:
    people, room = cluster.community, cluster.community.group_a
    ana, avi = await in_room(peer, room, (people.pat_ana, cluster.b), (people.pat_avi, cluster.b))

    reply = await cluster.api_a.post(
        f"/api/users/{people.pat_ana.id}/graduate", token=people.mod_lee.token
    )
    assert reply.status == 200, reply.body
    await ana.wait_for("notice", lambda n: n["kind"] == "graduated")
    await avi.wait_for("presence", lambda p: p["status"] == "offline")

    after = await send(avi, room, "said after Ana graduated")
    await avi.wait_for("message", lambda m: m["id"] == after["id"])
    await cluster.barrier(ana)
    assert after["id"] not in ids_of(ana.received("message"))


async def test_a_kick_through_one_process_removes_the_socket_on_the_other(
    cluster: Cluster, peer: PeerFactory
) -> None:
    people, room = cluster.community, cluster.community.group_a
    ana, avi, lee = await in_room(
        peer,
        room,
        (people.pat_ana, cluster.b),
        (people.pat_avi, cluster.b),
        (people.mod_lee, cluster.a),
    )

    reply = await cluster.api_a.post(
        f"/api/rooms/{room}/kicks",
        {"user_id": people.pat_ana.id, "reason": "testing a kick"},
        token=people.mod_lee.token,
    )
    assert reply.status == 201, reply.body
    await ana.wait_for("notice", lambda n: n["kind"] == "kicked" and n["room_id"] == room)
    await lee.wait_for(
        "presence", lambda p: p["status"] == "offline" and p["user"]["id"] == people.pat_ana.id
    )

    after = await send(avi, room, "said after the kick")
    await lee.wait_for("message", lambda m: m["id"] == after["id"])
    await cluster.barrier(ana)
    assert after["id"] not in ids_of(ana.received("message"))
    assert await online_ids(cluster.api_b, room, people.mod_lee.token) == sorted(
        [people.pat_avi.id, people.mod_lee.id]
    )


async def test_a_mute_and_a_ban_through_one_process_hold_on_the_other(
    cluster: Cluster, peer: PeerFactory
) -> None:
    """Each process keeps a room's restrictions in memory; a change made on A reaches B's
    copy over the control bus."""
    people, room = cluster.community, cluster.community.group_a
    ana, avi = await in_room(peer, room, (people.pat_ana, cluster.b), (people.pat_avi, cluster.b))
    await send(ana, room, "said before the mute")  # B has now read the room's restrictions

    muted = await cluster.api_a.post(
        f"/api/rooms/{room}/mutes",
        {"user_id": people.pat_ana.id, "minutes": 30, "reason": "testing a mute"},
        token=people.mod_lee.token,
    )
    assert muted.status == 201, muted.body
    await ana.wait_for("notice", lambda n: n["kind"] == "muted")
    await eventually(lambda: send_code(ana, room), "muted", timeout=2.0)
    assert await send_code(avi, room) is None  # only Ana

    lifted = await cluster.api_a.call(
        "DELETE", f"/api/rooms/{room}/mutes/{people.pat_ana.id}", token=people.mod_lee.token
    )
    assert lifted.status == 204, lifted.body
    await eventually(lambda: send_code(ana, room), None, timeout=2.0)

    banned = await cluster.api_a.post(
        f"/api/rooms/{room}/bans",
        {"user_id": people.pat_ana.id, "reason": "testing a ban"},
        token=people.mod_lee.token,
    )
    assert banned.status == 201, banned.body
    await ana.wait_for("notice", lambda n: n["kind"] == "banned")
    await eventually(lambda: join_code(ana, room), "banned", timeout=2.0)
    history = await cluster.api_b.get(f"/api/rooms/{room}/messages", people.pat_ana.token)
    assert history.error_code == "banned", history.body


async def test_a_room_locked_through_one_process_is_locked_on_the_other(
    cluster: Cluster, peer: PeerFactory
) -> None:
    """Each process keeps the rooms its sends read in memory; a change made on A reaches B's
    copy over the control bus."""
    people, room = cluster.community, cluster.community.group_a
    (ana,) = await in_room(peer, room, (people.pat_ana, cluster.b))
    assert await send_code(ana, room) is None  # B now keeps the room

    for locked, expected in ((True, "room_locked"), (False, None)):
        changed = await cluster.api_a.call(
            "PATCH", f"/api/rooms/{room}", token=people.mod_lee.token, json={"locked": locked}
        )
        assert changed.status == 200, changed.body
        await eventually(lambda: send_code(ana, room), expected, timeout=2.0)


async def join_code(peer: Peer, room_id: int) -> str | None:
    ack = await peer.call("join", {"room_id": room_id})
    return None if ack["ok"] else str(ack["error"]["code"])


async def send_code(peer: Peer, room_id: int) -> str | None:
    """The error code of a send attempt; None when it was stored."""
    ack = await peer.call(
        "send", {"room_id": room_id, "body": "hello", "client_id": new_client_id()}
    )
    return None if ack["ok"] else str(ack["error"]["code"])


async def test_a_killed_processs_users_go_offline_on_the_other_in_time(
    cluster: Cluster, peer: PeerFactory
) -> None:
    people, room = cluster.community, cluster.community.group_a
    ana, avi = await in_room(peer, room, (people.pat_ana, cluster.a), (people.pat_avi, cluster.b))

    await cluster.a.kill()
    offline = await avi.wait_for(
        "presence",
        lambda p: p["status"] == "offline" and p["user"]["id"] == people.pat_ana.id,
        timeout=PRESENCE_TTL_S + 1.0,
    )
    assert offline["room_id"] == room
    reply = await cluster.api_b.get(f"/api/rooms/{room}/presence", people.mod_lee.token)
    assert [user["id"] for user in reply.body["online"]] == [people.pat_avi.id]


async def test_a_client_reconnecting_to_the_other_process_misses_nothing(
    cluster: Cluster, peer: PeerFactory
) -> None:
    people, room = cluster.community, cluster.community.group_a
    ana, avi = await in_room(peer, room, (people.pat_ana, cluster.a), (people.pat_avi, cluster.b))
    seen = await send(avi, room, "before the drop")
    await ana.wait_for("message", lambda m: m["id"] == seen["id"])
    await ana.disconnect()

    missed = [await send(avi, room, f"while away {n}") for n in range(300)]

    back = await peer(people.pat_ana.token, cluster.b.url)
    caught_up: list[dict[str, object]] = []
    since = seen["id"]
    while True:
        joined = await back.call("join", {"room_id": room, "since": since})
        assert joined["ok"], joined
        caught_up += joined["messages"]
        if not joined["has_more"]:
            break
        since = joined["messages"][-1]["id"]
    assert ids_of(caught_up) == ids_of(missed)
    assert [m["body"] for m in caught_up] == [f"while away {n}" for n in range(300)]


async def test_the_send_rate_limit_holds_across_processes(
    database_url: str, tmp_path: Path, redis_url: str, redis_prefix: str, peer: PeerFactory
) -> None:
    limits = {"rate_limit_per_minute": "6", "rate_limit_burst": "3"}
    async for cluster in start_cluster(database_url, tmp_path, redis_url, redis_prefix, **limits):
        people, room = cluster.community, cluster.community.group_a
        on_a = await peer(people.pat_ana.token, cluster.a.url)
        on_b = await peer(people.pat_ana.token, cluster.b.url)
        for n, connection in enumerate([on_a, on_b, on_a]):
            await send(connection, room, f"within the burst {n}")
        refused = await on_b.call(
            "send", {"room_id": room, "body": "one too many", "client_id": new_client_id()}
        )
        assert refused["ok"] is False
        assert refused["error"]["code"] == "rate_limited"
        assert refused["error"]["retry_after_s"] >= 1
        await close_before_stopping(on_a, on_b)


async def test_sends_go_on_through_a_redis_outage_and_sharing_recovers(
    database_url: str, tmp_path: Path, redis_prefix: str, peer: PeerFactory
) -> None:
    redis = RedisProcess(free_port())
    await redis.start()
    try:
        async for cluster in start_cluster(database_url, tmp_path, redis.url, redis_prefix):
            await outage_scenario(cluster, redis, peer)
    finally:
        await redis.stop()


async def outage_scenario(cluster: Cluster, redis: RedisProcess, peer: PeerFactory) -> None:
    people, room = cluster.community, cluster.community.group_a
    ana, avi, lee = await in_room(
        peer,
        room,
        (people.pat_ana, cluster.a),
        (people.pat_avi, cluster.a),
        (people.mod_lee, cluster.b),
    )

    await redis.stop()
    during = [await send(ana, room, f"during the outage {n}") for n in range(5)]
    for sent in during:
        await avi.wait_for("message", with_id(sent["id"]))

    await redis.start()  # empty: Redis kept nothing on disk
    expected_online = sorted([people.pat_ana.id, people.pat_avi.id, people.mod_lee.id])
    await eventually(lambda: online_ids(cluster.api_b, room, people.mod_lee.token), expected_online)

    # Cross-process delivery is back, and what Lee on process B missed while it was down
    # arrives too (rooms/catch_up.py): every message once, on both processes.
    after = await send(ana, room, "after the outage")
    for sent in [*during, after]:
        await lee.wait_for("message", with_id(sent["id"]), timeout=10)
    # The catch-up hands a room its missed messages in one go, with nothing to wait on in
    # between, so once the last of them is here, so is any repeat it would send.
    await cluster.barrier(lee, avi)
    assert delivered_ids(lee).count(after["id"]) == 1
    for receiver in (lee, avi):
        assert all(delivered_ids(receiver).count(sent["id"]) == 1 for sent in during)

    history = await cluster.api_b.get(f"/api/rooms/{room}/messages", people.mod_lee.token)
    stored = ids_of(history.body["messages"])
    assert all(sent["id"] in stored for sent in [*during, after])

    # One line when the outage began, not one per message; and nothing crashed.
    log_a = cluster.a.log_path.read_text()
    assert log_a.count("Redis is unreachable") == 1, log_a
    assert "Traceback" not in log_a, log_a
    await close_before_stopping(ana, avi, lee)


async def close_before_stopping(*peers: Peer) -> None:
    """Disconnect before the cluster stops (the `peer` fixture would after): a process told
    to stop with sockets still open takes seconds longer to go."""
    for each in peers:
        await each.disconnect()


def delivered_ids(receiver: Peer) -> list[int]:
    return [message["id"] for message in receiver.received("message")]


async def test_the_typing_throttle_holds_across_processes(
    cluster: Cluster, peer: PeerFactory
) -> None:
    people, room = cluster.community, cluster.community.group_a
    lee, ana_on_a, ana_on_b = await in_room(
        peer,
        room,
        (people.mod_lee, cluster.a),
        (people.pat_ana, cluster.a),
        (people.pat_ana, cluster.b),
    )

    assert (await ana_on_a.call("typing", {"room_id": room}))["ok"]
    assert (await ana_on_b.call("typing", {"room_id": room}))["ok"]
    await lee.wait_for("typing")
    await cluster.barrier(lee)
    assert len(lee.received("typing")) == 1


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


async def test_sign_in_throttling_holds_across_processes(cluster: Cluster) -> None:
    """The failures counted on one process hold the account on the other (Redis buckets)."""
    ana = cluster.community.pat_ana
    for n, api in enumerate([cluster.api_a, cluster.api_b] * 3):
        wrong = await api.post(
            "/api/auth/login", {"username": ana.username, "password": f"wrong guess {n}"}
        )
        expected = 401 if n < 5 else 429
        assert wrong.status == expected, (n, wrong.body)
    for api in (cluster.api_a, cluster.api_b):
        held = await api.post("/api/auth/login", {"username": ana.username, "password": PASSWORD})
        assert held.error_code == "rate_limited", held.body


async def test_signing_out_on_one_process_closes_the_socket_on_the_other(
    cluster: Cluster, peer: PeerFactory
) -> None:
    ana = cluster.community.pat_ana
    on_b = await peer(ana.token, cluster.b.url)
    await joined(on_b, cluster.community.group_a)
    reply = await cluster.api_a.post("/api/auth/logout", token=ana.token)
    assert reply.status == 204, reply.body

    async def closed() -> bool:
        return not on_b.client.connected

    await eventually(closed, True)
    for api in (cluster.api_a, cluster.api_b):
        assert (await api.get("/api/me", token=ana.token)).status == 401
