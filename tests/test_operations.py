"""Health, readiness and metrics, as an operator's probes and Prometheus see them."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp

from tests.conftest import PeerFactory
from tests.processes import RedisProcess, free_port
from tests.support import (
    Api,
    Community,
    FakeClock,
    RunningServer,
    joined,
    scrape_metrics,
    send,
    server_settings,
    start_server,
)


async def scrape(server: RunningServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return await scrape_metrics(server.url)


async def test_health_and_readiness(server: RunningServer, api: Api) -> None:
    health = await api.get("/healthz")
    assert (health.status, health.body) == (200, {"status": "ok"})
    ready = await api.get("/readyz")
    expected = {"status": "ready", "checked": ["database"], "degraded": {}}
    assert (ready.status, ready.body) == (200, expected)


async def test_readiness_names_redis_when_it_is_down(
    database_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    settings = server_settings(
        database_url, tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0"
    )
    server = await start_server(settings, clock)
    try:
        async with aiohttp.ClientSession() as session:
            ready = await Api(server.url, session).get("/readyz")
    finally:
        await server.stop()
    assert ready.status == 503
    assert ready.body["error"]["code"] == "unavailable"
    assert ready.body["error"]["failing"] == ["redis"]
    assert "redis" in ready.body["error"]["message"]


async def test_readiness_answers_within_a_second_while_redis_hangs(
    database_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    redis = RedisProcess(free_port())
    await redis.start()
    server = await start_server(server_settings(database_url, tmp_path, redis_url=redis.url), clock)
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(server.url, session)
            assert (await api.get("/readyz")).status == 200
            redis.pause()  # SIGSTOP: connections stay open, nothing answers
            started = time.monotonic()
            hung = await api.get("/readyz")
            took = time.monotonic() - started
            redis.resume()
            assert (await api.get("/readyz")).status == 200
    finally:
        await server.stop()
        await redis.stop()
    assert took < 1.0, f"/readyz took {took:.2f} s"
    assert hung.status == 503, hung.body
    assert hung.body["error"]["failing"] == ["redis"]
    assert hung.body["error"]["problems"] == {"redis": "did not answer within 0.5 s"}


async def test_metrics_count_what_happened(
    server: RunningServer, community: Community, peer: PeerFactory
) -> None:
    before = await scrape(server)
    ana = await peer(community.pat_ana.token)
    avi = await peer(community.pat_avi.token)
    lee = await peer(community.mod_lee.token)
    for connection in (ana, avi, lee):
        await joined(connection, community.group_a)
    await send(ana, community.group_a, "good evening everyone")
    await send(avi, community.group_a, "i want to kill myself")
    await lee.wait_for("alert")

    after = await scrape(server)
    assert after[("peerrooms_connected_sockets", ())] == 3
    assert after[("peerrooms_room_memberships", ())] == 3
    stored = ("peerrooms_messages_stored_total", ())
    assert after[stored] - before.get(stored, 0) == 2
    # two messages to three joined sockets
    assert after[("peerrooms_fanout_deliveries_total", ())] >= 6
    assert after[("peerrooms_event_seconds_count", (("event", "send"),))] == 2
    assert after[("peerrooms_event_seconds_count", (("event", "join"),))] == 3
    assert after[("peerrooms_filter_hits_total", (("kind", "crisis"),))] == 1
    assert after[("peerrooms_open_alerts", ())] == 1
    assert after[("peerrooms_redis_errors", ())] == 0
