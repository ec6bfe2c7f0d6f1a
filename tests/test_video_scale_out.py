"""Video calls with two server processes on one database and one Redis, and one Janus (in a
network namespace of the test's own, tests/janus.py): a pass handed out by one process is
revoked by a ban heard on the other, at once."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest

from tests.cluster import Cluster
from tests.conftest import PeerFactory
from tests.janus import JanusServer
from tests.support import FakeClock, ban, daily_meeting, joined
from tests.test_video import (
    feeds_in,
    in_the_call,
    meeting_room,
    opens_a_session,
    video_pass,
)


@pytest.fixture
def cluster_overrides(janus: JanusServer) -> dict[str, str]:
    return janus.settings()


async def test_a_ban_heard_on_one_process_puts_out_a_pass_from_the_other(
    cluster: Cluster, janus: JanusServer, peer: PeerFactory
) -> None:
    c = cluster.community
    # The processes keep real time; the session started ten minutes ago.
    meeting = await daily_meeting(cluster.api_a, c, FakeClock(), -timedelta(minutes=10))
    room = await meeting_room(cluster.api_a, c)
    ana_socket = await peer(c.pat_ana.token, cluster.b.url)
    await joined(ana_socket, room)
    granted = await video_pass(cluster.api_b, c.pat_ana, meeting)
    assert granted.status == 201, granted.body
    ana = granted.body["video"]
    async with aiohttp.ClientSession() as http:
        await in_the_call(janus, http, ana)
        assert await feeds_in(janus, http, ana["room"]) == {ana["feed_id"]}

        await ban(cluster.api_a, c, room, c.pat_ana.id)
        assert await feeds_in(janus, http, ana["room"]) == set()
        assert not await opens_a_session(janus, ana["token"])
    told = await ana_socket.wait_for("notice", lambda n: n.get("kind") == "banned")
    assert told["room_id"] == room, told
    again = await video_pass(cluster.api_b, c.pat_ana, meeting)
    assert again.status == 403 and again.error_code == "banned", again.body
