"""storm: 2,000 clients reconnecting at once after a restart, each catching up with `since`.

One peerrooms process (SQLite; PostgreSQL when the tests run against it), 2,000 people in rooms
of 10, every one connected and joined to their room. A few extra people send some messages to
every room, and every client receives them: each knows its room's newest message id. Then the
server is restarted as an operator would: SIGTERM (it answers what is under way, closes every
socket and exits), then started again on the same database and settings. Once it answers, and
before anyone is back, the extra people send more to every room: messages no client has seen.
Then every client reconnects at the same instant and joins its room with `since` = the newest
id it had seen, as the web client does after a reconnect.

Per client: the time from starting to connect to the ack of its join (connect + join), and
whether every message stored after its `since` came back, in the join answer or as a live
`message` event, with none twice and none it already had. Nothing is sent during the storm,
so each message missed should come once, in the join answer. Also: connects that failed, the
server's CPU during the storm and its peak RSS since the restart.

The restarted server listens on a new port and the clients are told where it went (as a load
balancer in front would do): a fixed port could be taken by another process on a shared
machine while the server is down. peerrooms only: the relay stores no history, so it has
nothing to catch a client up with.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load import ClientSpec, LoadGenerator, Reconnect, SendJob, StormSpec
from bench.measure import percentiles
from bench.report import Check, ratio, write_result
from bench.scenarios.common import (
    START_DELAY_S,
    Database,
    Options,
    client_specs,
    clients_of,
    database_for,
    launched,
    load_generator,
)
from bench.targets import (
    Target,
    busy_seconds_between,
    cpu_by_process,
    seed_people_and_rooms,
    service_cpu_seconds,
    start_peerrooms,
    start_relay,
    stop_all,
)

P99_TARGET_MS = 500.0
DATABASE: Database = "postgresql" if os.environ.get("PEERROOMS_TEST_DATABASE_URL") else "sqlite"
# How long the clients get to receive the messages sent before the restart.
SEEN_WAIT_S = 15.0
# How long the server's sockets get to be seen closed once it has exited.
CLOSED_WAIT_S = 5.0


@dataclass(frozen=True)
class Size:
    people: int
    room_size: int
    # Extra people who send the messages (not among those who reconnect).
    senders: int
    # Messages each room gets before the restart (every client sees them).
    seen_per_room: int
    # Messages each room gets after the restart, before the storm (no client sees them).
    missed_per_room: int
    # After the last join, how long without a `message` event before counting.
    quiet_s: float


FULL = Size(people=2000, room_size=10, senders=10, seen_per_room=3, missed_per_room=5, quiet_s=1.0)
SMOKE = Size(people=40, room_size=10, senders=2, seen_per_room=2, missed_per_room=3, quiet_s=0.3)


async def run(options: Options) -> dict[str, Any]:
    size = SMOKE if options.smoke else FULL
    async with load_generator(options) as generator:
        result = await run_storm(generator, size, options)
        bare = await run_relay_storm(generator, size, options)
    data = {
        "size": size.__dict__,
        "notes": [
            f"{size.people} people in rooms of {size.room_size}, all connected and joined, on "
            f"one peerrooms process ({DATABASE}, no Redis). {size.senders} more people sent "
            f"{size.seen_per_room} messages to each room, which every client received. The "
            "server was stopped (SIGTERM) and started again on the same database (on a new "
            "port, given to the clients); before anyone was back, the extra people sent "
            f"{size.missed_per_room} more to each room. Then all {size.people} reconnected at "
            "the same instant, each joining its room with `since` = the newest id it had seen.",
            "Latency per client: from starting to connect to the ack of its join (connect + "
            "join). A client caught up: it got back in, and every message after its `since` "
            "came back once, none it already had. The load generator shares the machine.",
            "Bare: the same clients on the bare python-socketio relay, restarted the same "
            "way, all reconnecting at once and joining their room. The relay keeps no "
            "history, so it has nobody to catch up: its figures are the floor of connecting "
            "and joining on python-socketio alone, on the same loop and codec.",
        ],
        "results": {"peerrooms": result, "bare": bare},
    }
    write_result(options.out, "storm", data, storm_checks(result, bare, size))
    return data


# ----- the deployment: one peerrooms process that can be restarted -----


@dataclass
class Deployment:
    """One peerrooms process on a database of the run's own; its work directory (logs, key
    files) stays the same across a restart, as an operator's would."""

    database_url: str
    work_dir: Path
    target: Target

    async def restart(self) -> dict[str, Any]:
        """SIGTERM, wait for the exit, then start again on the same database and settings."""
        stopping = time.perf_counter()
        await stop_all(self.target.processes)
        stopped = time.perf_counter()
        exit_codes = [p.process.returncode for p in self.target.processes]
        # start_peerrooms writes the same log file: keep the first run's.
        for log in self.work_dir.glob("peerrooms-*.log"):
            log.rename(log.with_suffix(".before-restart.log"))
        self.target.processes = await start_peerrooms(self.database_url, self.work_dir)
        return {
            "stop_s": round(stopped - stopping, 2),
            "start_s": round(time.perf_counter() - stopped, 2),
            "exit_codes": exit_codes,
        }


