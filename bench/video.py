"""python -m bench.video [--sizes 3,6,12] [--window 60] [--joins 20] [--no-readme | --readme-only]

Video calls on this machine, in the video lab of the browser tests (Janus, a peerrooms server
and headless Chromium with fake cameras and microphones, all inside a network namespace made
for the run; tests/browser/video_lab.py). Needs root, Debian's janus and chromium, web/dist.
For each call size N in `--sizes`, in turn:

1. **Idle**: nobody on a meeting page. Janus's and the server's CPU time (/proc) over
   `--window` seconds, as a share of one core, and Janus's resident memory.
2. **Join to first remote frame**: N - 1 people join with video; the N-th presses "Join with
   video" on the meeting page, and the time until that page has decoded a frame of someone
   else's is taken (its peer connections' getStats, looked at every 20 ms); then they leave.
   `--joins` times: p50 and p95 (nearest rank); a join with no remote frame within a minute
   counts as slower than any (a saturated machine), and the table says "over 60 s".
3. **In the call**: the N-th joins for good; once every page decodes every other camera (or a
   minute has passed), Janus's and the server's CPU over the same window again, and Janus's
   memory. Janus per participant is (call - idle) / N; the server's extra CPU for the session
   is call - idle, both figures kept. Each page's frames decoded per second per remote camera
   says whether the machine kept up: every browser runs on the same cores as Janus.

The server polls Janus for who is in each call every `video_presence_poll_s` as configured by
default (the browser tests poll every second). Writes bench/results/video.json, prints a
table, and puts it into README.md's "Video calls" section between its markers;
`--readme-only` does only that, from the JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import statistics
import subprocess
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from bench.report import machine
from bench.scenarios.common import wait_for_quiet_machine
from bench.targets import busy_seconds_between, cpu_by_process
from server.settings import Settings
from tests.browser.pages import CHROMIUM, Tab
from tests.browser.video_lab import VideoLab, inbound_counts, running_video_lab
from tests.janus import pids_inside
from tests.support import Person, register

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "video.json"
README = ROOT / "README.md"
README_START = "<!-- bench.video:start -->"
README_END = "<!-- bench.video:end -->"
FRAME_POLL_S = 0.02
JOIN_TIMEOUT_MS = 60_000
FIRST_FRAME_TIMEOUT_S = 60.0
ALL_DECODING_S = 60.0
FPS_WINDOW_S = 5.0
# What the web client asks of a camera (web/src/room/call.ts); a page decoding much less of
# each camera is a machine that did not keep up.
CAMERA_FPS = 20
KEPT_UP = 0.8
# Work outside the lab (cores) worth saying alongside the figures.
BUSY_CORES = 0.3


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def find_pid(namespace: str, looks_like: str) -> int:
    """The process in the namespace whose command line holds `looks_like`."""
    for pid in pids_inside(namespace):
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        if looks_like in command:
            return pid
    raise RuntimeError(f"no process like {looks_like!r} in {namespace}")


@dataclass(frozen=True)
class Usage:
    """Janus's and the server's CPU over a window (share of one core), Janus's memory after,
    and the cores that work outside the lab's namespace took meanwhile (it slows the lab)."""

    janus_cpu: float
    server_cpu: float
    janus_rss_mib: float
    other_cores: float


async def usage(lab: VideoLab, janus_pid: int, server_pid: int, window_s: float) -> Usage:
    await wait_for_quiet_machine()
    before = cpu_by_process()
    await asyncio.sleep(window_s)
    after = cpu_by_process()
    inside = pids_inside(lab.namespace)
    ours = sum(after.get(pid, 0.0) - before.get(pid, 0.0) for pid in inside if pid in after)
    other = (busy_seconds_between(before, after) - ours) / window_s
    janus = (after[janus_pid] - before[janus_pid]) / window_s
    server = (after[server_pid] - before[server_pid]) / window_s
    return Usage(janus, server, rss_mib(janus_pid), other)


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least `share` of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def finite(ms: float) -> int | None:
    return None if math.isinf(ms) else round(ms)


