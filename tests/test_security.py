"""Rights that hold on live sockets and in every view of a room: what an outside probe found
could be dodged (each test failed on the code before its fix)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import PeerFactory
from tests.support import (
    Api,
    Community,
    Peer,
    barrier,
    joined,
    refused,
    send,
)

pytestmark = pytest.mark.persistence


def message_ids(peer: Peer) -> list[int]:
    return [m["id"] for m in peer.received("message")]


async def ban(api: Api, c: Community, room_id: int, user_id: int) -> None:
    reply = await api.post(
        f"/api/rooms/{room_id}/bans",
        {"user_id": user_id, "reason": "testing"},
        token=c.mod_lee.token,
    )
    assert reply.status == 201, reply.body


async def raw_event(peer: Peer, event: str, *args: Any) -> Any:
    """An ordinary event frame with this name and arguments (`42["connect",{},{...}]`), as
    any client can write one."""
    return await peer.client.call(event, args, timeout=5)


async def test_a_client_sent_connect_event_is_refused_and_a_ban_still_removes_the_socket(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    avi = await peer(c.pat_avi.token)
    for each in (ana, avi):
        await joined(each, c.group_a)

    # The frame that used to reach the real connect handler and replace the socket's record
    # (losing its rooms), with another person's token for good measure.
    refused(await raw_event(ana, "connect", {}, {"token": c.pat_avi.token}), "invalid")
    refused(await raw_event(ana, "connect", {}, {"token": c.pat_ana.token}), "invalid")
    me = await ana.call("join", {"room_id": c.commons})
    assert me["ok"], me

    await ban(api, c, c.group_a, c.pat_ana.id)
    await ana.wait_for("notice", lambda n: n["kind"] == "banned")
    after = await send(avi, c.group_a, "said after the ban")
    await avi.wait_for("message", lambda m: m["id"] == after["id"])
    await barrier(ana)
    assert after["id"] not in message_ids(ana)


async def test_a_client_sent_disconnect_event_is_refused_and_the_socket_stays_itself(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    lee = await peer(c.mod_lee.token)
    for each in (ana, lee):
        await joined(each, c.group_a)

    refused(await raw_event(ana, "disconnect", "client namespace disconnect"), "invalid")
    # Still registered: her sends are hers, and her presence did not end.
    said = await send(ana, c.group_a, "still here")
    await lee.wait_for("message", lambda m: m["id"] == said["id"])
    await barrier(lee)
    assert not [p for p in lee.received("presence") if p["status"] == "offline"]
    online = await api.get(f"/api/rooms/{c.group_a}/presence", token=c.mod_lee.token)
    assert c.pat_ana.id in [u["id"] for u in online.body["online"]]

    # And when she really goes, she goes.
    await ana.disconnect()
    gone = await lee.wait_for("presence", lambda p: p["status"] == "offline")
    assert gone["user"]["id"] == c.pat_ana.id
