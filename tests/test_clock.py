"""The clocks: the system clock sleeps and repeats on asyncio; the manual clock stands still
until a test advances it, and then runs what came due, in order, before answering."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from server.kernel.clock import ManualClock, SystemClock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def test_a_sleeper_wakes_only_when_the_clock_reaches_its_time() -> None:
    clock = ManualClock(T0)
    woke: list[str] = []

    async def sleep_then_note(seconds: float, name: str) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    sleepers = [
        asyncio.create_task(sleep_then_note(10, "ten")),
        asyncio.create_task(sleep_then_note(5, "five")),
    ]
    await clock.advance()  # both are asleep now
    assert clock.pending == 2

    await clock.advance(seconds=4.9)
    assert woke == []
    await clock.advance(seconds=0.1)
    assert woke == ["five"]
    await clock.advance(seconds=60)
    assert woke == ["five", "ten"]
    await asyncio.gather(*sleepers)
    assert clock.now() == T0 + timedelta(seconds=65)


async def test_a_cancelled_sleeper_is_forgotten() -> None:
    clock = ManualClock(T0)
    sleeper = asyncio.create_task(clock.sleep(5))
    await clock.advance()
    sleeper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sleeper
    assert clock.pending == 0
    await clock.advance(seconds=10)  # nothing to wake, nothing raised


async def test_a_looping_call_runs_once_per_interval_and_each_run_ends_before_advance_does() -> (
    None
):
    clock = ManualClock(T0)
    seen: list[datetime] = []

    async def work() -> None:
        await asyncio.sleep(0)  # a run that waits on something, as a database query does
        await asyncio.to_thread(lambda: None)
        seen.append(clock.now())

    loop = clock.looping_call(work, 10.0)
    await clock.advance(seconds=9)
    assert seen == []
    await clock.advance(seconds=1)
    assert seen == [T0 + timedelta(seconds=10)]
    for _ in range(3):
        await clock.advance(seconds=10)
    assert len(seen) == 4
    await loop.stop()
    await clock.advance(seconds=100)
    assert len(seen) == 4


async def test_runs_missed_across_a_long_advance_fold_into_one() -> None:
    clock = ManualClock(T0)
    runs: list[datetime] = []

    async def work() -> None:
        runs.append(clock.now())

    clock.looping_call(work, 15.0)
    await clock.advance(hours=24)
    assert runs == [T0 + timedelta(hours=24)]
    await clock.advance(seconds=14)
    assert len(runs) == 1  # the next run is an interval after the last one
    await clock.advance(seconds=1)
    assert len(runs) == 2


async def test_run_now_runs_at_the_next_advance_even_by_nothing() -> None:
    clock = ManualClock(T0)
    runs = 0

    async def work() -> None:
        nonlocal runs
        runs += 1

    clock.looping_call(work, 5.0, run_now=True)
    assert runs == 0
    await clock.advance()
    assert runs == 1
    await clock.advance()
    assert runs == 1


async def test_due_work_runs_in_the_order_it_came_due() -> None:
    clock = ManualClock(T0)
    order: list[str] = []

    def note(name: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            order.append(name)

        return run

    clock.looping_call(note("every 3"), 3.0)
    clock.looping_call(note("every 2"), 2.0)
    clock.looping_call(note("every 1"), 1.0)
    await clock.advance(seconds=3)
    assert order == ["every 1", "every 2", "every 3"]


async def test_a_failing_run_is_logged_and_the_call_runs_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock(T0)
    attempts = 0

    async def flaky() -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("the database went away")

    clock.looping_call(flaky, 1.0)
    with caplog.at_level(logging.ERROR, logger="server.kernel.clock"):
        await clock.advance(seconds=1)
    assert attempts == 1
    assert "flaky failed; it runs again in 1.0 s" in caplog.text
    await clock.advance(seconds=1)
    assert attempts == 2


async def test_stopping_cancels_a_run_under_way() -> None:
    clock = ManualClock(T0)
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        started.set()
        try:
            await asyncio.Event().wait()  # never set: only cancelling ends this run
        except asyncio.CancelledError:
            cancelled.set()
            raise

    loop = clock.looping_call(slow, 1.0)
    advancing = asyncio.create_task(clock.advance(seconds=1))
    await started.wait()
    await loop.stop()
    await advancing  # the run it waited for was cancelled, so it answers
    assert cancelled.is_set()
    assert clock.pending == 0


async def test_an_idle_manual_clock_runs_nothing_however_long_the_loop_spins() -> None:
    clock = ManualClock(T0)
    runs = 0

    async def work() -> None:
        nonlocal runs
        runs += 1

    clock.looping_call(work, 0.001, run_now=True)
    sleeper = asyncio.create_task(clock.sleep(0.001))
    for _ in range(200):
        await asyncio.sleep(0)
    assert runs == 0 and not sleeper.done()
    sleeper.cancel()


async def test_setting_the_wall_clock_wakes_nobody() -> None:
    """As setting a machine's clock does not end sleeps: only `advance` moves the time that
    sleeps and loops are due on."""
    clock = ManualClock(T0)
    runs = 0

    async def work() -> None:
        nonlocal runs
        runs += 1

    clock.looping_call(work, 60.0)
    clock.current = T0 + timedelta(days=30)
    await clock.advance(seconds=59)
    assert runs == 0
    assert clock.now() == T0 + timedelta(days=30, seconds=59)
    await clock.advance(seconds=1)
    assert runs == 1


async def test_time_does_not_go_back_and_loops_need_an_interval() -> None:
    clock = ManualClock(T0)

    async def work() -> None:
        pass

    with pytest.raises(ValueError, match="forward"):
        await clock.advance(seconds=-1)
    for interval in (0.0, -1.0):
        with pytest.raises(ValueError, match="interval"):
            clock.looping_call(work, interval)
        with pytest.raises(ValueError, match="interval"):
            SystemClock().looping_call(work, interval)


async def test_the_system_clock_repeats_on_real_time_and_stops() -> None:
    clock = SystemClock()
    runs = 0
    ran_twice = asyncio.Event()

    async def work() -> None:
        nonlocal runs
        runs += 1
        if runs == 2:
            ran_twice.set()

    loop = clock.looping_call(work, 0.01, run_now=True)
    await asyncio.wait_for(ran_twice.wait(), timeout=5)
    await loop.stop()
    stopped_at = runs
    await clock.sleep(0.05)
    assert runs == stopped_at
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=1)
