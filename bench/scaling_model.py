"""python -m bench.scaling_model: how the cost of sharing grows to 50 processes and 100,000
connections, with one pub/sub channel for everything and with a channel per socket room.

A model, not a measurement of 50 processes: the machine has two cores. It counts, per
process, the pub/sub messages decoded, how many of them its sockets needed, and the messages
Redis hands out, for people placed on processes at random (a load balancer without affinity)
or by room (sticky routing by cohort). The one figure it measures is the CPU a decode costs
here (a representative `message` emit through the JSON codec), to put the counts in seconds.
`python -m bench sharing` checks the counts against four real processes.

Assumptions, stated in docs/scaling.md: rooms of ROOM_SIZE, every person in one room, each
person sending PER_PERSON_RATE messages/s on average, every message needed by every member.
"""

from __future__ import annotations

import json
import timeit
from dataclasses import dataclass

ROOM_SIZE = 12
# A busy evening: one message a person every 50 s, across everyone connected.
PER_PERSON_RATE = 0.02
CONNECTIONS = (1_000, 10_000, 100_000)
PROCESSES = (1, 2, 4, 10, 25, 50)

SAMPLE = {
    "origin": "5f0c4a1e9d2b4c7a8e6f1d3b2a9c8e7f",
    "method": "emit",
    "event": "message",
    "data": [
        {
            "id": 1234567,
            "room_id": 42,
            "user": {"id": 3141, "display_name": "Ana R.", "role": "patient"},
            "body": "Thanks everyone, that helped more than I can say tonight.",
            "created_at": "2026-12-06T19:45:12.123456+00:00",
            "client_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
            "reactions": {},
            "reply_to": None,
            "mentions": [],
        }
    ],
    "binary": False,
    "namespace": "/",
    "room": "room:42",
    "skip_sid": None,
    "callback": None,
    "host_id": "5f0c4a1e9d2b4c7a8e6f1d3b2a9c8e7f",
}


@dataclass(frozen=True)
class Row:
    connections: int
    processes: int
    placement: str
    decoded_one_channel: float
    decoded_per_room: float
    needed: float
    redis_out_one_channel: float
    redis_out_per_room: float
    room_channels: float


def share_with_members(processes: int, placement: str) -> float:
    """The chance that a process has at least one member of a given room."""
    if placement == "by room":
        return 1 / processes
    return float(1 - (1 - 1 / processes) ** ROOM_SIZE)


def model(connections: int, processes: int, placement: str) -> Row:
    rate = connections * PER_PERSON_RATE  # messages/s, the whole service
    rooms = connections / ROOM_SIZE
    has_members = share_with_members(processes, placement)
    own = rate / processes  # sent by this process's people
    # Messages of rooms this process has members in, less those it sent itself.
    needed = max(rate * has_members - own, 0.0)
    return Row(
        connections=connections,
        processes=processes,
        placement=placement,
        # One channel: every process decoded every message, its own included.
        decoded_one_channel=rate if processes > 1 else 0.0,
        decoded_per_room=needed,
        needed=needed,
        redis_out_one_channel=rate * processes if processes > 1 else 0.0,
        redis_out_per_room=rate * has_members * processes if processes > 1 else 0.0,
        room_channels=rooms * has_members,
    )


def decode_cost_us() -> float:
    encoded = json.dumps(SAMPLE)
    runs = 20_000
    seconds = min(timeit.repeat(lambda: json.loads(encoded), number=runs, repeat=5))
    return seconds / runs * 1e6


def main() -> None:
    cost = decode_cost_us()
    print(f"decode of one message emit here: {cost:.1f} us (stdlib json)")
    print(
        f"rooms of {ROOM_SIZE}, {PER_PERSON_RATE} messages/s per person; per process, "
        "messages/s decoded (one channel -> per room) and the share of a core it costs"
    )
    header = (
        "| connections | processes | placement | decoded, one channel | decoded, per room "
        "| needed | CPU, one channel | CPU, per room | Redis out/s, one channel "
        "| Redis out/s, per room | room channels per process |"
    )
    print(header)
    print("|---" * 11 + "|")
    for connections in CONNECTIONS:
        for processes in PROCESSES:
            for placement in ("spread", "by room"):
                if processes == 1 and placement == "by room":
                    continue
                row = model(connections, processes, placement)
                print(
                    f"| {row.connections:,} | {row.processes} | {row.placement} "
                    f"| {row.decoded_one_channel:,.0f} | {row.decoded_per_room:,.0f} "
                    f"| {row.needed:,.0f} "
                    f"| {row.decoded_one_channel * cost / 1e6:.1%} "
                    f"| {row.decoded_per_room * cost / 1e6:.1%} "
                    f"| {row.redis_out_one_channel:,.0f} | {row.redis_out_per_room:,.0f} "
                    f"| {row.room_channels:,.0f} |"
                )


if __name__ == "__main__":
    main()
