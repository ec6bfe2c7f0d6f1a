"""Rights and limits hold across server processes: graduation, kicks, mutes, bans, locks, the
send limit, sign-in throttling and sign-out, each done through one process and felt on the
other."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import (
    Cluster,
    close_before_stopping,
    eventually,
    ids_of,
    in_room,
    join_code,
    online_ids,
    out_of_room,
    send,
    send_code,
    start_cluster,
)
from tests.conftest import PeerFactory
from tests.support import (
    PASSWORD,
    joined,
    new_client_id,
)

pytestmark = pytest.mark.slow


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
    await avi.wait_for(
        "presence", lambda p: p["status"] == "offline" and p["user"]["id"] == people.pat_ana.id
    )
    await out_of_room(ana, room)

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
    await out_of_room(ana, room)

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
    await eventually(lambda: send_code(ana, room), "muted")
    assert await send_code(avi, room) is None  # only Ana

    lifted = await cluster.api_a.call(
        "DELETE", f"/api/rooms/{room}/mutes/{people.pat_ana.id}", token=people.mod_lee.token
    )
    assert lifted.status == 204, lifted.body
    await eventually(lambda: send_code(ana, room), None)

    banned = await cluster.api_a.post(
        f"/api/rooms/{room}/bans",
        {"user_id": people.pat_ana.id, "reason": "testing a ban"},
        token=people.mod_lee.token,
    )
    assert banned.status == 201, banned.body
    await ana.wait_for("notice", lambda n: n["kind"] == "banned")
    await eventually(lambda: join_code(ana, room), "banned")
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
        await eventually(lambda: send_code(ana, room), expected)


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


async def test_going_on_duty_through_one_process_is_what_an_alert_on_the_other_reaches(
    cluster: Cluster, peer: PeerFactory
) -> None:
    """Each process keeps the duty roster in memory; a change made on A reaches B's copy
    over the control bus (B read it at Ana's first alert, before Lee went on duty)."""
    people, room = cluster.community, cluster.community.group_a
    lee = await peer(people.mod_lee.token, cluster.a.url)
    (ana,) = await in_room(peer, room, (people.pat_ana, cluster.b))
    await cluster.barrier(lee)

    def told(reached: str) -> Callable[[dict[str, Any]], bool]:
        return lambda n: n["kind"] == "crisis_resources" and n["reached"] == reached

    await send(ana, room, "I want to kill myself")
    await ana.wait_for("notice", told("staff_online"))
    reply = await cluster.api_a.call(
        "PUT", "/api/duty", token=people.mod_lee.token, json={"on_duty": True}
    )
    assert reply.status == 200, reply.body
    await send(ana, room, "i took all my pills and i feel really strange")
    await ana.wait_for("notice", told("on_duty"))
