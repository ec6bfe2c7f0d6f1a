"""sharing: four peerrooms processes on one Redis, and how much of what each hears it needs.

A process decodes a pub/sub message only when it listens on the message's channel
(server/realtime/subscriptions.py). Per process this reports the messages it decoded from
Redis and how many of them it handed to a socket of its own; their ratio is the work spent
on traffic it had no member for (1.0: none). Two placements of people on processes:
`spread` (as a load balancer without affinity: each room's members on every process) and
`by room` (each room's members on one process, as sticky routing by cohort would put them).
Beside each, what the earlier design (one channel for everything) decoded: every message
every other process published, and its own back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bench.load import LoadGenerator
from bench.report import Check, write_result
from bench.scenarios.common import (
    BACKLOG_WAIT_S,
    Database,
    Options,
    Placement,
    clients_of,
    connect_people,
    launched,
    load_step,
)

PROCESSES = 4
RATIO_TARGET = 1.1
PLACEMENTS: tuple[Placement, ...] = ("spread", "by room")


@dataclass(frozen=True)
class Size:
    people: int
    room_size: int
    rate: float
    duration_s: float
    drain_s: float


FULL = Size(people=240, room_size=12, rate=40.0, duration_s=15.0, drain_s=2.0)
SMOKE = Size(people=48, room_size=12, rate=20.0, duration_s=1.5, drain_s=0.5)
DATABASE: Database = "postgresql" if os.environ.get("PEERROOMS_TEST_DATABASE_URL") else "sqlite"


async def run(options: Options) -> dict[str, Any]:
    size = SMOKE if options.smoke else FULL
    generator = LoadGenerator(options.workers)
    try:
        results = {
            placement: await run_one(generator, placement, size, options)
            for placement in PLACEMENTS
        }
    finally:
        await generator.close()
    checks = [
        Check(
            f"decoded / needed, worst process ({placement})",
            results[placement]["worst_ratio"],
            results[placement]["worst_ratio_one_channel"],
            None,
            f"<= {RATIO_TARGET}",
            results[placement]["worst_ratio"] is not None
            and results[placement]["worst_ratio"] <= RATIO_TARGET,
        )
        for placement in PLACEMENTS
    ]
    data = {
        "size": size.__dict__,
        "notes": [
            f"{PROCESSES} peerrooms processes on {DATABASE} and one Redis; {size.people} "
            f"people in rooms of {size.room_size}, {size.rate:.0f} messages/s for "
            f"{size.duration_s:.0f} s.",
            "The 'bare' column holds what one channel for everything (the earlier design) "
            "decoded per needed message on the same run: every message the other processes "
            "published and the process's own, over what it needed.",
        ],
        "results": results,
    }
    write_result(options.out, "sharing", data, checks)
    return data


async def run_one(
    generator: LoadGenerator, placement: Placement, size: Size, options: Options
) -> dict[str, Any]:
    async with launched(
        "peerrooms",
        people=size.people,
        room_size=size.room_size,
        processes=PROCESSES,
        database=DATABASE,
        log_dir=options.logs(f"sharing-{placement.replace(' ', '-')}"),
    ) as target:
        async with clients_of(generator):
            connected = await connect_people(
                generator, target, size.people, size.room_size, placement
            )
            before = [await pubsub_counts(url) for url in target.urls]
            step = await load_step(
                generator,
                target,
                connected.members,
                rate=size.rate,
                duration_s=size.duration_s,
                drain_s=size.drain_s,
                connected=connected.connected,
                backlog_wait_s=BACKLOG_WAIT_S,
            )
            after = [await pubsub_counts(url) for url in target.urls]
    published = step["messages_sent"]
    processes = [process_figures(b, a, published) for b, a in zip(before, after, strict=True)]
    return {
        "placement": placement,
        "processes": processes,
        "worst_ratio": worst(p["ratio"] for p in processes),
        "worst_ratio_one_channel": worst(p["ratio_one_channel"] for p in processes),
        "messages_sent": published,
        "lost": step["lost"],
        "duplicated": step["duplicated"],
        "delivery_latency_ms": step["delivery_latency_ms"],
        "connect": connected.as_json(),
    }


def process_figures(
    before: dict[str, float], after: dict[str, float], published: int
) -> dict[str, Any]:
    received = after["received"] - before["received"]
    delivered = after["delivered"] - before["delivered"]
    return {
        "decoded": int(received),
        "needed": int(delivered),
        "ratio": round(received / delivered, 3) if delivered else None,
        # One channel for everything: each process decoded every message sent (its own
        # came back too), whether or not it had a member in the room.
        "ratio_one_channel": round(published / delivered, 3) if delivered else None,
        "room_channels": int(after["channels"]),
    }


def worst(ratios: Any) -> float | None:
    known = [r for r in ratios if r is not None]
    return max(known) if known else None


async def pubsub_counts(url: str) -> dict[str, float]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as reply:
        text = await reply.text()
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return {
        "received": samples["peerrooms_pubsub_received"],
        "delivered": samples["peerrooms_pubsub_delivered"],
        "channels": samples["peerrooms_pubsub_room_channels"],
    }
