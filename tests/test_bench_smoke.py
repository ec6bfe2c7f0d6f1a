"""The benchmark at tiny sizes, so it never rots: every scenario runs end to end against real
server processes and writes its JSON. Timings are never asserted (CI machines vary); only
the shape of the results and that no delivery was lost or duplicated."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.scenarios.sharing import PROCESSES as SHARING_PROCESSES
from bench.scenarios.sharing import RATIO_TARGET as SHARING_RATIO_TARGET
from tests.processes import python_env

SCENARIOS = (
    "fanout",
    "ceiling",
    "idle",
    "history",
    "filters",
    "soak",
    "storm",
    "sharing",
    "overload",
)
# Three at a time: each starts servers and load generators, and all at once on CI's two cores,
# beside the other workers' tests, could take minutes to start one server.
AT_ONCE = 3
TIMEOUT_S = 180
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every scenario, each in its own process, AT_ONCE at a time."""
    out = tmp_path_factory.mktemp("bench")
    outputs = asyncio.run(run_scenarios(out))
    for name, (returncode, output) in outputs.items():
        assert returncode == 0, f"{name}:\n{output}"
    return {name: json.loads((out / f"{name}.json").read_text()) for name in SCENARIOS}


async def run_scenarios(out: Path) -> dict[str, tuple[int | None, str]]:
    limit = asyncio.Semaphore(AT_ONCE)

    async def one(name: str) -> tuple[int | None, str]:
        async with limit:
            return await run_scenario(name, out)

    answers = await asyncio.gather(*(one(name) for name in SCENARIOS))
    return dict(zip(SCENARIOS, answers, strict=True))


async def run_scenario(name: str, out: Path) -> tuple[int | None, str]:
    """The scenario's exit code and output; killed (None) past TIMEOUT_S, pipes closed."""
    process = await asyncio.create_subprocess_exec(
        # One load-generator process each (of two by default): the worker protocol is the
        # same, and a few scenarios at once on two cores need no more.
        *[sys.executable, "-m", "bench", name, "--smoke", "--workers", "1", "--out", str(out)],
        cwd=REPO,
        env=python_env(os.environ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), TIMEOUT_S)
    except TimeoutError:
        process.kill()
        output, _ = await process.communicate()
        return None, f"killed after {TIMEOUT_S} s:\n{output.decode()}"
    return process.returncode, output.decode()


def assert_clean_deliveries(run: dict[str, Any]) -> None:
    assert run["messages_sent"] > 0
    assert run["lost"] == 0
    assert run["duplicated"] == 0
    assert run["unexpected"] == 0
    assert run["messages_unacked"] == 0
    assert run["messages_refused"] == {}
    assert run["deliveries"] == run["deliveries_expected"] > 0


def test_every_result_has_its_table(results: dict[str, dict[str, Any]]) -> None:
    for document in results.values():
        assert {"scenario", "machine", "checks", "results", "notes"} <= document.keys()
        assert document["checks"]
        for check in document["checks"]:
            assert {"figure", "peerrooms", "bare", "ratio", "target", "passed"} <= check.keys()


def test_fanout_delivers_everything_once(results: dict[str, dict[str, Any]]) -> None:
    # The Node socket.io relay too: `make test` builds the web client with the same Node.
    for kind in ("peerrooms", "bare", "node"):
        run = results["fanout"]["results"][kind]
        assert_clean_deliveries(run)
        assert {"p50", "p95", "p99"} <= run["delivery_latency_ms"].keys()
        assert run["server_cpu_us_per_delivery"] is not None
        assert run["server_rss_mib"] > 0
        assert run["windows"]
        assert all(w["utilisation"] is not None for w in run["generator"]["workers"])


def test_ceiling_steps_deliver_everything_once(results: dict[str, dict[str, Any]]) -> None:
    configs = results["ceiling"]["results"]
    assert configs.keys() == {"peerrooms 2 processes, sqlite", "bare 2 processes"}
    for config in configs.values():
        assert config["steps"]
        for step in config["steps"]:
            assert_clean_deliveries(step)
            assert "passed" in step


def test_idle_measures_memory_per_connection(results: dict[str, dict[str, Any]]) -> None:
    for kind in ("peerrooms", "bare"):
        run = results["idle"]["results"][kind]
        assert run["connect"]["failed"] == 0
        assert run["still_connected"] == run["connect"]["connected"] > 0
        assert run["rss_kib_per_connection"] is not None


def test_history_pages_through_a_stored_room(results: dict[str, dict[str, Any]]) -> None:
    runs = results["history"]["results"]
    assert "sqlite" in runs
    for run in runs.values():
        for way in ("event", "http"):
            assert run[way]["count"] > 0
            assert {"p50", "p99"} <= run[way].keys()


def test_filters_time_each_stage(results: dict[str, dict[str, Any]]) -> None:
    figures = results["filters"]["results"]
    for stage in ("text_filters_us", "gate_pipeline_us", "send_in_process_us"):
        assert figures[stage]["all"]["count"] > 0
        assert figures[stage]["all"]["mean"] is not None


