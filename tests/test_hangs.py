"""A dependency that hangs rather than stops (SIGSTOP: its connections stay open and nothing
answers), under traffic: every send is still acknowledged in bounded time, nothing acked is
lost or delivered twice, and delivery across processes is complete once it answers again.

Each test runs a redis-server (or PostgreSQL cluster) of its own, never the shared ones."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from server.settings import Settings
from tests.cluster import (
    Cluster,
    close_before_stopping,
    cluster_on_own_redis,
    split_across,
    start_cluster,
)
from tests.conftest import PeerFactory
from tests.pg_cluster import PgCluster
from tests.support import Peer, message_ids, new_client_id, stored_messages, with_id

pytestmark = pytest.mark.persistence

# The deadlines a server ships with (other tests run with lenient ones: tests/support.py).
SHIPPED_DEADLINES = {
    name: str(Settings.model_fields[name].default)
    for name in ("event_deadline_s", "send_deadline_s")
}
SEND_EVERY_S = 0.05
# Longer than every deadline a send or an event can meet (event_deadline_s, 3 s), so sends
# made early in the hang are answered before it ends.
HANG_S = 5.0
# Traffic goes on this long after the hang ends: sends are seen to recover.
AFTER_S = 3.0
# The command timeout (0.5 s by default) is the longest a send can wait on a hung Redis: the
# first calls after it hangs wait it out, and the circuit breaker spares every later one. A
# send is answered within its deadline (0.8 s) plus that; the rest of the bound is room for a
# busy machine (1.77 s was seen with the suite and more running on two cores), still well
# short of the hang: an answer that waited for the hang to end would take over 5 s.
ACK_BOUND_S = 2.5


@dataclass(frozen=True)
class Sent:
    payload: dict[str, Any]
    seconds: float  # until the ack
    ack: Any


async def timed_send(peer: Peer, room_id: int, body: str) -> Sent:
    payload = {"room_id": room_id, "body": body, "client_id": new_client_id()}
    started = time.monotonic()
    ack = await peer.call("send", payload)
    return Sent(payload, time.monotonic() - started, ack)


async def traffic(peer: Peer, room_id: int, seconds: float) -> list[Sent]:
    """A send every SEND_EVERY_S for `seconds`, each on its own (a slow ack holds no other
    back), answered in the order they went out."""
    sends: list[asyncio.Task[Sent]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sends.append(asyncio.create_task(timed_send(peer, room_id, f"send {len(sends)}")))
        await asyncio.sleep(SEND_EVERY_S)
    return list(await asyncio.gather(*sends))


def check_bounded(results: list[Sent]) -> None:
    latencies = sorted(sent.seconds for sent in results)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    assert latencies[-1] <= ACK_BOUND_S, f"slowest ack {latencies[-1]:.2f} s, p99 {p99:.2f}"


async def test_a_redis_hang_under_traffic_bounds_every_ack_and_loses_nothing(
    database_url: str, tmp_path: Path, redis_prefix: str, peer: PeerFactory
) -> None:
    async with cluster_on_own_redis(database_url, tmp_path, redis_prefix, **SHIPPED_DEADLINES) as (
        cluster,
        redis,
    ):
        room = cluster.community.group_a
        ana, avi, lee = await split_across(cluster, peer)
        sending = asyncio.create_task(traffic(ana, room, 1 + HANG_S + AFTER_S))
        await asyncio.sleep(1)
        redis.pause()
        await asyncio.sleep(HANG_S)
        redis.resume()
        results = await sending

        check_bounded(results)
        refused = [sent for sent in results if not sent.ack.get("ok")]
        # Most sends are taken at once; the few queued behind the first one to wait out the
        # command timeout can pass their deadline on a starved machine, and are answered
        # `unavailable` (and stored anyway, or not): never anything else.
        assert {sent.ack["error"]["code"] for sent in refused} <= {"unavailable"}, refused
        assert len(refused) < len(results) // 10, refused
        # Those published while Redis hung reach Lee, on the other process, by the catch-up
        # (realtime/redis.py, rooms/catch_up.py).
        await check_stored_once_and_delivered(cluster, ana, results, refused, (lee, avi))
        await close_before_stopping(ana, avi, lee)


async def test_a_database_hang_under_traffic_bounds_every_ack_and_half_writes_nothing(
    tmp_path: Path, redis_url: str, redis_prefix: str, peer: PeerFactory
) -> None:
    pg = PgCluster(tmp_path)
    await pg.start()
    try:
        # Two processes on that database (sharing Redis, which does not hang here).
        async for cluster in start_cluster(
            pg.url, tmp_path, redis_url, redis_prefix, **SHIPPED_DEADLINES
        ):
            await database_hang_scenario(cluster, pg, peer)
    finally:
        await pg.stop()


async def send_until_taken(
    peer: Peer, payload: dict[str, Any], attempts: int = 5
) -> dict[str, Any]:
    """A send tried again with the same client_id while it is answered `unavailable`."""
    ack: dict[str, Any] = {}
    for _ in range(attempts):
        ack = await peer.call("send", payload)
        if ack.get("ok") or ack["error"]["code"] != "unavailable":
            break
    return ack


async def database_hang_scenario(cluster: Cluster, pg: PgCluster, peer: PeerFactory) -> None:
    room = cluster.community.group_a
    ana, avi, lee = await split_across(cluster, peer)
    sending = asyncio.create_task(traffic(ana, room, 1 + HANG_S + AFTER_S))
    await asyncio.sleep(1)
    pg.pause()
    await asyncio.sleep(1)
    started = time.monotonic()
    ready = await cluster.api_a.get("/readyz")
    readyz_s = time.monotonic() - started
    await asyncio.sleep(HANG_S - 1)
    pg.resume()
    results = await sending

    check_bounded(results)
    assert readyz_s < 1.0 and ready.status == 503, (readyz_s, ready)
    assert ready.body["error"]["failing"] == ["database"]
    refused = [sent for sent in results if not sent.ack.get("ok")]
    assert refused, "the hang refused nothing: was the database paused?"
    # Not done in time (`unavailable`), or refused at once once the sends waiting on the
    # database reach the process's bound (`overloaded`, nothing done).
    assert {sent.ack["error"]["code"] for sent in refused} <= {"unavailable", "overloaded"}

    await check_stored_once_and_delivered(cluster, ana, results, refused, (lee, avi))
    await close_before_stopping(ana, avi, lee)


async def check_stored_once_and_delivered(
    cluster: Cluster,
    sender: Peer,
    results: list[Sent],
    refused: list[Sent],
    receivers: tuple[Peer, ...],
) -> None:
    """Sent again with the same client_id, each refused send is stored once: now, or by the
    first attempt if it went on past its deadline and got through later. As the client does:
    an `unavailable` retry (a dependency still working off what the hang held back) is sent
    again, a few times at most. Then every stored message reaches every receiver, on either
    process, once."""
    retried = [await send_until_taken(sender, sent.payload) for sent in refused]
    assert all(ack["ok"] for ack in retried), retried
    stored = await stored_messages(
        cluster.api_b, cluster.community.admin.token, cluster.community.group_a
    )
    client_ids = [message["client_id"] for message in stored]
    assert sorted(client_ids) == sorted(set(client_ids)), "a send was stored twice"
    assert {sent.payload["client_id"] for sent in results} <= set(client_ids)
    first_time = [sent.ack["message"]["id"] for sent in results if sent.ack.get("ok")]
    assert set(first_time) <= {message["id"] for message in stored}

    for message in stored:
        await receivers[0].wait_for("message", with_id(message["id"]), timeout=15)
    await cluster.barrier(*receivers)
    for receiver in receivers:
        assert sorted(message_ids(receiver)) == sorted(m["id"] for m in stored)
