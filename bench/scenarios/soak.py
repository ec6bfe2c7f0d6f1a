"""soak: does each server process's memory level off under steady traffic?

Two peerrooms processes sharing Redis and one PostgreSQL database, 200 people in rooms of
10 (each room's people split across both processes), 50 messages/s in total, open loop,
for 35 minutes without a break. Every 30 s the RSS of each process is read. The first 5
minutes are warm-up (caches, pools and allocator arenas filling); over the 30 minutes after
it, a least-squares line through each process's readings gives its growth in KiB/min. A
leak shows as a slope that stays up however long the run; memory that levels off gives a
slope near zero. Deliveries are checked as in fan-out (lost, duplicated, unanswered).

peerrooms only: the question is whether peerrooms' own state grows, and the relay keeps
none. Not part of `python -m bench all` (it takes 35 minutes).
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import linear_regression
from typing import Any

import matplotlib.pyplot as plt

from bench.load import LoadGenerator
from bench.report import Check, save_plot, write_result
from bench.scenarios.ceiling import without_windows
from bench.scenarios.common import (
    START_DELAY_S,
    Database,
    Options,
    clients_of,
    connect_people,
    launched,
    load_generator,
    load_step,
)
from bench.targets import memory_kib

SLOPE_TARGET_KIB_PER_MIN = 50.0
PROCESSES = 2
# (seconds since sending started, RSS KiB of each process)
Sample = tuple[float, list[int]]


@dataclass(frozen=True)
class Size:
    people: int
    room_size: int
    rate: float
    duration_s: float  # warm-up included
    warmup_s: float
    sample_every_s: float
    drain_s: float
    database: Database


FULL = Size(
    people=200,
    room_size=10,
    rate=50.0,
    duration_s=35 * 60.0,
    warmup_s=5 * 60.0,
    sample_every_s=30.0,
    drain_s=2.0,
    database="postgresql",
)
# CI adds PostgreSQL when its test suite runs against it; two processes on one SQLite file
# are supported otherwise (as in the ceiling's smoke run).
SMOKE = Size(
    people=20,
    room_size=10,
    rate=5.0,
    duration_s=6.0,
    warmup_s=2.0,
    sample_every_s=1.0,
    # In the test suite it runs beside the other scenarios and the tests on two cores: the
    # last messages can take a second or more to arrive, and are not lost for that.
    drain_s=2.0,
    database="postgresql" if os.environ.get("PEERROOMS_TEST_DATABASE_URL") else "sqlite",
)


async def run(options: Options) -> dict[str, Any]:
    size = SMOKE if options.smoke else FULL
    async with load_generator(options) as generator:
        result = await soak(generator, size, options)
    plot_memory(options.out / "soak.png", result["memory"], size)
    data = {
        "size": size.__dict__,
        "notes": [
            f"{size.people} people in rooms of {size.room_size} split across {PROCESSES} "
            f"peerrooms processes sharing Redis, on {size.database}; {size.rate:.0f} messages/s "
            f"for {size.duration_s / 60:.0f} min without a break.",
            f"RSS of each process every {size.sample_every_s:.0f} s; slope: least-squares "
            f"line through the readings after a {size.warmup_s / 60:.0f} min warm-up. "
            "KiB = 1024 bytes. The relay keeps no state: bare and ratio are n/a.",
        ],
        "results": {"peerrooms": result},
    }
    write_result(options.out, "soak", data, soak_checks(result))
    return data


async def soak(generator: LoadGenerator, size: Size, options: Options) -> dict[str, Any]:
    """One long open-loop load step, with the processes' RSS read alongside it."""
    async with launched(
        "peerrooms",
        people=size.people,
        room_size=size.room_size,
        processes=PROCESSES,
        database=size.database,
        log_dir=options.logs("soak"),
    ) as target:
        async with clients_of(generator):
            connected = await connect_people(generator, target, size.people, size.room_size)
            # A task group, so that a failed load stops the readings too (and the reverse).
            async with asyncio.TaskGroup() as group:
                sampling = group.create_task(sample_memory(target.pids, size))
                loading = group.create_task(
                    load_step(
                        generator,
                        target,
                        connected.members,
                        rate=size.rate,
                        duration_s=size.duration_s,
                        drain_s=size.drain_s,
                        connected=connected.connected,
                    )
                )
    # Per-second latency windows would run to thousands; the memory is what this run is for.
    result = without_windows(loading.result())
    memory = [
        memory_figures([(t, kib[index]) for t, kib in sampling.result()], size)
        for index in range(PROCESSES)
    ]
    result.update(
        connect=connected.as_json(),
        database=target.database,
        processes=PROCESSES,
        memory=memory,
        worst_slope_kib_per_min=worst_slope(memory),
    )
    return result


