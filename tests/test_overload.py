"""Past the sends a process takes at once, a send is refused at once with `overloaded` and
nothing is done with it; crisis words are always taken (realtime/router.py: Admission)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import PeerFactory
from tests.support import (
    Api,
    Community,
    joined,
    new_client_id,
    stored_messages,
    with_settings,
)

CRISIS = "i want to kill myself tonight"
BURST = 30


def sends(room_id: int, count: int, label: str) -> list[dict[str, Any]]:
    return [
        {"room_id": room_id, "body": f"{label} {n}", "client_id": new_client_id()}
        for n in range(count)
    ]


@with_settings(send_max_in_flight=1, rate_limit_burst=1000, rate_limit_per_minute=60000)
async def test_a_burst_past_the_bound_is_refused_at_once_and_nothing_refused_is_stored(
    community: Community, api: Api, peer: PeerFactory
) -> None:
    c = community
    ana, avi, lee = [await peer(p.token) for p in (c.pat_ana, c.pat_avi, c.mod_lee)]
    for socket in (ana, avi, lee):
        await joined(socket, c.group_a)
    burst = {ana: sends(c.group_a, BURST, "ana"), avi: sends(c.group_a, BURST, "avi")}
    crisis = {"room_id": c.group_a, "body": CRISIS, "client_id": new_client_id()}

    calls = [socket.call("send", p) for socket, payloads in burst.items() for p in payloads]
    calls.insert(BURST // 2, ana.call("send", crisis))
    acks = await asyncio.gather(*calls)
    crisis_ack = acks[BURST // 2]

    payloads = [p for payloads in burst.values() for p in payloads]
    payloads.insert(BURST // 2, crisis)
    taken = {p["client_id"] for p, ack in zip(payloads, acks, strict=True) if ack["ok"]}
    refused = [(p, ack["error"]) for p, ack in zip(payloads, acks, strict=True) if not ack["ok"]]
    assert refused, "a burst of sixty sends to a process that takes one at a time"
    for _payload, error in refused:
        assert error["code"] == "overloaded", error
        assert error["retry_after_s"] >= 1
    # Crisis words are never turned away.
    assert crisis["client_id"] in taken

    stored = await stored_messages(api, c.mod_lee.token, c.group_a)
    stored_ids = {m["client_id"] for m in stored}
    assert taken <= stored_ids
    assert not stored_ids & {p["client_id"] for p, _ in refused}

    # Sent again with the same client_ids once the burst is over, each is stored once.
    for payload, _ in refused[:5]:
        sender = ana if payload["body"].startswith("ana") else avi
        again = await sender.call("send", payload)
        assert again["ok"], again
    stored = await stored_messages(api, c.mod_lee.token, c.group_a)
    client_ids = [m["client_id"] for m in stored]
    assert len(client_ids) == len(set(client_ids))
    assert {p["client_id"] for p, _ in refused[:5]} <= set(client_ids)
    alerts = await api.get("/api/alerts", c.mod_lee.token)
    assert crisis_ack["message"]["id"] in [a["message_id"] for a in alerts.body["alerts"]]


@with_settings(send_max_in_flight=1)
async def test_other_events_are_not_held_to_the_bound(
    community: Community, peer: PeerFactory
) -> None:
    """Only sends are bounded: joins, typing and reads go on under a burst of sends."""
    c = community
    ana = await peer(c.pat_ana.token)
    await joined(ana, c.group_a)
    burst = [ana.call("send", p) for p in sends(c.group_a, 10, "burst")]
    others = [ana.call("join", {"room_id": c.commons}) for _ in range(5)]
    acks = await asyncio.gather(*burst, *others)
    assert all(ack["ok"] for ack in acks[len(burst) :]), acks[len(burst) :]
