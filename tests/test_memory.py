"""Freed memory is handed back to the system, off the event loop; only an app that owns its
process tunes the process."""

from __future__ import annotations

import gc
import platform
import threading
from pathlib import Path

import pytest
from aiohttp import web

from server.app import create_app
from server.kernel.clock import ManualClock
from server.kernel.memory import GC_THRESHOLDS, find_malloc_trim, trim_every
from tests.support import server_settings


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_glibc_malloc_trim_is_found_and_runs() -> None:
    trim = find_malloc_trim()
    assert trim is not None
    # 1 when memory was released, 0 when there was none to release.
    assert trim(0) in (0, 1)


async def test_trims_run_again_and_again_on_another_thread() -> None:
    loop_thread = threading.get_ident()
    calls: list[tuple[int, int]] = []

    def trim(pad: int) -> int:
        calls.append((threading.get_ident(), pad))
        return 0

    clock = ManualClock()
    trimming = trim_every(trim, 10.0, clock)
    await clock.advance(seconds=9.9)
    assert calls == []
    for _ in range(3):
        await clock.advance(seconds=10)
    await trimming.stop()
    await clock.advance(seconds=60)
    assert len(calls) == 3
    assert all(thread != loop_thread and pad == 0 for thread, pad in calls)


async def looping_calls_of_a_started_app(folder: Path, *, owns_process: bool) -> int:
    folder.mkdir()
    clock = ManualClock()
    settings = server_settings(f"sqlite+aiosqlite:///{folder / 'db.sqlite'}", folder)
    runner = web.AppRunner(create_app(settings, clock=clock, owns_process=owns_process))
    await runner.setup()
    try:
        return clock.pending
    finally:
        await runner.cleanup()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
async def test_only_an_app_that_owns_its_process_tunes_it(tmp_path: Path) -> None:
    """Tests build many apps in one process; `peerrooms serve` builds one, which freezes the
    collector's view of start-up objects, raises its thresholds and trims every 10 s."""
    thresholds = gc.get_threshold()
    try:
        guest = await looping_calls_of_a_started_app(tmp_path / "guest", owns_process=False)
        assert gc.get_threshold() == thresholds
        owner = await looping_calls_of_a_started_app(tmp_path / "owner", owns_process=True)
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
        assert owner == guest + 1  # the trim
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