async def sample_memory(pids: Sequence[int], size: Size) -> list[Sample]:
    """Each process's RSS every `sample_every_s`, from the start of sending to its end. On
    a fixed schedule rather than after each reading, so that a slow reading does not stretch
    the series."""
    loop = asyncio.get_running_loop()
    # load_step starts sending START_DELAY_S after it is called, at the same time as this.
    started = loop.time() + START_DELAY_S
    samples: list[Sample] = []
    for index in range(int(size.duration_s // size.sample_every_s) + 1):
        await asyncio.sleep(max(0.0, started + index * size.sample_every_s - loop.time()))
        elapsed = round(loop.time() - started, 2)
        samples.append((elapsed, [memory_kib(pid) for pid in pids]))
    return samples


def memory_figures(series: list[tuple[float, int]], size: Size) -> dict[str, Any]:
    """One process's readings, RSS at the end of the warm-up and at the end, and the slope
    of the line through the readings from the end of the warm-up on."""
    # By position, not by the time read: a reading due at the end of the warm-up belongs to
    # the measured part even if it came a millisecond early.
    measured = series[math.ceil(size.warmup_s / size.sample_every_s) :]
    return {
        "rss_warmup_end_kib": measured[0][1] if measured else None,
        "rss_end_kib": measured[-1][1] if measured else None,
        "slope_kib_per_min": slope_per_minute(measured),
        "samples": [[t, kib] for t, kib in series],
    }


def slope_per_minute(series: list[tuple[float, int]]) -> float | None:
    if len(series) < 2:
        return None
    fit = linear_regression([t / 60 for t, _ in series], [float(kib) for _, kib in series])
    return round(fit.slope, 1)


def worst_slope(memory: list[dict[str, Any]]) -> float | None:
    slopes = [process["slope_kib_per_min"] for process in memory]
    return None if None in slopes else max(slopes)


def mib(kib: int | None) -> float | None:
    return None if kib is None else round(kib / 1024, 1)


def soak_checks(result: dict[str, Any]) -> list[Check]:
    worst = result["worst_slope_kib_per_min"]
    checks = [
        Check(
            "memory slope after warm-up (KiB/min per process)",
            worst,
            None,
            None,
            f"<= {SLOPE_TARGET_KIB_PER_MIN:.0f}",
            worst is not None and worst <= SLOPE_TARGET_KIB_PER_MIN,
        )
    ]
    for index, process in enumerate(result["memory"]):
        checks += [
            Check(f"process {index}: RSS at the end of warm-up (MiB)",
                  mib(process["rss_warmup_end_kib"]), None, None, "", None),
            Check(f"process {index}: RSS at the end (MiB)",
                  mib(process["rss_end_kib"]), None, None, "", None),
            Check(f"process {index}: memory slope after warm-up (KiB/min)",
                  process["slope_kib_per_min"], None, None, "", None),
        ]  # fmt: skip
    for figure, key in (
        ("lost deliveries", "lost"),
        ("duplicated deliveries", "duplicated"),
        ("sends never answered", "messages_unacked"),
    ):
        checks.append(Check(figure, result[key], None, None, "0", result[key] == 0))
    p99 = result["delivery_latency_ms"]["p99"]
    busiest = result["generator"]["max_utilisation"]
    checks += [
        Check("delivery p99 (ms)", p99, None, None, "", None),
        Check("generator busiest worker CPU", busiest, None, None,
              "< 0.9 (not the bottleneck)", busiest < 0.9),
    ]  # fmt: skip
    return checks


def plot_memory(path: Path, memory: list[dict[str, Any]], size: Size) -> None:
    """RSS of each process over the run, the end of the warm-up marked."""
    figure, axes = plt.subplots(figsize=(10, 5))
    for index, process in enumerate(memory):
        minutes = [t / 60 for t, _ in process["samples"]]
        axes.plot(
            minutes,
            [kib / 1024 for _, kib in process["samples"]],
            "-o",
            markersize=3,
            label=f"process {index}: {process['slope_kib_per_min']} KiB/min after warm-up",
        )
    axes.axvline(size.warmup_s / 60, color="grey", linewidth=1, label="end of warm-up")
    axes.set_xlabel("minutes since the start of sending")
    axes.set_ylabel("RSS (MiB)")
    axes.set_title(f"soak: {size.people} people, {size.rate:.0f} msg/s, {PROCESSES} processes")
    save_plot(figure, axes, path)