async def meeting_page(lab: VideoLab, person: Person) -> Tab:
    tab = await lab.tab(person)
    await tab.page.goto(f"/#/meetings/{lab.meeting.id}")
    await tab.in_meeting(lab.meeting.title)
    return tab


def call_region(tab: Tab) -> Any:
    return tab.page.get_by_role("region", name="Video call")


async def join(tab: Tab) -> None:
    await call_region(tab).get_by_role("button", name="Join with video", exact=True).click()
    # A machine running a dozen browsers answers slowly.
    status = call_region(tab).get_by_role("status")
    await expect(status).to_have_text("In the call", timeout=JOIN_TIMEOUT_MS)


async def leave(tab: Tab) -> None:
    await call_region(tab).get_by_role("button", name="Leave call").click()
    await expect(call_region(tab).get_by_role("status")).to_have_text("Not in the call")


async def first_frame_ms(tab: Tab) -> float:
    """Press Join with video; milliseconds until a remote frame is decoded (infinity when
    none came within FIRST_FRAME_TIMEOUT_S)."""
    button = call_region(tab).get_by_role("button", name="Join with video", exact=True)
    await expect(button).to_be_enabled(timeout=JOIN_TIMEOUT_MS)
    pressed = time.perf_counter()
    await button.click()
    while (await inbound_counts(tab.page))["frames_decoded"] == 0:
        if time.perf_counter() - pressed > FIRST_FRAME_TIMEOUT_S:
            return math.inf
        await asyncio.sleep(FRAME_POLL_S)
    return (time.perf_counter() - pressed) * 1000


async def people(lab: VideoLab, count: int) -> list[Person]:
    """`count` patients of the meeting's cohort: the lab's three, then new ones."""
    found = [lab.people[name] for name in ("pat_ana", "pat_avi", "pat_cy")][:count]
    while len(found) < count:
        name = f"pat_bench{len(found)}"
        if name not in lab.people:
            lab.people[name] = await register(
                lab.api, lab.people["mod_lee"], name, "patient", lab.community.cohort_a
            )
        found.append(lab.people[name])
    return found


async def cameras_decoded(tabs: list[Tab]) -> list[int]:
    return [(await inbound_counts(tab.page))["video_streams"] for tab in tabs]


async def all_decoding(tabs: list[Tab]) -> int:
    """Wait (a minute at most) until every page decodes every other camera; answers the fewest
    cameras a page decodes. Past the deadline the call is measured as it is: the figures then
    show a machine that fell behind."""
    deadline = time.monotonic() + ALL_DECODING_S
    streams = await cameras_decoded(tabs)
    while min(streams) < len(tabs) - 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        streams = await cameras_decoded(tabs)
    return min(streams)


async def decode_rate(tabs: list[Tab], seconds: float) -> list[float]:
    """Each page's frames decoded per second per remote camera over `seconds`."""
    before = [await inbound_counts(tab.page) for tab in tabs]
    await asyncio.sleep(seconds)
    after = [await inbound_counts(tab.page) for tab in tabs]
    return [
        (b["frames_decoded"] - a["frames_decoded"]) / seconds / max(1, b["video_streams"])
        for a, b in zip(before, after, strict=True)
    ]