def test_soak_reads_each_process_memory(results: dict[str, dict[str, Any]]) -> None:
    run = results["soak"]["results"]["peerrooms"]
    assert_clean_deliveries(run)
    assert run["connect"]["failed"] == 0
    assert len(run["memory"]) == run["processes"] == 2
    for process in run["memory"]:
        assert len(process["samples"]) >= 3
        assert all(kib > 0 for _t, kib in process["samples"])
        assert process["rss_warmup_end_kib"] > 0
        assert process["rss_end_kib"] > 0
        assert process["slope_kib_per_min"] is not None
    slopes = [process["slope_kib_per_min"] for process in run["memory"]]
    assert run["worst_slope_kib_per_min"] == max(slopes)


def test_storm_catches_every_client_up(results: dict[str, dict[str, Any]]) -> None:
    document = results["storm"]
    size, run = document["size"], document["results"]["peerrooms"]
    people = size["people"]
    assert run["connect"]["failed"] == 0
    # Before the restart every client had its room's messages, once each.
    assert run["before_restart"] == {"lost": 0, "duplicated": 0}
    assert (
        run["messages_stored_after_restart"]
        == size["missed_per_room"] * people // size["room_size"]
    )
    assert run["clients"] == people
    assert run["never_connected"] == run["join_failed"] == 0
    # Each client is owed exactly what its room got after the restart, and got it once.
    assert run["messages_owed"] == size["missed_per_room"] * people
    assert run["missed"] == 0
    assert run["duplicated"] == 0
    assert run["unexpected"] == 0
    assert run["caught_up"] == people
    assert run["connect_join_ms"]["count"] == people
    assert {"p50", "p95", "p99"} <= run["connect_join_ms"].keys()
    assert run["server_peak_rss_mib"] > 0
    # The bare relay's storm, the floor beside it: everyone back in, the relay's CPU counted.
    bare = document["results"]["bare"]
    assert bare["connect"]["failed"] == 0
    assert bare["clients"] == bare["back_in"] == people
    assert bare["connect_join_ms"]["count"] == people
    assert bare["server_cpu_s"] > 0
    rows = {check["figure"]: check for check in document["checks"]}
    assert rows["connect + join p99 (ms)"]["bare"] == bare["connect_join_ms"]["p99"]


def test_sharing_decodes_only_what_members_need(results: dict[str, dict[str, Any]]) -> None:
    runs = results["sharing"]["results"]
    assert runs.keys() == {"spread", "by room"}
    for run in runs.values():
        assert run["messages_sent"] > 0
        assert run["lost"] == run["duplicated"] == 0
        assert len(run["processes"]) == SHARING_PROCESSES
        assert all(p["needed"] > 0 for p in run["processes"])
        # Counts, not timings: what a process decodes and what its sockets were handed.
        assert run["worst_ratio"] <= SHARING_RATIO_TARGET


def test_overload_answers_every_send_and_lets_go_of_clients_that_stop_reading(
    results: dict[str, dict[str, Any]],
) -> None:
    document = results["overload"]
    size, run = document["size"], document["results"]["peerrooms"]
    above, stalled = run["above_ceiling"], run["stopped_reading"]
    assert run["ceiling"]["msg_per_s"] > 0
    assert above["offered_msg_per_s"] == pytest.approx(1.5 * run["ceiling"]["msg_per_s"])
    # Every send answered: acknowledged, or refused with a documented code.
    step = above["step"]
    assert above["unanswered"] == 0
    refused = sum(step["messages_refused"].values())
    assert step["messages_acked_ok"] + refused == step["messages_sent"]
    assert set(above["refused_by_code"]) <= {"overloaded", "rate_limited"}
    assert above["refusal_ms"]["count"] == sum(above["refused_by_code"].values())
    assert above["acked_ack_ms"]["count"] == step["messages_acked_ok"]
    assert {"p50", "p99"} <= above["acked_ack_ms"].keys() & above["refusal_ms"].keys()
    # Nothing acknowledged lost or delivered twice; nothing refused delivered.
    assert above["lost"] == above["duplicated"] == above["unexpected"] == 0
    assert above["server_peak_rss_mib"] > 0
    # Each client that stopped reading was cut off by the server, and nobody else.
    stalled_count = size["busy_rooms"] * size["stalled_per_room"]
    assert stalled["connect_errors"] == []
    assert stalled["stalled"] == stalled["cut_off"] == stalled_count
    assert stalled["server_cut_off_count"] == stalled_count
    assert stalled["readers"] == size["busy_rooms"] * size["readers_per_room"]
    assert stalled["readers_cut_off"] == stalled["load_clients_disconnected"] == 0
    assert stalled["posts_acked_readers_missed"] == 0
    assert stalled["load_lost"] == stalled["load_duplicated"] == stalled["load_unanswered"] == 0
    assert len(stalled["rss_samples"]) >= 2
