"""fan-out: 1,000 connected people in rooms of 12, 500 messages/s in total for 60 s.

Each message goes to the 12 members of its room (the sender included). Figures: delivery
latency from send to receipt by each member, lost and duplicated deliveries, server CPU
seconds per delivery and RSS; peerrooms (one process, SQLite) against the bare python relay
and against a bare Node socket.io relay (bench/node_relay), the anchor a team would otherwise
pick. The Node relay's packages are installed (`npm ci`) on first use; without node or npm
its figures are n/a and the notes say why.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

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
from bench.targets import Target, prepare_node_relay, start_node_relay, stop_all

# The systems of this scenario: common's kinds, and the Node relay only fanout runs.
System = Literal["peerrooms", "bare", "node"]
NODE: System = "node"
# Rows comparing peerrooms with the Node relay start with this; its figure is in the `bare`
# column and the ratio is peerrooms / Node.
NODE_ROW = "Node socket.io: "
P99_TARGET_MS = 50.0
CPU_RATIO_TARGET = 1.5
# The project's aim for CPU per delivery, peerrooms / the bare Node socket.io relay.
NODE_CPU_RATIO_TARGET = 1.5
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
    # Before any load: an install must not land between two systems' measured runs.
    node_missing = await asyncio.to_thread(prepare_node_relay)
    if node_missing:
        print(f"warning: the Node socket.io relay is left out: {node_missing}", flush=True)
    systems: tuple[System, ...] = KINDS if node_missing else (*KINDS, NODE)
    results: dict[str, Any] = {}
    async with load_generator(options) as generator:
        for system in systems:
            results[system] = await run_one(generator, system, size, options)
        if options.profile:
            results["peerrooms"]["profile"] = await profiled_run(generator, size, options)
    node = results.get(NODE)
    checks = fanout_checks(results["peerrooms"], results["bare"])
    checks += node_checks(results["peerrooms"], node)
    plot_windows(
        options.out / "fanout.png",
        f"fan-out: {size.people} people, rooms of {size.room_size}, {size.rate:.0f} msg/s",
        {system: results[system]["windows"] for system in systems},
    )
    if node_missing:
        results[NODE] = {"skipped": node_missing}
    data = {
        "size": size.__dict__,
        "notes": [
            f"{size.people} people in rooms of {size.room_size}, {size.rate:.0f} messages/s "
            f"for {size.duration_s:.0f} s after a {size.warmup_s:.0f} s warm-up; one server "
            "process each; peerrooms on SQLite, no Redis.",
            "Latency: send (sender's wall clock) to receipt by each member, the sender "
            "included; websocket transport, no permessage-deflate.",
            node_note(node_missing),
        ],
        "results": results,
        "node_comparison": node_comparison(results["peerrooms"], results["bare"], node),
    }
    write_result(options.out, "fanout", data, checks)
    return data


def node_note(missing: str | None) -> str:
    if missing:
        return f"The Node socket.io relay did not run: {missing}; its rows are n/a."
    return (
        f"Rows starting '{NODE_ROW.strip()}' compare peerrooms with a bare Node socket.io 4 "
        "relay (bench/node_relay, same events, acks and payloads as the python relay): the "
        "Node figure is in the bare column, the ratio is peerrooms / Node."
    )


@contextlib.asynccontextmanager
async def launched_system(
    system: System, size: Size, log_dir: Path, profile_to: Path | None = None
) -> AsyncIterator[Target]:
    """A running system: common's `launched` for peerrooms and the python relay; the Node
    relay, like the python one, needs no accounts and numbers its rooms from 1."""
    if system != NODE:
        kind: Kind = "peerrooms" if system == "peerrooms" else "bare"
        async with launched(
            kind,
            people=size.people,
            room_size=size.room_size,
            log_dir=log_dir,
            profile_to=profile_to,
        ) as target:
            yield target
        return
    servers = await start_node_relay(log_dir)
    try:
        rooms = list(range(1, -(-size.people // size.room_size) + 1))
        yield Target(NODE, servers, room_ids=rooms)
    finally:
        await stop_all(servers)


async def run_one(
    generator: LoadGenerator,
    system: System,
    size: Size,
    options: Options,
    profile_to: Path | None = None,
) -> dict[str, Any]:
    label = f"fanout-{system}" + ("-profiled" if profile_to else "")
    async with launched_system(system, size, options.logs(label), profile_to) as target:
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


def node_checks(peer: dict[str, Any], node: dict[str, Any] | None) -> list[Check]:
    """peerrooms against the bare Node socket.io relay (n/a when it did not run): the Node
    figure goes in the `bare` column, the ratio is peerrooms / Node."""

    def of(run: dict[str, Any] | None, *path: str) -> Any:
        value: Any = run
        for key in path:
            value = None if value is None else value[key]
        return value

    def compared(figure: str, *path: str, target: str = "", passed: bool | None = None) -> Check:
        mine, theirs = of(peer, *path), of(node, *path)
        return Check(NODE_ROW + figure, mine, theirs, ratio(mine, theirs), target, passed)

    cpu_ratio = ratio(peer["server_cpu_us_per_delivery"], of(node, "server_cpu_us_per_delivery"))
    node_utilisation = of(node, "generator", "max_utilisation")
    return [
        compared("delivery p50 (ms)", "delivery_latency_ms", "p50"),
        compared("delivery p95 (ms)", "delivery_latency_ms", "p95"),
        compared("delivery p99 (ms)", "delivery_latency_ms", "p99"),
        Check(
            NODE_ROW + "lost / duplicated deliveries / sends never answered",
            faults(peer),
            faults(node),
            None,
            "0 / 0 / 0 (the Node run is sound)",
            None if node is None else faults(node) == "0 / 0 / 0",
        ),
        compared(
            "server CPU per delivery (us)",
            "server_cpu_us_per_delivery",
            target=f"ratio <= {NODE_CPU_RATIO_TARGET}",
            passed=None if cpu_ratio is None else cpu_ratio <= NODE_CPU_RATIO_TARGET,
        ),
        compared("server RSS after run (MiB)", "server_rss_mib"),
        Check(
            NODE_ROW + "other processes' CPU during the run (cores)",
            other_cores(peer),
            None if node is None else other_cores(node),
            None,
            "~0 (a quiet machine)",
            None,
        ),
        Check(
            NODE_ROW + "generator busiest worker CPU",
            peer["generator"]["max_utilisation"],
            node_utilisation,
            None,
            "< 0.9 (not the bottleneck)",
            None if node_utilisation is None else node_utilisation < 0.9,
        ),
    ]


def faults(run: dict[str, Any] | None) -> str | None:
    """A run's lost and duplicated deliveries and unanswered sends, as one cell."""
    if run is None:
        return None
    return f"{run['lost']} / {run['duplicated']} / {run['messages_unacked']}"


def node_comparison(
    peer: dict[str, Any], bare: dict[str, Any], node: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Each system's CPU per delivery and latency over the Node relay's: peerrooms / Node is
    the project's aim; bare python / Node says how much of that is the python transport."""
    if node is None:
        return None

    def over_node(run: dict[str, Any]) -> dict[str, float | None]:
        latency, node_latency = run["delivery_latency_ms"], node["delivery_latency_ms"]
        return {
            "server_cpu_us_per_delivery": ratio(
                run["server_cpu_us_per_delivery"], node["server_cpu_us_per_delivery"]
            ),
            **{key: ratio(latency[key], node_latency[key]) for key in ("p50", "p95", "p99")},
        }

    return {
        "peerrooms_over_node": over_node(peer),
        "bare_over_node": over_node(bare),
        "cpu_ratio_target": NODE_CPU_RATIO_TARGET,
    }
