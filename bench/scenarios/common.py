"""What every scenario shares: options, launching a target with its data, connecting the
simulated people, and running one measured load step."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bench.load import ClientSpec, LoadGenerator, LoadSpec
from bench.measure import summarise_load
from bench.targets import (
    RedisSpace,
    Target,
    busy_seconds_between,
    cpu_by_process,
    postgres_database,
    redis_space,
    seed_people_and_rooms,
    service_cpu_seconds,
    sqlite_url,
    start_peerrooms,
    start_relay,
    stop_all,
)

Kind = Literal["peerrooms", "bare"]
# How people are placed on a target's processes (`client_specs`).
Placement = Literal["spread", "by room"]
Database = Literal["sqlite", "postgresql"]
KINDS: tuple[Kind, ...] = ("peerrooms", "bare")
START_DELAY_S = 0.5
# Other work on the machine above this many cores during a step makes it suspect.
CONTAMINATED_CORES = 0.25
# How often a suspect step is run again once the machine is quiet.
RETRIES = 2
# How long a step waits, at most, for a server that fell behind to catch up.
BACKLOG_WAIT_S = 180.0


@dataclass(frozen=True)
class Options:
    smoke: bool
    out: Path
    workers: int
    profile: bool = False

    def logs(self, name: str) -> Path:
        path = self.out / "logs" / name
        path.mkdir(parents=True, exist_ok=True)
        return path


@contextlib.asynccontextmanager
async def launched(
    kind: Kind,
    *,
    people: int,
    room_size: int,
    processes: int = 1,
    database: Database = "sqlite",
    log_dir: Path,
    profile_to: Path | None = None,
) -> AsyncIterator[Target]:
    """A running target with `people` accounts in rooms of `room_size` (peerrooms) or the
    relay; several processes share Redis (and, for peerrooms, the database)."""
    async with contextlib.AsyncExitStack() as stack:
        redis: RedisSpace | None = None
        if processes > 1:
            redis = await stack.enter_async_context(redis_space())
        if kind == "bare":
            servers = await start_relay(log_dir, processes, redis)
            stack.push_async_callback(stop_all, servers)
            rooms = list(range(1, -(-people // room_size) + 1))
            yield Target("bare", servers, room_ids=rooms)
            return
        url = await stack.enter_async_context(database_for(database, "load"))
        seeded = await seed_people_and_rooms(url, people, room_size)
        servers = await start_peerrooms(url, log_dir, processes, redis, profile_to)
        stack.push_async_callback(stop_all, servers)
        yield Target("peerrooms", servers, database, seeded.tokens, seeded.room_ids)


@contextlib.asynccontextmanager
async def database_for(database: Database, tag: str) -> AsyncIterator[str]:
    """A database of this run's own: an SQLite file in a temporary directory, or a fresh
    PostgreSQL database; gone afterwards."""
    if database == "postgresql":
        async with postgres_database(tag) as url:
            yield url
        return
    directory = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        yield sqlite_url(directory / "peerrooms.db")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.asynccontextmanager
async def load_generator(options: Options) -> AsyncIterator[LoadGenerator]:
    """The worker processes of a scenario: started once, reused for every target."""
    generator = LoadGenerator(options.workers)
    try:
        yield generator
    finally:
        await generator.close()


@contextlib.asynccontextmanager
async def clients_of(generator: LoadGenerator) -> AsyncIterator[LoadGenerator]:
    """Clients connected inside this block are disconnected at its end."""
    try:
        yield generator
    finally:
        await generator.disconnect()


def client_specs(
    target: Target, people: int, room_size: int, placement: Placement = "spread"
) -> list[ClientSpec]:
    """Person i is in room i // room_size. `spread`: they use process i % processes, so each
    room's members are split across processes; `by room`: room r's members all use process
    r % processes."""
    urls = target.urls

    def process_of(i: int) -> int:
        return (i if placement == "spread" else i // room_size) % len(urls)

    return [
        ClientSpec(
            index=i,
            url=urls[process_of(i)],
            auth=target.auth(i),
            room_id=target.room_ids[i // room_size],
        )
        for i in range(people)
    ]


@dataclass
class Connected:
    members: dict[int, list[int]]
    connected: int
    failed: int
    seconds: float
    errors: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "connected": self.connected,
            "failed": self.failed,
            "seconds": round(self.seconds, 2),
            "errors": self.errors[:5],
        }


async def connect_people(
    generator: LoadGenerator,
    target: Target,
    people: int,
    room_size: int,
    placement: Placement = "spread",
) -> Connected:
    specs = client_specs(target, people, room_size, placement)
    started = time.perf_counter()
    answers = await generator.connect(specs)
    seconds = time.perf_counter() - started
    room_of = {spec.index: spec.room_id for spec in specs}
    members: dict[int, list[int]] = {room: [] for room in target.room_ids}
    for answer in answers:
        for index in answer["connected"]:
            members[room_of[index]].append(index)
    connected = sum(len(a["connected"]) for a in answers)
    errors = [e for a in answers for e in a["errors"]]
    return Connected(members, connected, people - connected, seconds, errors)


async def load_step(
    generator: LoadGenerator,
    target: Target,
    members: Mapping[int, Sequence[int]],
    *,
    rate: float,
    duration_s: float,
    drain_s: float,
    connected: int,
    backlog_wait_s: float = BACKLOG_WAIT_S,
) -> dict[str, Any]:
    """One open-loop run at `rate` messages/s in total, with the server's CPU and memory.

    A server that fell behind gets up to `backlog_wait_s` to work off its backlog (until its
    CPU goes quiet) before the deliveries are counted, so a late delivery counts as late,
    not lost, and the CPU it cost is counted too."""
    cpu_before, busy_before, wall_before = target.cpu_seconds(), cpu_by_process(), time.time()
    services_before = service_cpu_seconds()
    spec = LoadSpec(rate / connected, duration_s, drain_s, wall_before + START_DELAY_S)
    unanswered = await generator.load(spec)
    backlog_s = await target.wait_quiet(backlog_wait_s) if unanswered else 0.0
    reports = await generator.collect(drain_s)
    cpu = target.cpu_seconds() - cpu_before
    busy = busy_seconds_between(busy_before, cpu_by_process())
    wall = time.time() - wall_before
    services = service_cpu_seconds() - services_before
    summary = summarise_load(
        reports,
        members,
        offered_rate=rate,
        duration_s=duration_s,
        server_cpu_s=cpu,
        server_rss_kib=target.rss_kib(),
        server_peak_rss_kib=target.peak_rss_kib(),
    )
    generator_cpu = sum(report.cpu_s for report in reports)
    summary["backlog_wait_s"] = round(backlog_s, 1)
    summary["machine"] = {
        "busy_cores": round(busy / wall, 2),
        "postgres_redis_cpu_s": round(services, 2),
        # Everything but the servers, the generator, PostgreSQL and Redis: other work on
        # the machine at the time, competing for its cores.
        "other_cpu_s": round(busy - cpu - generator_cpu - services, 2),
        "wall_s": round(wall, 2),
    }
    return summary


def contaminated(step: Mapping[str, Any]) -> bool:
    """Did other work on the machine take more than CONTAMINATED_CORES during the step?"""
    machine = step["machine"]
    return bool(machine["other_cpu_s"] / machine["wall_s"] > CONTAMINATED_CORES)


async def wait_for_quiet_machine(limit_cores: float = 0.3, timeout_s: float = 120.0) -> bool:
    """Other work on the machine skews every figure: wait for a quiet moment (two seconds
    under `limit_cores`); answers whether one came."""
    deadline = time.monotonic() + timeout_s
    while True:
        before = cpu_by_process()
        await asyncio.sleep(2.0)
        busy = busy_seconds_between(before, cpu_by_process()) / 2.0
        if busy <= limit_cores:
            return True
        if time.monotonic() > deadline:
            print(f"warning: the machine stays busy ({busy:.2f} cores); figures will show it")
            return False


async def clean_step(
    run_step: Callable[[], Awaitable[dict[str, Any]]], *, retry: bool = True
) -> dict[str, Any]:
    """Run a step; if other work on the machine competed for it, wait for a quiet moment
    and run it again (RETRIES times at most). Keeps the least disturbed attempt and says
    how many there were and whether it was still disturbed."""
    attempts = [await run_step()]
    while retry and contaminated(attempts[-1]) and len(attempts) <= RETRIES:
        other = attempts[-1]["machine"]["other_cpu_s"] / attempts[-1]["machine"]["wall_s"]
        print(f"  (other work took {other:.2f} cores: waiting to run the step again)", flush=True)
        await wait_for_quiet_machine()
        attempts.append(await run_step())
    best = min(attempts, key=lambda a: a["machine"]["other_cpu_s"] / a["machine"]["wall_s"])
    best["attempts"] = len(attempts)
    best["disturbed"] = contaminated(best)
    return best
