"""ceiling: the highest sustained messages/s with p99 delivery latency under 200 ms.

The fan-out set-up (people in rooms of 12, everyone sending in turn) at a rising offered
rate: doubling until a step fails, then bisecting between the last pass and the first
failure. A step passes when p99 <= 200 ms, nothing is lost or duplicated, every send is
answered, and the generator kept its schedule. Between steps the servers are given time to
work off any backlog. A step that failed by latency alone, by less than a second, is run once
more and the second run counts (the same for both systems): on a shared 2-core machine a
single stall of the machine otherwise decided the ceiling.

Configurations: one process and two processes sharing Redis (people of each room split
across both), for peerrooms and for the bare relay (python-socketio's AsyncRedisManager on
the same Redis). peerrooms runs one process on SQLite and, so that one and two processes
compare on the same database, one and two on PostgreSQL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from bench.load import LoadGenerator
from bench.report import Check, plot_ceiling, ratio, write_result
from bench.scenarios.common import (
    Database,
    Kind,
    Options,
    clean_step,
    clients_of,
    connect_people,
    launched,
    load_generator,
    load_step,
)

P99_LIMIT_MS = 200.0
CEILING_RATIO_TARGET = 0.6
SCALING_TARGET = 1.6
SCHEDULE_LAG_LIMIT_MS = 100.0
# A failed step with p99 under this (and nothing else wrong) is run once more: worth_confirming.
CONFIRM_P99_BELOW_MS = 1000.0


@dataclass(frozen=True)
class Size:
    people: int
    room_size: int
    step_s: float
    drain_s: float
    start_rate: float
    max_steps: int
    precision: float  # stop bisecting when the bracket is this narrow (relative)
    backlog_wait_s: float


FULL = Size(
    people=1000,
    room_size=12,
    step_s=10.0,
    drain_s=1.0,
    start_rate=50.0,
    max_steps=12,
    precision=0.1,
    backlog_wait_s=60.0,
)
SMOKE = Size(
    people=24,
    room_size=12,
    step_s=0.5,
    drain_s=0.3,
    start_rate=10.0,
    max_steps=1,
    precision=0.5,
    backlog_wait_s=5.0,
)


@dataclass(frozen=True)
class Config:
    kind: Kind
    processes: int
    database: Database = "sqlite"

    @property
    def name(self) -> str:
        plural = "process" if self.processes == 1 else "processes"
        db = f", {self.database}" if self.kind == "peerrooms" else ""
        return f"{self.kind} {self.processes} {plural}{db}"


FULL_CONFIGS = (
    Config("peerrooms", 1, "sqlite"),
    Config("peerrooms", 1, "postgresql"),
    Config("peerrooms", 2, "postgresql"),
    Config("bare", 1),
    Config("bare", 2),
)
# Two processes on one SQLite file are supported (WAL; docs/redis.md) and keep CI free of
# PostgreSQL. The smoke run keeps the two-process set-ups, which run every step of the
# one-process ones and the Redis sharing besides (each configuration costs its processes'
# start-up, seconds of the test suite).
SMOKE_CONFIGS = (
    Config("peerrooms", 2, "sqlite"),
    Config("bare", 2),
)


async def run(options: Options) -> dict[str, Any]:
    size = SMOKE if options.smoke else FULL
    configs = SMOKE_CONFIGS if options.smoke else FULL_CONFIGS
    async with load_generator(options) as generator:
        results = {c.name: await search(generator, c, size, options) for c in configs}
    checks = ceiling_checks(results, configs)
    plot_ceiling(
        options.out / "ceiling.png",
        {name: result["steps"] for name, result in results.items()},
        P99_LIMIT_MS,
    )
    data = {
        "size": size.__dict__,
        "notes": [
            f"{size.people} people in rooms of {size.room_size}; steps of {size.step_s:.0f} s; "
            f"a step passes with p99 <= {P99_LIMIT_MS:.0f} ms, no loss, no duplicates, every "
            "send answered, and the generator on schedule.",
            f"{options.workers} generator workers, the servers, PostgreSQL and Redis all "
            f"share this machine's {os.cpu_count()} cores.",
        ],
        "results": results,
    }
    write_result(options.out, "ceiling", data, checks)
    return data


async def search(
    generator: LoadGenerator, config: Config, size: Size, options: Options
) -> dict[str, Any]:
    """Double the rate until a step fails, then bisect; answers every step taken."""
    async with launched(
        config.kind,
        people=size.people,
        room_size=size.room_size,
        processes=config.processes,
        database=config.database,
        log_dir=options.logs("ceiling-" + config.name.replace(" ", "-").replace(",", "")),
    ) as target:
        async with clients_of(generator):
            connected = await connect_people(generator, target, size.people, size.room_size)
            steps: list[dict[str, Any]] = []
            passed: float | None = None
            failed: float | None = None
            rate = size.start_rate

            async def measure(rate: float) -> dict[str, Any]:
                step = await clean_step(
                    lambda: load_step(
                        generator,
                        target,
                        connected.members,
                        rate=rate,
                        duration_s=size.step_s,
                        drain_s=size.drain_s,
                        connected=connected.connected,
                        backlog_wait_s=size.backlog_wait_s,
                    ),
                    retry=not options.smoke,
                )
                step["passed"], step["why"] = verdict(step)
                if step["disturbed"]:
                    step["why"] += " (disturbed by other work on the machine)"
                return step

            while len(steps) < size.max_steps:
                step = await measure(rate)
                if not options.smoke and worth_confirming(step):
                    print(f"  {config.name}: {rate:.0f} msg/s -> {step['why']}; again", flush=True)
                    first_why = step["why"]
                    step = await measure(rate)
                    step["failed_before"] = first_why
                steps.append(without_windows(step))
                print(f"  {config.name}: {rate:.0f} msg/s -> {step['why']}", flush=True)
                if step["passed"]:
                    passed = rate
                else:
                    failed = rate
                if failed is None:
                    rate *= 2
                elif passed is None:
                    rate /= 2
                elif (failed - passed) / passed <= size.precision:
                    break
                else:
                    rate = round((passed + failed) / 2)
    return {
        "database": target.database if config.kind == "peerrooms" else "none",
        "processes": config.processes,
        "connect": connected.as_json(),
        "ceiling": passed,
        "first_failure": failed,
        "steps": steps,
    }


def problems(step: dict[str, Any]) -> dict[str, str]:
    """What failed the step, by kind (latency, loss, unanswered, generator)."""
    p99 = step["delivery_latency_ms"]["p99"]
    lag = max(w["max_schedule_lag_ms"] for w in step["generator"]["workers"])
    found = {}
    if p99 is None or p99 > P99_LIMIT_MS:
        found["latency"] = f"p99 {p99} ms"
    if step["lost"] or step["duplicated"] or step["unexpected"]:
        found["loss"] = f"lost {step['lost']} dup {step['duplicated']}"
    if step["messages_unacked"] or step["messages_refused"]:
        found["unanswered"] = f"unanswered {step['messages_unacked']} {step['messages_refused']}"
    if lag > SCHEDULE_LAG_LIMIT_MS:
        found["generator"] = f"generator behind by {lag:.0f} ms"
    return found


def verdict(step: dict[str, Any]) -> tuple[bool, str]:
    found = problems(step)
    p99 = step["delivery_latency_ms"]["p99"]
    return (not found, "; ".join(found.values()) or f"pass (p99 {p99} ms)")


def worth_confirming(step: dict[str, Any]) -> bool:
    """A step that failed by latency alone, and not by far: the machine (shared with the
    generator, the databases and whatever else runs) may have stalled for part of it. It is
    run once more, for both systems alike, and the second run counts. A server past its
    ceiling fails by seconds, or loses and leaves sends unanswered, and is not run again."""
    p99 = step["delivery_latency_ms"]["p99"]
    return list(problems(step)) == ["latency"] and p99 is not None and p99 <= CONFIRM_P99_BELOW_MS


def without_windows(step: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in step.items() if key != "windows"}


def ceiling_checks(results: dict[str, Any], configs: tuple[Config, ...]) -> list[Check]:
    def best(kind: Kind, processes: int, database: Database | None = None) -> float | None:
        for config in configs:
            if config.kind == kind and config.processes == processes:
                if database is None or config.database == database:
                    value = results[config.name]["ceiling"]
                    return float(value) if value is not None else None
        return None

    one_db: Database = "sqlite"
    two_db: Database = next(
        (c.database for c in configs if c.kind == "peerrooms" and c.processes == 2), "sqlite"
    )
    peer_one, bare_one = best("peerrooms", 1, one_db), best("bare", 1)
    peer_one_same = best("peerrooms", 1, two_db)
    peer_two, bare_two = best("peerrooms", 2, two_db), best("bare", 2)
    one_ratio = ratio(peer_one, bare_one)
    scaling_peer, scaling_bare = ratio(peer_two, peer_one_same), ratio(bare_two, bare_one)
    checks = [
        Check(
            f"ceiling msg/s, 1 process ({one_db})",
            peer_one,
            bare_one,
            one_ratio,
            f"ratio >= {CEILING_RATIO_TARGET}",
            one_ratio is not None and one_ratio >= CEILING_RATIO_TARGET,
        ),
        Check(
            f"ceiling msg/s, 2 processes + Redis ({two_db})",
            peer_two,
            bare_two,
            ratio(peer_two, bare_two),
            "",
            None,
        ),
        Check(
            "2 processes / 1 process",
            scaling_peer,
            scaling_bare,
            None,
            f">= {SCALING_TARGET}",
            scaling_peer is not None and scaling_peer >= SCALING_TARGET,
        ),
    ]
    if two_db != one_db:
        same_db = Check(
            f"ceiling msg/s, 1 process ({two_db})", peer_one_same, bare_one, None, "", None
        )
        checks.insert(1, same_db)
    return checks