@contextlib.asynccontextmanager
async def deployment(size: Size, log_dir: Path) -> AsyncIterator[Deployment]:
    """`size.people` in rooms of `size.room_size`, then the senders (in a room of their own,
    which nobody joins), and one peerrooms process."""
    async with database_for(DATABASE, "storm") as url:
        seeded = await seed_people_and_rooms(url, size.people + size.senders, size.room_size)
        servers = await start_peerrooms(url, log_dir)
        target = Target("peerrooms", servers, DATABASE, seeded.tokens, seeded.room_ids)
        try:
            yield Deployment(url, log_dir, target)
        finally:
            await stop_all(target.processes)


# ----- the run -----


async def run_storm(generator: LoadGenerator, size: Size, options: Options) -> dict[str, Any]:
    async with deployment(size, options.logs("storm-peerrooms")) as deployed:
        target = deployed.target
        rooms = target.room_ids[: -(-size.people // size.room_size)]
        async with clients_of(generator):
            specs = client_specs(target, size.people, size.room_size)
            connect = await connect_tracking(generator, specs)
            tried_again: dict[str, int] = {}
            stored = await send_to_rooms(
                generator, target, rooms, size, "seen", size.seen_per_room, tried_again
            )
            stored_before = sum(len(ids) for ids in stored.values())
            seen = await wait_until_seen(generator, stored, specs)
            before_restart = seen_ledger(seen, stored, specs)
            old_urls = target.urls
            restart = await deployed.restart()
            restart["closed_by_server"] = await closed_sockets(generator, len(seen))
            await generator.disconnect()
            missed = await send_to_rooms(
                generator, target, rooms, size, "missed", size.missed_per_room, tried_again
            )
            for room_id, ids in missed.items():
                stored[room_id] = [*stored.get(room_id, []), *ids]
            moved = dict(zip(old_urls, target.urls, strict=True))
            storm = await measured_storm(generator, target, moved, size.quiet_s)
    reconnects = [r for answer in storm.pop("answers") for r in answer["reconnects"]]
    return {
        "database": target.database,
        "connect": connect,
        "messages_stored_before_restart": stored_before,
        "messages_stored_after_restart": sum(len(ids) for ids in missed.values()),
        # Set-up sends answered `unavailable` (or not at all) and sent again, by batch.
        "sends_tried_again": tried_again,
        "before_restart": before_restart,
        "restart": restart,
        **storm,
        **reconnect_figures(reconnects, stored, seen),
    }


async def run_relay_storm(generator: LoadGenerator, size: Size, options: Options) -> dict[str, Any]:
    """The same storm on the bare relay: everyone connected and joined, the relay restarted
    on a new port, everyone back at once. Nothing to catch up with: only the timings and the
    relay's CPU."""
    async with launched(
        "bare", people=size.people, room_size=size.room_size, log_dir=options.logs("storm-bare")
    ) as target:
        async with clients_of(generator):
            connect = await connect_tracking(
                generator, client_specs(target, size.people, size.room_size)
            )
            old_urls = target.urls
            await stop_all(target.processes)
            target.processes = await start_relay(options.logs("storm-bare"))
            await generator.disconnect()
            moved = dict(zip(old_urls, target.urls, strict=True))
            storm = await measured_storm(generator, target, moved, size.quiet_s)
    reconnects = [r for answer in storm.pop("answers") for r in answer["reconnects"]]
    back = [r for r in reconnects if r.connect_ms is not None and r.join_ms is not None]
    return {
        "connect": connect,
        **storm,
        "clients": len(reconnects),
        "back_in": len(back),
        "connect_join_ms": percentiles([r.connect_ms + r.join_ms for r in back]),
    }


async def connect_tracking(generator: LoadGenerator, specs: Sequence[ClientSpec]) -> dict[str, Any]:
    started = time.perf_counter()
    answers = await generator.connect_tracking(specs)
    connected = sum(len(a["connected"]) for a in answers)
    return {
        "connected": connected,
        "failed": len(specs) - connected,
        "seconds": round(time.perf_counter() - started, 2),
        "errors": [e for a in answers for e in a["errors"]][:5],
    }


async def send_to_rooms(
    generator: LoadGenerator,
    target: Target,
    rooms: Sequence[int],
    size: Size,
    tag: str,
    per_room: int,
    tried_again: dict[str, int],
) -> dict[int, list[int]]:
    """The senders share the rooms out and send `per_room` messages to each; answers the ids
    stored in each room. A message that was not stored fails the run: the figures would
    otherwise rest on fewer messages than they say. Sends tried again (set-up, not measured)
    are counted in `tried_again`."""
    senders = range(size.people, size.people + size.senders)
    jobs = [
        SendJob(
            index=person,
            url=target.urls[0],
            auth=target.auth(person),
            room_ids=tuple(rooms[number :: size.senders]),
            per_room=per_room,
            tag=tag,
        )
        for number, person in enumerate(senders)
    ]
    answers = await generator.send_messages(jobs)
    tried_again[tag] = sum(int(answer["tried_again"]) for answer in answers)
    failed = [f for answer in answers for f in answer["failed"]]
    if failed:
        raise RuntimeError(f"{len(failed)} {tag} messages were not stored, e.g. {failed[:3]}")
    stored: dict[int, list[int]] = {room_id: [] for room_id in rooms}
    for answer in answers:
        for room_id, message_id in answer["stored"]:
            stored[room_id].append(message_id)
    return stored


async def wait_until_seen(
    generator: LoadGenerator, stored: Mapping[int, Sequence[int]], specs: Sequence[ClientSpec]
) -> dict[int, list[int]]:
    """The ids each connected client has seen, once every one has seen its room's messages
    (at most SEEN_WAIT_S)."""
    deadline = time.monotonic() + SEEN_WAIT_S
    while True:
        seen = {i: ids for a in await generator.tracked() for i, ids in a["seen"].items()}
        ledger = seen_ledger(seen, stored, specs)
        if ledger["lost"] == 0 or time.monotonic() > deadline:
            return seen
        await asyncio.sleep(0.2)


def seen_ledger(
    seen: Mapping[int, Sequence[int]],
    stored: Mapping[int, Sequence[int]],
    specs: Sequence[ClientSpec],
) -> dict[str, int]:
    """Before the restart: messages a client should have received live and did not, and
    messages it received more than once. Clients that never connected are left out (the
    connect figures count them)."""
    lost = duplicated = 0
    for spec in specs:
        if spec.index not in seen:
            continue
        ids = seen[spec.index]
        lost += len(set(stored[spec.room_id]) - set(ids))
        duplicated += len(ids) - len(set(ids))
    return {"lost": lost, "duplicated": duplicated}


async def closed_sockets(generator: LoadGenerator, expected: int) -> int:
    """How many of the clients' sockets the server closed (its sockets are all gone once it
    has exited; the clients may take a moment to see it)."""
    deadline = time.monotonic() + CLOSED_WAIT_S
    while True:
        closed = sum(int(answer["closed"]) for answer in await generator.tracked())
        if closed >= expected or time.monotonic() > deadline:
            return closed
        await asyncio.sleep(0.1)


async def measured_storm(
    generator: LoadGenerator, target: Target, moved: dict[str, str], quiet_s: float
) -> dict[str, Any]:
    """Everyone reconnects at once; the server's CPU and memory, the generator's CPU and
    other work on the machine meanwhile."""
    cpu_before, busy_before, wall_before = target.cpu_seconds(), cpu_by_process(), time.time()
    services_before = service_cpu_seconds()
    rss_before = target.rss_kib()
    answers = await generator.storm(StormSpec(wall_before + START_DELAY_S, moved, quiet_s))
    cpu = target.cpu_seconds() - cpu_before
    busy = busy_seconds_between(busy_before, cpu_by_process())
    wall = time.time() - wall_before
    services = service_cpu_seconds() - services_before
    generator_cpu = sum(answer["cpu_s"] for answer in answers)
    return {
        "answers": answers,
        "server_cpu_s": round(cpu, 3),
        "server_rss_before_mib": round(rss_before / 1024, 1),
        "server_rss_after_mib": round(target.rss_kib() / 1024, 1),
        # VmHWM of the restarted process: its start, the senders and the storm.
        "server_peak_rss_mib": round(target.peak_rss_kib() / 1024, 1),
        "generator": generator_figures(answers),
        "machine": {
            "busy_cores": round(busy / wall, 2),
            "postgres_redis_cpu_s": round(services, 2),
            # Everything but the server, the generator, PostgreSQL and Redis.
            "other_cpu_s": round(busy - cpu - generator_cpu - services, 2),
            "wall_s": round(wall, 2),
        },
    }


def generator_figures(answers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    workers = [
        {
            "worker": a["worker"],
            "cpu_s": round(a["cpu_s"], 3),
            "utilisation": round(a["cpu_s"] / a["wall_s"], 3) if a["wall_s"] else None,
        }
        for a in answers
    ]
    busiest = max((w["utilisation"] or 0.0 for w in workers), default=0.0)
    return {"workers": workers, "max_utilisation": busiest, "saturated": busiest > 0.9}


# ----- figures -----


def reconnect_figures(
    reconnects: Sequence[Reconnect],
    stored: Mapping[int, Sequence[int]],
    seen: Mapping[int, Sequence[int]],
) -> dict[str, Any]:
    """Timings of the clients that got back in, and the catch-up ledger of all of them."""
    # (connect ms, join ms, start lag ms) of each client that got back in.
    back = [
        (r.connect_ms, r.join_ms, r.start_lag_ms)
        for r in reconnects
        if r.connect_ms is not None and r.join_ms is not None
    ]
    ledger = catch_up_ledger(reconnects, stored, seen)
    return {
        "clients": len(reconnects),
        "connect_join_ms": percentiles([connect + join for connect, join, _lag in back]),
        "connect_ms": percentiles([connect for connect, _join, _lag in back]),
        "join_ms": percentiles([join for _connect, join, _lag in back]),
        "max_start_lag_ms": round(max((r.start_lag_ms for r in reconnects), default=0.0), 1),
        "last_caught_up_s": round(max((sum(b) for b in back), default=0.0) / 1000, 2),
        "never_connected": sum(1 for r in reconnects if r.connect_ms is None),
        "connect_attempts_failed": sum(r.connect_failures for r in reconnects),
        "join_failed": sum(1 for r in reconnects if r.connect_ms is not None and r.join_ms is None),
        "join_retries": sum(r.join_retries for r in reconnects),
        "joins_followed_up": sum(1 for r in reconnects if r.joins > 1),
        "errors": sorted({r.error for r in reconnects if r.error})[:5],
        **ledger,
    }


def catch_up_ledger(
    reconnects: Iterable[Reconnect],
    stored: Mapping[int, Sequence[int]],
    seen: Mapping[int, Sequence[int]],
) -> dict[str, Any]:
    """Per client: owed, every message of its room after its `since`; missed, owed and not
    received; duplicated, an owed message received more than once (each extra copy) or one it
    had already seen received again; unexpected, anything else (another room's). Caught up:
    back in, nothing missed, duplicated or unexpected."""
    totals: Counter[str] = Counter()
    examples: list[str] = []
    for r in reconnects:
        owed = {i for i in stored[r.room_id] if i > r.since}
        had = set(seen.get(r.index, ()))
        got = Counter(r.page_ids) + Counter(r.live_ids)
        missed = len(owed - got.keys())
        twice = sum(n - 1 for i, n in got.items() if i in owed and n > 1)
        again = sum(n for i, n in got.items() if i in had and i not in owed)
        unexpected = sum(n for i, n in got.items() if i not in owed and i not in had)
        caught_up = r.join_ms is not None and not (missed or twice or again or unexpected)
        totals.update(
            owed=len(owed),
            missed=missed,
            given_twice=twice,
            already_had=again,
            unexpected=unexpected,
            in_join_answer=len(owed & set(r.page_ids)),
            live_only=len((owed & set(r.live_ids)) - set(r.page_ids)),
            caught_up=int(caught_up),
        )
        if not caught_up and len(examples) < 5:
            examples.append(
                f"client {r.index} (room {r.room_id}, since {r.since}): missed {missed}, "
                f"twice {twice}, already had {again}, unexpected {unexpected}, "
                f"error {r.error!r}"
            )
    return {
        "caught_up": totals["caught_up"],
        "messages_owed": totals["owed"],
        "missed": totals["missed"],
        "duplicated": totals["given_twice"] + totals["already_had"],
        "given_twice": totals["given_twice"],
        "already_had": totals["already_had"],
        "unexpected": totals["unexpected"],
        "in_join_answer": totals["in_join_answer"],
        "live_only": totals["live_only"],
        "not_caught_up_examples": examples,
    }


def cpu_per_reconnect_ms(run: Mapping[str, Any]) -> float | None:
    clients = run["clients"]
    return round(run["server_cpu_s"] / clients * 1000, 2) if clients else None


def side_by_side(
    figure: str,
    ours: float | None,
    bare: float | None,
    target: str = "",
    passed: bool | None = None,
) -> Check:
    return Check(figure, ours, bare, ratio(ours, bare), target, passed)


def storm_checks(result: Mapping[str, Any], bare: Mapping[str, Any], size: Size) -> list[Check]:
    latency, bare_latency = result["connect_join_ms"], bare["connect_join_ms"]
    p99 = latency["p99"]
    machine = result["machine"]
    busiest = max(result["generator"]["max_utilisation"], bare["generator"]["max_utilisation"])
    peer_back = result["clients"] - result["never_connected"] - result["join_failed"]
    return [
        side_by_side("connect + join p50 (ms)", latency["p50"], bare_latency["p50"]),
        side_by_side("connect + join p95 (ms)", latency["p95"], bare_latency["p95"]),
        side_by_side(
            "connect + join p99 (ms)",
            p99,
            bare_latency["p99"],
            f"<= {P99_TARGET_MS:.0f} ms",
            p99 is not None and p99 <= P99_TARGET_MS,
        ),
        Check(
            "clients back in",
            peer_back,
            bare["back_in"],
            None,
            f"{size.people} (all)",
            peer_back == bare["back_in"] == size.people,
        ),
        Check(
            "clients caught up",
            result["caught_up"],
            None,
            None,
            f"{size.people} (all)",
            result["caught_up"] == size.people,
        ),
        Check("missed messages", result["missed"], None, None, "0", result["missed"] == 0),
        Check(
            "duplicated messages", result["duplicated"], None, None, "0", result["duplicated"] == 0
        ),
        Check("connect attempts failed", result["connect_attempts_failed"], None, None, "", None),
        Check("seconds until the last caught up", result["last_caught_up_s"], None, None, "", None),
        side_by_side(
            "server CPU during the storm (s)", result["server_cpu_s"], bare["server_cpu_s"]
        ),
        side_by_side(
            "server CPU per reconnect (ms)",
            cpu_per_reconnect_ms(result),
            cpu_per_reconnect_ms(bare),
        ),
        Check(
            "server peak RSS since the restart (MiB)",
            result["server_peak_rss_mib"],
            None,
            None,
            "",
            None,
        ),
        Check(
            "other processes' CPU during the storm (cores)",
            round(machine["other_cpu_s"] / machine["wall_s"], 2),
            None,
            None,
            "~0 (a quiet machine)",
            None,
        ),
        Check(
            "generator busiest worker CPU",
            busiest,
            None,
            None,
            "< 0.9 (not the bottleneck)",
            busiest < 0.9,
        ),
    ]
