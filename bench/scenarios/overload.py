"""overload: past the ceiling, sends are refused at once rather than queued, and a client that
stops reading is let go before it costs the server memory without end.

1. Offered at 1.5x the ceiling. peerrooms' ceiling is found in the same run by the ceiling
   scenario's search (one process, SQLite, 10 s steps, p99 delivery <= 200 ms), then a fresh
   server of the same set-up (after a warm-up at the ceiling) is offered 1.5 times that rate,
   open loop. Figures: acknowledged (`ok`) sends per second over the ceiling, the ack latency of
   the acknowledged sends, the sends refused by error code and how fast the refusals came back,
   lost and duplicated deliveries of acknowledged messages, the server's peak RSS. A refused
   send is not sent again here (the web client would, after `retry_after_s`): the offered
   rate stays 1.5x the ceiling instead of growing with retries. A send answered `unavailable`
   ("may or may not have been done") is sent again with the same client_id, as in every
   scenario: that is not a refusal.
2. Clients that stop reading. On the same server, the load goes on at about the ceiling while
   a few busy rooms get a stream of long posts (3,900 characters) from posters of their own.
   After a control period in which everyone reads, some members of each busy room stop
   reading their socket (a small receive buffer, then nothing taken off it), as a phone asleep
   in a pocket would. Figures: whether and when each is cut off by the server (its backlog
   bound, `client_backlog_messages` / `client_backlog_bytes`), the server's RSS every 0.5 s and
   its peak above the start, against a bound: what the load alone added in the control period,
   plus for each member who stopped reading the backlog bound's bytes and 1 MiB (the packet
   objects around those bytes, the transport's write buffer, the allocator's slack). The
   members who read on must keep their connection and get every acknowledged post.

peerrooms only: the bare relay has no admission bound and no backlog bound to measure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import aiohttp
import matplotlib.pyplot as plt

from bench.load import (
    LONG_POST,
    BusyRoom,
    BusyRoomReport,
    BusySpec,
    ClientSpec,
    LoadGenerator,
    LoadReport,
    LoadSpec,
)
from bench.measure import percentiles
from bench.report import Check, save_plot, write_result
from bench.scenarios import ceiling
from bench.scenarios.common import (
    START_DELAY_S,
    Connected,
    Options,
    clean_step,
    clients_of,
    connect_people,
    contaminated,
    database_for,
    load_generator,
    load_step,
)
from bench.targets import (
    Target,
    peerrooms_env,
    seed_people_and_rooms,
    start_process,
    stop_all,
)
from server.moderation.crisis.detector import CrisisClassifier
from server.settings import Settings

OVERLOAD_FACTOR = 1.5
THROUGHPUT_TARGET = 0.8
ACK_P99_TARGET_MS = 500.0
# Answers that mean "refused, nothing done, come back later".
REFUSALS = ("overloaded", "rate_limited")
CEILING_CONFIG = ceiling.Config("peerrooms", 1, "sqlite")
RSS_EVERY_S = 0.5
# What a member who stopped reading may cost the server beyond the backlog bound's bytes.
SLACK_PER_STALLED_MIB = 1.0
MIB = 1024 * 1024
CUT_OFF_METRIC = "peerrooms_slow_clients_cut_off_total"
CRISIS_METRIC = 'peerrooms_filter_hits_total{kind="crisis"}'


@dataclass(frozen=True)
class Size:
    # Offered at 1.5x the ceiling (people and rooms: the ceiling search's).
    warmup_s: float
    step_s: float
    drain_s: float
    backlog_wait_s: float
    # Clients that stop reading.
    busy_rooms: int
    stalled_per_room: int
    readers_per_room: int
    posters_per_room: int
    posts_per_s_per_room: float
    control_s: float  # everyone reads
    stall_s: float  # then the stalled members stop reading; the load goes on this long
    stall_max_s: float  # from the start: posting ends then, whoever is still connected
    # The server's backlog bound; None: the shipped default.
    backlog_messages: int | None
    backlog_bytes: int | None


FULL = Size(
    warmup_s=5.0,
    step_s=20.0,
    drain_s=1.0,
    backlog_wait_s=60.0,
    busy_rooms=2,
    stalled_per_room=2,
    readers_per_room=1,
    posters_per_room=8,
    posts_per_s_per_room=40.0,
    control_s=15.0,
    stall_s=30.0,
    stall_max_s=120.0,
    backlog_messages=None,
    backlog_bytes=None,
)
# The smallest bound the server takes (64 KiB), so that the cut-off comes within seconds on
# a machine shared with the test suite; the full run keeps the shipped bound.
SMOKE = Size(
    warmup_s=0.0,
    step_s=1.5,
    drain_s=0.3,
    backlog_wait_s=5.0,
    busy_rooms=1,
    stalled_per_room=2,
    readers_per_room=1,
    posters_per_room=4,
    posts_per_s_per_room=30.0,
    control_s=1.0,
    stall_s=2.0,
    stall_max_s=40.0,
    backlog_messages=100,
    backlog_bytes=65_536,
)


async def run(options: Options) -> dict[str, Any]:
    size = SMOKE if options.smoke else FULL
    people = ceiling.SMOKE if options.smoke else ceiling.FULL
    ensure_long_post_is_ordinary()
    async with load_generator(options) as generator:
        found = await ceiling.search(generator, CEILING_CONFIG, people, options)
        rate, source = ceiling_rate(found, people)
        layout = Layout(people.people, people.room_size, size)
        async with overload_target(layout, options.logs("overload")) as target:
            async with clients_of(generator):
                connected = await connect_people(generator, target, people.people, layout.room_size)
                above = await offered_above_ceiling(
                    generator, target, connected, rate, size, retry=not options.smoke
                )
                await target.wait_quiet(size.backlog_wait_s)
                stalled = await stop_reading(generator, target, connected, rate, layout)
    result = {
        "ceiling": {"msg_per_s": rate, "source": source, "search": found},
        "above_ceiling": above,
        "stopped_reading": stalled,
    }
    plot_memory(options.out / "overload.png", stalled, size)
    data = {
        "size": size.__dict__,
        "ceiling_size": people.__dict__,
        "notes": notes(size, people, options, rate, source),
        "results": {"peerrooms": result},
    }
    write_result(options.out, "overload", data, overload_checks(result))
    return data


def notes(
    size: Size, people: ceiling.Size, options: Options, rate: float, source: str
) -> list[str]:
    bound = backlog_bound(size)
    return [
        f"{people.people} people in rooms of {people.room_size}, one peerrooms process on "
        f"SQLite. Ceiling {rate:.0f} msg/s ({source}); then a fresh server, after a "
        f"{size.warmup_s:.0f} s warm-up at the ceiling, offered {OVERLOAD_FACTOR}x it for "
        f"{size.step_s:.0f} s, open loop. Refused sends are not sent again; a send answered "
        "`unavailable` is, with the same client_id, and its latency counts from the first try.",
        f"Then {size.busy_rooms} busy rooms, each with {size.stalled_per_room} members who stop "
        f"reading, {size.readers_per_room} who read on, and {size.posters_per_room} posters "
        f"sending {size.posts_per_s_per_room:.0f} posts/s of {len(LONG_POST)} characters in "
        "all, beside the load at the ceiling less the posts (at least half the ceiling); "
        f"everyone reads for {size.control_s:.0f} s, then the stalled members stop. Backlog "
        f"bound {bound['messages']} messages / {bound['bytes']} bytes. Server RSS every "
        f"{RSS_EVERY_S} s. KiB = 1024 bytes.",
        f"{options.workers} generator workers and the server share this machine's "
        f"{os.cpu_count()} cores. The relay has no admission or backlog bound: bare and ratio "
        "are n/a.",
    ]


def ensure_long_post_is_ordinary() -> None:
    """The busy rooms' posts must be ordinary chat: one the shipped crisis detector took for
    an alarm would pass admission as urgent and raise an alert each time."""
    detection = CrisisClassifier().detect(LONG_POST)
    if detection is not None and detection.alarm:
        raise RuntimeError(f"the crisis detector takes the long post for an alarm: {detection}")


def ceiling_rate(found: dict[str, Any], people: ceiling.Size) -> tuple[float, str]:
    """The ceiling the search found; when no step passed, its first rate stands in (said so:
    the ratio to it is then no verdict)."""
    if found["ceiling"]:
        return float(found["ceiling"]), "measured in this run"
    return people.start_rate, "no step passed; the search's first rate stands in"


# ----- the server and its people -----


@dataclass(frozen=True)
class Layout:
    """Who is where: the load's people first, in rooms of `room_size` (as the ceiling search
    places them), then each busy room's members and posters in rooms of their own."""

    load_people: int
    room_size: int
    size: Size

    @property
    def first_busy(self) -> int:
        return -(-self.load_people // self.room_size) * self.room_size

    @property
    def per_busy_room(self) -> int:
        s = self.size
        return s.stalled_per_room + s.readers_per_room + s.posters_per_room

    @property
    def busy_block(self) -> int:
        """People seeded per busy room: whole rooms' worth, so each gets a room of its own."""
        return -(-self.per_busy_room // self.room_size) * self.room_size

    @property
    def people(self) -> int:
        return self.first_busy + self.size.busy_rooms * self.busy_block

    def busy_rooms(self, target: Target) -> list[BusyRoom]:
        s = self.size
        rooms = []
        for number in range(s.busy_rooms):
            first = self.first_busy + number * self.busy_block
            room_id = target.room_ids[first // self.room_size]
            members = [
                ClientSpec(index, target.urls[0], target.auth(index), room_id)
                for index in range(first, first + self.per_busy_room)
            ]
            readers_end = s.stalled_per_room + s.readers_per_room
            rooms.append(
                BusyRoom(
                    room_id,
                    stalled=tuple(members[: s.stalled_per_room]),
                    readers=tuple(members[s.stalled_per_room : readers_end]),
                    posters=tuple(members[readers_end:]),
                )
            )
        return rooms


def backlog_bound(size: Size) -> dict[str, int]:
    fields = Settings.model_fields
    messages = size.backlog_messages or fields["client_backlog_messages"].default
    return {
        "messages": int(messages),
        "bytes": int(size.backlog_bytes or fields["client_backlog_bytes"].default),
    }


@contextlib.asynccontextmanager
async def overload_target(layout: Layout, log_dir: Path) -> AsyncIterator[Target]:
    """One peerrooms process on an SQLite database of its own, with everyone seeded, and the
    backlog bound of the size (common.launched takes no settings)."""
    async with database_for("sqlite", "overload") as url:
        seeded = await seed_people_and_rooms(url, layout.people, layout.room_size)
        env = peerrooms_env(url, log_dir, None)
        bound = backlog_bound(layout.size)
        env.update(
            PEERROOMS_CLIENT_BACKLOG_MESSAGES=str(bound["messages"]),
            PEERROOMS_CLIENT_BACKLOG_BYTES=str(bound["bytes"]),
        )
        server = await start_process(["-m", "server", "serve"], env, log_dir / "peerrooms-0.log")
        try:
            yield Target("peerrooms", [server], "sqlite", seeded.tokens, seeded.room_ids)
        finally:
            await stop_all([server])


async def server_counters(target: Target) -> dict[str, float]:
    """The counters of the server's /metrics this scenario reads (0 when not yet counted)."""
    async with aiohttp.ClientSession() as session:
        async with session.get(target.urls[0] + "/metrics") as response:
            text = await response.text()
    wanted = {CUT_OFF_METRIC: 0.0, CRISIS_METRIC: 0.0}
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name in wanted:
            wanted[name] = float(value)
    return wanted


class KeptReports:
    """The load generator as `load_step` drives it (load, then collect), keeping what the
    workers reported: load_step sums the acks up together, and this scenario splits them
    (acknowledged, refused) with their latencies."""

    def __init__(self, generator: LoadGenerator) -> None:
        self._generator = generator
        self.reports: list[LoadReport] = []

    async def load(self, spec: LoadSpec) -> int:
        return await self._generator.load(spec)

    async def collect(self, drain_s: float) -> list[LoadReport]:
        self.reports = await self._generator.collect(drain_s)
        return self.reports

    def as_generator(self) -> LoadGenerator:
        # load_step calls nothing but `load` and `collect` on its generator.
        return cast(LoadGenerator, self)


def acks_by_outcome(reports: Sequence[LoadReport]) -> dict[str, Any]:
    """The ack latency of acknowledged sends and of refusals, apart, and the refusals and
    other failures by error code."""
    acked: list[float] = []
    refused: list[float] = []
    refused_by_code: Counter[str] = Counter()
    failed_by_code: Counter[str] = Counter()
    for report in reports:
        for _client_id, _room, ok, code, latency_ms in report.sent:
            if ok:
                acked.append(latency_ms)
            elif code in REFUSALS:
                refused.append(latency_ms)
                refused_by_code[code] += 1
            else:
                failed_by_code[code] += 1
    return {
        "acked_ms": percentiles(acked),
        "refusal_ms": percentiles(refused),
        "refused_by_code": dict(refused_by_code),
        "failed_by_code": dict(failed_by_code),
    }


async def measured_step(
    generator: LoadGenerator,
    target: Target,
    connected: Connected,
    *,
    rate: float,
    duration_s: float,
    size: Size,
) -> dict[str, Any]:
    """One load step, with the acks split by outcome and the server's crisis filter hits
    (sends it took for an alarm pass admission: never refused)."""
    kept = KeptReports(generator)
    before = await server_counters(target)
    step = await load_step(
        kept.as_generator(),
        target,
        connected.members,
        rate=rate,
        duration_s=duration_s,
        drain_s=size.drain_s,
        connected=connected.connected,
        backlog_wait_s=size.backlog_wait_s,
    )
    after = await server_counters(target)
    step["acks"] = acks_by_outcome(kept.reports)
    step["crisis_alarms"] = int(after[CRISIS_METRIC] - before[CRISIS_METRIC])
    return ceiling.without_windows(step)


# ----- 1. offered at 1.5x the ceiling -----


async def offered_above_ceiling(
    generator: LoadGenerator,
    target: Target,
    connected: Connected,
    ceiling_msg_s: float,
    size: Size,
    *,
    retry: bool,
) -> dict[str, Any]:
    """A warm-up at the ceiling, then the step at 1.5x it (run again if other work on the
    machine competed for it, as every scenario's steps are)."""
    if size.warmup_s:
        await measured_step(
            generator, target, connected, rate=ceiling_msg_s, duration_s=size.warmup_s, size=size
        )
        await target.wait_quiet(size.backlog_wait_s)
    offered = OVERLOAD_FACTOR * ceiling_msg_s
    step = await clean_step(
        lambda: measured_step(
            generator, target, connected, rate=offered, duration_s=size.step_s, size=size
        ),
        retry=retry,
    )
    acks = step["acks"]
    acked_per_s = step["messages_acked_ok"] / size.step_s
    print(
        f"  overload: {offered:.0f} msg/s offered -> {acked_per_s:.0f} acked/s, "
        f"ack p99 {acks['acked_ms']['p99']} ms, refused {acks['refused_by_code']}",
        flush=True,
    )
    return {
        "ceiling_msg_per_s": ceiling_msg_s,
        "offered_msg_per_s": offered,
        "acked_per_s": round(acked_per_s, 1),
        "acked_over_ceiling": round(acked_per_s / ceiling_msg_s, 3),
        "acked_ack_ms": acks["acked_ms"],
        "refused_by_code": acks["refused_by_code"],
        "refusal_ms": acks["refusal_ms"],
        "failed_by_code": acks["failed_by_code"],
        "unanswered": step["messages_unacked"],
        "lost": step["lost"],
        "duplicated": step["duplicated"],
        "unexpected": step["unexpected"],
        "server_peak_rss_mib": step["server_peak_rss_mib"],
        "step": step,
    }


# ----- 2. clients that stop reading -----


async def stop_reading(
    generator: LoadGenerator,
    target: Target,
    connected: Connected,
    ceiling_msg_s: float,
    layout: Layout,
) -> dict[str, Any]:
    """The load at about the ceiling, the busy rooms' posts beside it; after the control
    period the stalled members stop reading. RSS is read all along."""
    size = layout.size
    connecting = await generator.connect_busy(layout.busy_rooms(target))
    errors = [error for answer in connecting for error in answer["errors"]]
    # The posts count as sends towards the ceiling (each costs more: long, and fanned out).
    rate = max(ceiling_msg_s - size.busy_rooms * size.posts_per_s_per_room, ceiling_msg_s / 2)
    before = await server_counters(target)
    rss_start_kib = target.rss_kib()
    start_at = time.time() + START_DELAY_S
    spec = BusySpec(
        start_at=start_at,
        stop_reading_at=start_at + size.control_s,
        post_until=start_at + size.control_s + size.stall_s,
        give_up_at=start_at + size.stall_max_s,
        rate_per_room=size.posts_per_s_per_room,
    )
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        sampling = group.create_task(sample_rss(target, start_at, stop))
        try:
            await generator.busy_start(spec)
            step = await measured_step(
                generator,
                target,
                connected,
                rate=rate,
                duration_s=size.control_s + size.stall_s,
                size=size,
            )
            rooms = await generator.busy_report()
        finally:
            stop.set()
    after = await server_counters(target)
    figures = stalled_figures(rooms, sampling.result(), rss_start_kib, size)
    print(
        f"  overload: stalled members cut off after {figures['cut_off_after_s']} s; RSS peak "
        f"+{figures['rss_peak_growth_mib']} MiB (bound {figures['rss_bound_mib']} MiB)",
        flush=True,
    )
    return {
        "load_msg_per_s": rate,
        "connect_errors": errors,
        **figures,
        "server_cut_off_count": int(after[CUT_OFF_METRIC] - before[CUT_OFF_METRIC]),
        "load_clients_disconnected": sum(
            worker["disconnected"] for worker in step["generator"]["workers"]
        ),
        "load_lost": step["lost"],
        "load_duplicated": step["duplicated"],
        "load_unanswered": step["messages_unacked"],
        "disturbed": contaminated(step),
        "rooms": [room_json(room) for room in rooms],
        "step": step,
    }


async def sample_rss(target: Target, origin: float, stop: asyncio.Event) -> list[list[float]]:
    """[seconds since `origin`, RSS KiB] every RSS_EVERY_S until `stop`, on a fixed schedule
    (a slow reading does not stretch the series), and once more at the end."""
    loop = asyncio.get_running_loop()
    started, index = loop.time(), 0
    samples: list[list[float]] = []
    while not stop.is_set():
        samples.append([round(time.time() - origin, 2), float(target.rss_kib())])
        index += 1
        wait_s = max(0.0, started + index * RSS_EVERY_S - loop.time())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait_s)
    samples.append([round(time.time() - origin, 2), float(target.rss_kib())])
    return samples


def stalled_figures(
    rooms: Sequence[BusyRoomReport],
    samples: Sequence[Sequence[float]],
    rss_start_kib: int,
    size: Size,
) -> dict[str, Any]:
    """Who was cut off and when; RSS against its bound."""
    stalled = [member for room in rooms for member in room.stalled]
    cut_after = [m.cut_off_after_s for m in stalled if m.cut_off_after_s is not None]
    during = [kib for t, kib in samples if t >= 0]
    control = [kib for t, kib in samples if 0 <= t <= size.control_s]
    load_alone_mib = max(0.0, (max(control, default=rss_start_kib) - rss_start_kib) / 1024)
    allowance_mib = backlog_bound(size)["bytes"] / MIB + SLACK_PER_STALLED_MIB
    bound_mib = load_alone_mib + len(stalled) * allowance_mib
    peak_growth_mib = (max(during, default=rss_start_kib) - rss_start_kib) / 1024
    unbounded = max((room.bytes_after_stall for room in rooms), default=0)
    return {
        "stalled": len(stalled),
        "cut_off": len(cut_after),
        "cut_off_after_s": sorted(cut_after),
        "cut_off_within_load": sum(1 for s in cut_after if s <= size.stall_s),
        "readers": sum(room.readers for room in rooms),
        "readers_cut_off": sum(room.readers_cut_off for room in rooms),
        "posts_acked_readers_missed": sum(sum(room.readers_missing) for room in rooms),
        "rss_start_mib": round(rss_start_kib / 1024, 1),
        "rss_load_alone_mib": round(load_alone_mib, 1),
        "rss_allowance_per_stalled_mib": round(allowance_mib, 2),
        "rss_bound_mib": round(bound_mib, 1),
        "rss_peak_growth_mib": round(peak_growth_mib, 1),
        "rss_end_growth_mib": round((samples[-1][1] - rss_start_kib) / 1024, 1),
        "unbounded_queue_mib_per_stalled": round(unbounded / MIB, 2),
        "rss_samples": [list(sample) for sample in samples],
    }


def room_json(room: BusyRoomReport) -> dict[str, Any]:
    return {
        "room_id": room.room_id,
        "stalled": [{"index": m.index, "cut_off_after_s": m.cut_off_after_s} for m in room.stalled],
        "posts_sent": room.posts_sent,
        "posts_ok": room.posts_ok,
        "posts_failed": room.posts_failed,
        "posts_unanswered": room.posts_unanswered,
        "readers": room.readers,
        "readers_cut_off": room.readers_cut_off,
        "readers_missing": room.readers_missing,
        "bytes_after_stall": room.bytes_after_stall,
        "errors": room.errors[:5],
    }


# ----- the table and the plot -----


def overload_checks(result: dict[str, Any]) -> list[Check]:
    return above_ceiling_checks(result["above_ceiling"], result["ceiling"]) + stalled_checks(
        result["stopped_reading"]
    )


def above_ceiling_checks(above: dict[str, Any], found: dict[str, Any]) -> list[Check]:
    measured = found["source"] == "measured in this run"
    ratio = above["acked_over_ceiling"]
    p99 = above["acked_ack_ms"]["p99"]
    refused = ", ".join(f"{code} {n}" for code, n in sorted(above["refused_by_code"].items()))
    failed = ", ".join(f"{code} {n}" for code, n in sorted(above["failed_by_code"].items()))
    busiest = above["step"]["generator"]["max_utilisation"]

    def row(figure: str, value: Any, target: str = "", passed: bool | None = None) -> Check:
        return Check(figure, value, None, None, target, passed)

    return [
        row("ceiling msg/s, 1 process (sqlite)", found["msg_per_s"]),
        row(f"offered msg/s ({OVERLOAD_FACTOR}x the ceiling)", above["offered_msg_per_s"]),
        row(
            "acknowledged sends/s / ceiling",
            ratio,
            f">= {THROUGHPUT_TARGET}",
            (ratio >= THROUGHPUT_TARGET) if measured else None,
        ),
        row("ack p50 of acknowledged sends (ms)", above["acked_ack_ms"]["p50"]),
        row(
            "ack p99 of acknowledged sends (ms)",
            p99,
            f"<= {ACK_P99_TARGET_MS:.0f} ms",
            p99 is not None and p99 <= ACK_P99_TARGET_MS,
        ),
        row("sends refused, by code", refused or "none"),
        row("refusal p99 (ms)", above["refusal_ms"]["p99"]),
        row("sends failed otherwise, by code", failed or "none", "none", not failed),
        row("sends never answered", above["unanswered"], "0", above["unanswered"] == 0),
        row(
            "lost / duplicated deliveries of acknowledged messages",
            f"{above['lost']} / {above['duplicated']}",
            "0 / 0",
            above["lost"] == 0 and above["duplicated"] == 0,
        ),
        row("server peak RSS (MiB)", above["server_peak_rss_mib"]),
        row("generator busiest worker CPU", busiest, "< 0.9 (not the bottleneck)", busiest < 0.9),
    ]


def stalled_checks(stalled: dict[str, Any]) -> list[Check]:
    count, cut = stalled["stalled"], stalled["cut_off"]
    reading_cut = stalled["readers_cut_off"] + stalled["load_clients_disconnected"]
    bound, growth = stalled["rss_bound_mib"], stalled["rss_peak_growth_mib"]
    slowest = max(stalled["cut_off_after_s"], default=None)

    def row(figure: str, value: Any, target: str = "", passed: bool | None = None) -> Check:
        return Check(figure, value, None, None, target, passed)

    return [
        row("clients that stopped reading cut off", f"{cut} of {count}", "all", 0 < count == cut),
        row("seconds from stopping reading to cut-off (slowest)", slowest),
        row(
            "connections the server cut off (its metric)",
            stalled["server_cut_off_count"],
            f"{count} (those clients, nobody else)",
            stalled["server_cut_off_count"] == count,
        ),
        row("reading clients cut off or disconnected", reading_cut, "0", reading_cut == 0),
        row(
            "acknowledged posts or messages a reader missed",
            stalled["posts_acked_readers_missed"] + stalled["load_lost"],
            "0",
            stalled["posts_acked_readers_missed"] + stalled["load_lost"] == 0,
        ),
        row(
            "server RSS peak above the start (MiB)",
            growth,
            f"<= {bound} (load alone {stalled['rss_load_alone_mib']} + {count} x "
            f"{stalled['rss_allowance_per_stalled_mib']})",
            growth <= bound,
        ),
        row(
            "what each stalled client's queue would hold unbounded (MiB)",
            stalled["unbounded_queue_mib_per_stalled"],
        ),
    ]


def plot_memory(path: Path, stalled: dict[str, Any], size: Size) -> None:
    """Server RSS over the run; when the stalled members stopped reading and each cut-off."""
    samples = stalled["rss_samples"]
    start = stalled["rss_start_mib"]
    figure, axes = plt.subplots(figsize=(10, 5))
    axes.plot([t for t, _ in samples], [kib / 1024 for _, kib in samples], "-o", markersize=3,
              label="server RSS")  # fmt: skip
    axes.axhline(start + stalled["rss_bound_mib"], color="tab:red", linewidth=1,
                 label=f"bound: start + {stalled['rss_bound_mib']} MiB")  # fmt: skip
    axes.axvline(size.control_s, color="grey", linewidth=1, label="stalled clients stop reading")
    for number, after_s in enumerate(stalled["cut_off_after_s"]):
        axes.axvline(size.control_s + after_s, color="tab:green", linestyle=":", linewidth=1,
                     label="cut off" if number == 0 else None)  # fmt: skip
    axes.set_xlabel("seconds since the start of sending")
    axes.set_ylabel("RSS (MiB)")
    axes.set_title(f"overload: {stalled['stalled']} clients stop reading beside the load")
    save_plot(figure, axes, path)
