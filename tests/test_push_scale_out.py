"""Web Push with two server processes on one database and one Redis: each notification goes
out once, though both look for due reminders and both hear of alerts."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from tests.cluster import Cluster
from tests.conftest import PeerFactory
from tests.push_service import PushService
from tests.support import FakeClock, daily_meeting, joined, try_send
from tests.test_push import CRISIS

# Long enough for both processes' reminder loops to have looked several times.
SEVERAL_TICKS_S = 2.0


@pytest.fixture
def cluster_overrides() -> dict[str, str]:
    return {
        "push_service_hosts": json.dumps(["127.0.0.1"]),
        "push_allow_http": "true",
        "reminder_tick_s": "0.2",
    }


async def test_a_reminder_and_an_alert_are_pushed_once_by_two_processes(
    cluster: Cluster, push_service: PushService, peer: PeerFactory
) -> None:
    c = cluster.community
    for person, name, api in ((c.pat_ana, "ana", cluster.api_a), (c.mod_lee, "lee", cluster.api_b)):
        reply = await api.post(
            "/api/me/push-subscriptions", push_service.browser(name).subscription(), person.token
        )
        assert reply.status == 201, reply.body
    # Eleven minutes from now, to the minute (the processes keep real time): inside Ana's 15.
    await daily_meeting(cluster.api_a, c, FakeClock(), timedelta(minutes=11))
    ana = await peer(c.pat_ana.token, cluster.a.url)
    await joined(ana, c.group_a)
    await try_send(ana, c.group_a, CRISIS)
    await asyncio.sleep(SEVERAL_TICKS_S)
    assert [p["kind"] for p in push_service.pushes("ana")] == ["reminder"], push_service.received
    assert [p["kind"] for p in push_service.pushes("lee")] == ["crisis_alert"], (
        push_service.received
    )