async def measure_size(
    lab: VideoLab, size: int, window_s: float, joins: int, pids: tuple[int, int]
) -> dict[str, Any]:
    idle = await usage(lab, *pids, window_s)
    tabs = [await meeting_page(lab, person) for person in await people(lab, size)]
    *others, last = tabs
    for tab in others:
        await join(tab)
    await all_decoding(others)
    times = []
    for _ in range(joins):
        times.append(await first_frame_ms(last))
        await leave(last)
    await join(last)
    decoding = await all_decoding(tabs)
    call = await usage(lab, *pids, window_s)
    fps = await decode_rate(tabs, FPS_WINDOW_S)
    await lab.close_tabs()
    await asyncio.sleep(2)  # Janus lets the participants go
    return {
        "participants": size,
        "join_to_first_remote_frame_ms": {
            "p50": finite(percentile(times, 0.5)),
            "p95": finite(percentile(times, 0.95)),
            "runs": len(times),
            "all": [finite(t) for t in times],  # null: no frame within the timeout
        },
        "remote_cameras_decoding_min": decoding,
        "janus_cpu_core_share_idle": round(idle.janus_cpu, 4),
        "janus_cpu_core_share_call": round(call.janus_cpu, 4),
        "janus_cpu_per_participant": round((call.janus_cpu - idle.janus_cpu) / size, 4),
        "janus_rss_mib_idle": round(idle.janus_rss_mib, 1),
        "janus_rss_mib_call": round(call.janus_rss_mib, 1),
        "janus_rss_per_participant_mib": round((call.janus_rss_mib - idle.janus_rss_mib) / size, 2),
        "server_cpu_core_share_idle": round(idle.server_cpu, 4),
        "server_cpu_core_share_call": round(call.server_cpu, 4),
        "server_extra_cpu_per_session": round(call.server_cpu - idle.server_cpu, 4),
        "fps_per_remote_camera_median": round(statistics.median(fps), 1),
        "fps_per_remote_camera_worst": round(min(fps), 1),
        "other_work_cores": round(max(idle.other_cores, call.other_cores), 2),
    }


def version(*command: str) -> str:
    answer = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    lines = [line for line in answer.stdout.splitlines() if line.strip()]
    return lines[0].strip() if lines else "unknown"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def describe_machine() -> dict[str, Any]:
    return {
        **machine(),
        "cpu": cpu_model(),
        "janus": version("janus", "--version"),
        "chromium": version(str(CHROMIUM), "--version"),
    }


