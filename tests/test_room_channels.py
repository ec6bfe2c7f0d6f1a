"""With Redis, a process hears a room's traffic only while one of its sockets is in the room
(realtime/subscriptions.py): what it decodes is what its members need."""

from __future__ import annotations

import pytest

from tests.cluster import Cluster, in_room, send
from tests.conftest import PeerFactory
from tests.support import eventually, scrape_metrics, with_id

pytestmark = pytest.mark.slow

RECEIVED = ("peerrooms_pubsub_received", ())
DELIVERED = ("peerrooms_pubsub_delivered", ())
CHANNELS = ("peerrooms_pubsub_room_channels", ())


def wasted(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
    """Pub/sub messages a process decoded that none of its sockets was given."""
    return metrics[RECEIVED] - metrics[DELIVERED]


# A barrier over two peers publishes one probe for each.
BARRIER_PROBES = 2


async def test_a_process_without_members_in_a_room_hears_none_of_its_traffic(
    cluster: Cluster, peer: PeerFactory
) -> None:
    people = cluster.community
    # Group A's members are all on process A; process B has only Bo, in group B.
    ana, avi = await in_room(
        peer, people.group_a, (people.pat_ana, cluster.a), (people.pat_avi, cluster.a)
    )
    [bo] = await in_room(peer, people.group_b, (people.pat_bo, cluster.b))
    before_a, before = await scrape_metrics(cluster.a.url), await scrape_metrics(cluster.b.url)

    sent = [await send(ana, people.group_a, f"only group A hears this {n}") for n in range(20)]
    await avi.wait_for("message", with_id(sent[-1]["id"]))
    await cluster.barrier(avi, bo)

    # The probe for Bo's socket, published after Avi's, reaches process B (which gives it to
    # Bo, ending the barrier) and process A (which has nobody to give it to) each in its own
    # time: A may decode it only after the barrier is over.
    async def a_decoded_both_probes() -> bool:
        decoded = (await scrape_metrics(cluster.a.url))[RECEIVED] - before_a[RECEIVED]
        return decoded >= BARRIER_PROBES

    await eventually(a_decoded_both_probes, "process A to decode the probe for Bo's socket")
    after_a, after = await scrape_metrics(cluster.a.url), await scrape_metrics(cluster.b.url)
    # Process B decoded the barrier's two probes (on the process-wide channel), nothing else.
    assert after[RECEIVED] - before[RECEIVED] == BARRIER_PROBES
    assert not bo.received("message")
    # Nor did process A decode what it published itself (the messages, their presence, the
    # room's activity to the cohort's audience), though it listens on those channels.
    assert after_a[RECEIVED] - before_a[RECEIVED] == BARRIER_PROBES

    # What Bo's room hears does reach process B, and is used there.
    [lee] = await in_room(peer, people.group_b, (people.mod_lee, cluster.a))
    note = await send(lee, people.group_b, "for group B")
    await bo.wait_for("message", with_id(note["id"]))
    heard = await scrape_metrics(cluster.b.url)
    assert heard[RECEIVED] > after[RECEIVED]
    assert heard[DELIVERED] > after[DELIVERED]


async def test_a_room_left_by_every_socket_here_is_no_longer_heard(
    cluster: Cluster, peer: PeerFactory
) -> None:
    people = cluster.community
    [ana] = await in_room(peer, people.group_a, (people.pat_ana, cluster.a))
    [avi] = await in_room(peer, people.group_a, (people.pat_avi, cluster.b))
    joined_channels = (await scrape_metrics(cluster.b.url))[CHANNELS]

    await avi.call("leave", {"room_id": people.group_a})

    async def dropped() -> bool:
        return (await scrape_metrics(cluster.b.url))[CHANNELS] < joined_channels

    await eventually(dropped, "process B to stop hearing group A")
    before = await scrape_metrics(cluster.b.url)
    sent = await send(ana, people.group_a, "Avi has left; process B need not hear this")
    await cluster.barrier(ana, avi)
    after = await scrape_metrics(cluster.b.url)
    # Avi still hears that group A has news (his cohort's unread counts), but process B
    # decoded nothing it had no socket for: only the barrier's probe for Ana's socket.
    assert wasted(after) - wasted(before) == 1
    assert sent["id"] not in [m["id"] for m in avi.received("message")]


async def test_a_join_on_one_process_hears_a_message_sent_from_the_other_at_once(
    cluster: Cluster, peer: PeerFactory
) -> None:
    """The first socket of a room on a process: its join returns once the room's channel is
    heard, so a message sent right after reaches it live."""
    people = cluster.community
    [ana] = await in_room(peer, people.group_a, (people.pat_ana, cluster.a))
    for n in range(5):
        [avi] = await in_room(peer, people.group_a, (people.pat_avi, cluster.b))
        sent = await send(ana, people.group_a, f"hello again {n}")
        await avi.wait_for("message", with_id(sent["id"]))
        await avi.call("leave", {"room_id": people.group_a})
        await avi.client.disconnect()
