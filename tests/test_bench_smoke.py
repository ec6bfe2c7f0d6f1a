"""The benchmark at tiny sizes, so it never rots: every scenario runs end to end against real
server processes and writes its JSON. Timings are never asserted (CI machines vary); only
the shape of the results and that no delivery was lost or duplicated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.processes import python_env

SCENARIOS = ("fanout", "ceiling", "idle", "history", "filters", "soak")
TIMEOUT_S = 120
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every scenario at once, each in its own process (together they fit in seconds)."""
    out = tmp_path_factory.mktemp("bench")
    running = {
        name: subprocess.Popen(  # noqa: S603 - our own interpreter and module
            # One load-generator process each (of two by default): the worker protocol is
            # the same, and six scenarios at once on two cores need no more.
            [sys.executable, "-m", "bench", name, "--smoke", "--workers", "1", "--out", str(out)],
            cwd=REPO,
            env=python_env(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for name in SCENARIOS
    }
    for name, process in running.items():
        output, _ = process.communicate(timeout=TIMEOUT_S)
        assert process.returncode == 0, f"{name}:\n{output.decode()}"
    return {name: json.loads((out / f"{name}.json").read_text()) for name in SCENARIOS}


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
    for kind in ("peerrooms", "bare"):
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
