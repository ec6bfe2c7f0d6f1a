"""Freed memory is handed back to the system, off the event loop."""

from __future__ import annotations

import platform
import threading

import pytest

from server.kernel.clock import ManualClock
from server.kernel.memory import find_malloc_trim, trim_every


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
