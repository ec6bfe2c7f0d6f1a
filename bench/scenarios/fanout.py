"""fan-out: 1,000 connected people in rooms of 12, 500 messages/s in total for 60 s.

Each message goes to the 12 members of its room (the sender included). Figures: delivery
latency from send to receipt by each member, lost and duplicated deliveries, server CPU
seconds per delivery and RSS; peerrooms (one process, SQLite) against the bare relay.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.load import LoadGenerator
from bench.profile import summarise
from bench.report import Check, plot_windows, ratio, write_result
from bench.scenarios.common import (
    KINDS,
    Kind,
    Options,
    clean_step,
    clients_of,
    connect_people,
    launched,
    load_generator,
    load_step,
)

P99_TARGET_MS = 50.0
CPU_RATIO_TARGET = 1.5
# After the warm-up, how long to wait for a server to work off a backlog.
BACKLOG_WAIT_S = 60.0
PROFILE_S = 30.0


@dataclass(frozen=True)
class Size:
    people: int
    room_size: int
    rate: float
    duration_s: float
    warmup_s: float
    drain_s: float


FULL = Size(people=1000, room_size=12, rate=500.0, duration_s=60.0, warmup_s=5.0, drain_s=2.0)
SMOKE = Size(people=24, room_size=12, rate=20.0, duration_s=1.5, warmup_s=0.0, drain_s=0.3)


async def run(options: Options) -> dict[str, Any]:
    size = SMOKE if options.smoke else FULL
    results: dict[str, Any] = {}
    async with load_generator(options) as generator:
        for kind in KINDS:
            results[kind] = await run_one(generator, kind, size, options)
        if options.profile:
            results["peerrooms"]["profile"] = await profiled_run(generator, size, options)
    checks = fanout_checks(results["peerrooms"], results["bare"])
    plot_windows(
        options.out / "fanout.png",
        f"fan-out: {size.people} people, rooms of {size.room_size}, {size.rate:.0f} msg/s",
        {kind: results[kind]["windows"] for kind in KINDS},
    )
    data = {
        "size": size.__dict__,
        "notes": [
            f"{size.people} people in rooms of {size.room_size}, {size.rate:.0f} messages/s "
            f"for {size.duration_s:.0f} s after a {size.warmup_s:.0f} s warm-up; one server "
            "process each; peerrooms on SQLite, no Redis.",
            "Latency: send (sender's wall clock) to receipt by each member, the sender "
            "included; websocket transport, no permessage-deflate.",
        ],
        "results": results,
    }
    write_result(options.out, "fanout", data, checks)
    return data


async def run_one(
    generator: LoadGenerator,
    kind: Kind,
    size: Size,
    options: Options,
    profile_to: Path | None = None,
) -> dict[str, Any]:
    label = f"fanout-{kind}" + ("-profiled" if profile_to else "")
    async with launched(
        kind,
        people=size.people,
        room_size=size.room_size,
        log_dir=options.logs(label),
        profile_to=profile_to,
    ) as target:
        async with clients_of(generator):
            connected = await connect_people(generator, target, size.people, size.room_size)

            async def step(duration_s: float) -> dict[str, Any]:
                return await load_step(
                    generator,
                    target,
                    connected.members,
                    rate=size.rate,
                    duration_s=duration_s,
                    drain_s=size.drain_s,
                    connected=connected.connected,
                )

            if size.warmup_s:
                await step(size.warmup_s)
                await target.wait_quiet(BACKLOG_WAIT_S)
            result = await clean_step(
                lambda: step(size.duration_s), retry=not options.smoke and not profile_to
            )
    result["connect"] = connected.as_json()
    result["database"] = target.database
    return result


async def profiled_run(generator: LoadGenerator, size: Size, options: Options) -> dict[str, Any]:
    """peerrooms again, under py-spy (it pauses the server at each sample, so these figures
    are kept apart from the measured ones). The profile covers the whole server process:
    start-up and connecting too, though the load dominates it."""
    collapsed = options.out / "fanout-peerrooms-profile.collapsed"
    shorter = replace(size, duration_s=min(size.duration_s, PROFILE_S), warmup_s=0.0)
    result = await run_one(generator, "peerrooms", shorter, options, profile_to=collapsed)
    summary = summarise(collapsed) if collapsed.is_file() else None
    return {
        "collapsed_stacks": str(collapsed),
        "summary": str(summary) if summary else None,
        "duration_s": shorter.duration_s,
        "delivery_latency_ms_under_profiler": result["delivery_latency_ms"],
    }


def other_cores(run: dict[str, Any]) -> float:
    """CPU used meanwhile by anything but the server and the generator, in cores."""
    machine = run["machine"]
    return round(float(machine["other_cpu_s"]) / float(machine["wall_s"]), 2)


def fanout_checks(peer: dict[str, Any], bare: dict[str, Any]) -> list[Check]:
    p, b = peer["delivery_latency_ms"], bare["delivery_latency_ms"]
    cpu_ratio = ratio(peer["server_cpu_us_per_delivery"], bare["server_cpu_us_per_delivery"])
    return [
        Check("delivery p50 (ms)", p["p50"], b["p50"], ratio(p["p50"], b["p50"]), "", None),
        Check("delivery p95 (ms)", p["p95"], b["p95"], ratio(p["p95"], b["p95"]), "", None),
        Check(
            "delivery p99 (ms)",
            p["p99"],
            b["p99"],
            ratio(p["p99"], b["p99"]),
            f"<= {P99_TARGET_MS:.0f} ms",
            p["p99"] is not None and p["p99"] <= P99_TARGET_MS,
        ),
        Check(
            "lost deliveries",
            peer["lost"],
            bare["lost"],
            None,
            "0",
            peer["lost"] == 0,
        ),
        Check(
            "sends never answered",
            peer["messages_unacked"],
            bare["messages_unacked"],
            None,
            "0",
            peer["messages_unacked"] == 0,
        ),
        Check(
            "duplicated deliveries",
            peer["duplicated"],
            bare["duplicated"],
            None,
            "0",
            peer["duplicated"] == 0,
        ),
        Check(
            "server CPU per delivery (us)",
            peer["server_cpu_us_per_delivery"],
            bare["server_cpu_us_per_delivery"],
            cpu_ratio,
            f"ratio <= {CPU_RATIO_TARGET}",
            cpu_ratio is not None and cpu_ratio <= CPU_RATIO_TARGET,
        ),
        Check(
            "server RSS after run (MiB)",
            peer["server_rss_mib"],
            bare["server_rss_mib"],
            ratio(peer["server_rss_mib"], bare["server_rss_mib"]),
            "",
            None,
        ),
        Check(
            "other processes' CPU during the run (cores)",
            other_cores(peer),
            other_cores(bare),
            None,
            "~0 (a quiet machine)",
            None,
        ),
        Check(
            "generator busiest worker CPU",
            peer["generator"]["max_utilisation"],
            bare["generator"]["max_utilisation"],
            None,
            "< 0.9 (not the bottleneck)",
            max(peer["generator"]["max_utilisation"], bare["generator"]["max_utilisation"]) < 0.9,
        ),
    ]
