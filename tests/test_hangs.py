"""A dependency that hangs rather than stops (SIGSTOP: its connections stay open and nothing
answers), under traffic: every send is still acknowledged in bounded time, nothing acked is
lost or delivered twice, and delivery across processes is complete once it answers again.

Each test runs a redis-server (or PostgreSQL cluster) of its own, never the shared ones."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import close_before_stopping, cluster_on_own_redis, ids_of, split_across
from tests.conftest import PeerFactory
from tests.support import Peer, message_ids, new_client_id, with_id

pytestmark = pytest.mark.persistence

SEND_EVERY_S = 0.05
HANG_S = 10.0
# The command timeout (0.5 s by default) is the longest a send can wait on a hung Redis: the
# first calls after it hangs wait it out, and the circuit breaker spares every later one.
ACK_BOUND_S = 1.5


async def timed_send(peer: Peer, room_id: int, body: str) -> tuple[float, Any]:
    started = time.monotonic()
    ack = await peer.call("send", {"room_id": room_id, "body": body, "client_id": new_client_id()})
    return time.monotonic() - started, ack


async def traffic(peer: Peer, room_id: int, seconds: float) -> list[tuple[float, Any]]:
    """A send every SEND_EVERY_S for `seconds`, each on its own (a slow ack holds no other
    back), answered in the order they went out."""
    sends: list[asyncio.Task[tuple[float, Any]]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sends.append(asyncio.create_task(timed_send(peer, room_id, f"send {len(sends)}")))
        await asyncio.sleep(SEND_EVERY_S)
    return list(await asyncio.gather(*sends))


async def test_a_redis_hang_under_traffic_bounds_every_ack_and_loses_nothing(
    database_url: str, tmp_path: Path, redis_prefix: str, peer: PeerFactory
) -> None:
    async with cluster_on_own_redis(database_url, tmp_path, redis_prefix) as (cluster, redis):
        people, room = cluster.community, cluster.community.group_a
        ana, avi, lee = await split_across(cluster, peer)
        sending = asyncio.create_task(traffic(ana, room, HANG_S + 4))
        await asyncio.sleep(1)
        redis.pause()
        await asyncio.sleep(HANG_S)
        redis.resume()
        results = await sending

        acked = [ack["message"]["id"] for _, ack in results if ack.get("ok")]
        assert len(acked) == len(results), [ack for _, ack in results if not ack.get("ok")]
        latencies = sorted(seconds for seconds, _ in results)
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        assert latencies[-1] <= ACK_BOUND_S, f"slowest ack {latencies[-1]:.2f} s, p99 {p99:.2f}"

        # Lee, on the other process, gets every message once: those published while
        # Redis hung come by the catch-up (realtime/redis.py, rooms/catch_up.py).
        for message_id in acked:
            await lee.wait_for("message", with_id(message_id), timeout=15)
        await cluster.barrier(lee, avi)
        for receiver in (lee, avi):
            seen = message_ids(receiver)
            assert sorted(seen) == sorted(set(seen)), "a message was delivered twice"
            assert set(acked) <= set(seen)
        history = await cluster.api_b.get(
            f"/api/rooms/{room}/messages?limit=100", people.mod_lee.token
        )
        assert set(acked[-50:]) <= set(ids_of(history.body["messages"]))
        await close_before_stopping(ana, avi, lee)