async def run(sizes: list[int], window_s: float, joins: int, out: Path) -> dict[str, Any]:
    """Every size in turn; `out` is written after each (`complete` false until the last), so
    a run cut short keeps what it measured."""
    poll_s = Settings.model_fields["video_presence_poll_s"].default
    result: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": describe_machine(),
        "window_s": window_s,
        "video_presence_poll_s": poll_s,
        "complete": False,
        "by_size": [],
    }
    with tempfile.TemporaryDirectory(prefix="bench-video-") as folder:
        async with running_video_lab(Path(folder), video_presence_poll_s=str(poll_s)) as lab:
            pids = find_pid(lab.namespace, "janus -C"), find_pid(lab.namespace, "-m server serve")
            for size in sizes:
                print(f"{size} people...", flush=True)
                result["by_size"].append(await measure_size(lab, size, window_s, joins, pids))
                result["complete"] = size == sizes[-1]
                out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def table(result: dict[str, Any]) -> str:
    """The figures as a Markdown table with what they were measured on, and what to make of a
    size the machine did not keep up with."""
    rows = result["by_size"]
    m = result["machine"]
    window = f"{result['window_s']:g} s"
    joins = rows[0]["join_to_first_remote_frame_ms"]["runs"] if rows else 0
    lines = [
        f"Measured {result['when'][:10]} by `python -m bench.video` (`bench/results/video.json`)"
        f" on {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['platform']};"
        f" Janus {short_version(m['janus'])} (Debian's package); Chromium"
        f" {short_version(m['chromium'])}, headless, fake cameras and"
        " microphones. Every browser, Janus and the server share those cores, in one network"
        f" namespace. CPU is over {window} windows, as a share of one core.",
        "",
        "| figure | " + " | ".join(f"{row['participants']} people" for row in rows) + " |",
        "|---|" + "---|" * len(rows),
    ]

    def row(name: str, cell: Any) -> None:
        lines.append(f"| {name} | " + " | ".join(cell(r) for r in rows) + " |")

    row(
        f"pressing `Join with video` to the first remote frame, the others in the call already:"
        f" p50 / p95 of {joins} joins (ms)",
        lambda r: " / ".join(
            f"over {FIRST_FRAME_TIMEOUT_S:g} s" if ms is None else str(ms)
            for ms in (r["join_to_first_remote_frame_ms"][key] for key in ("p50", "p95"))
        ),
    )
    row(
        "Janus CPU: nobody in a call → in the call",
        lambda r: f"{r['janus_cpu_core_share_idle']:.3f} → {r['janus_cpu_core_share_call']:.3f}",
    )
    row("Janus CPU per participant", lambda r: f"{r['janus_cpu_per_participant']:.4f}")
    row(
        "Janus resident memory, MiB: before → in the call",
        lambda r: f"{r['janus_rss_mib_idle']:.1f} → {r['janus_rss_mib_call']:.1f}",
    )
    row("Janus memory per participant, MiB", lambda r: f"{r['janus_rss_per_participant_mib']:.2f}")
    row(
        "the peerrooms process's CPU: nobody on the meeting page → everyone in the call",
        lambda r: f"{r['server_cpu_core_share_idle']:.4f} → {r['server_cpu_core_share_call']:.4f}",
    )
    row(
        "the server's extra CPU for the session",
        lambda r: f"{r['server_extra_cpu_per_session']:.4f}",
    )
    row(
        "frames decoded per second per remote camera, median / worst page",
        lambda r: f"{r['fps_per_remote_camera_median']} / {r['fps_per_remote_camera_worst']}",
    )
    row(
        "remote cameras the worst page decoded",
        lambda r: f"{r['remote_cameras_decoding_min']} of {r['participants'] - 1}",
    )
    busy = [r for r in rows if r["other_work_cores"] > BUSY_CORES]
    if busy:
        lines += [
            "",
            "Other work on the machine took cores during the windows ("
            + ", ".join(
                f"up to {r['other_work_cores']} at {r['participants']} people" for r in busy
            )
            + "): the lab had less of the machine than its figures assume.",
        ]
    behind = [r for r in rows if r["fps_per_remote_camera_median"] < KEPT_UP * CAMERA_FPS]
    for r in behind:
        size, other = r["participants"], r["other_work_cores"]
        also = f", and other work took up to {other} cores" if other > BUSY_CORES else ""
        lines += [
            "",
            f"At {size} people the machine did not keep up: the pages decoded"
            f" {r['fps_per_remote_camera_median']} frames per second of each camera's"
            f" {CAMERA_FPS} ({size} browsers decoding {size - 1} cameras each on"
            f" {m['cores']} cores{also}). Those figures describe a saturated machine, not a"
            " call (where each browser has a device of its own): less media flows, so Janus's"
            " CPU per participant is understated, and joining waits for a busy machine.",
        ]
    # Prose wrapped as the README's is; table rows as they are.
    return "\n".join(line if line.startswith("|") else textwrap.fill(line, 96) for line in lines)


def short_version(text: str) -> str:
    """1.1.2 out of "Janus version: 1102 (1.1.2)", 156.0.8078.129 out of "Chromium
    156.0.8078.129 built on ..."."""
    found = re.search(r"\(?(\d+(?:\.\d+)+)\)?", text)
    return found.group(1) if found else text


def update_readme(result: dict[str, Any], readme: Path = README) -> None:
    text = readme.read_text()
    start, end = text.index(README_START) + len(README_START), text.index(README_END)
    readme.write_text(text[:start] + "\n" + table(result) + "\n" + text[end:])


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.video",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sizes", default="3,6,12")
    parser.add_argument("--window", type=float, default=60.0, help="seconds of each CPU window")
    parser.add_argument("--joins", type=int, default=20, help="joins timed at each size")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--no-readme", action="store_true", help="leave README.md as it is")
    parser.add_argument("--readme-only", action="store_true", help="README.md from --out only")
    args = parser.parse_args()
    if args.readme_only:
        result = json.loads(args.out.read_text())
    else:
        sizes = [int(size) for size in args.sizes.split(",")]
        result = asyncio.run(run(sizes, args.window, args.joins, args.out))
    print(table(result))
    if not args.no_readme:
        update_readme(result)


if __name__ == "__main__":
    main()
