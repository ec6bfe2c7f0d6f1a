"""Time as one injectable dependency: what time it is, waiting, and work that repeats.

Everything the service does on a timer (the meeting clock, raising alerts again, presence
upkeep, the memory trim) waits through a `Clock`, so a test drives it with `ManualClock`:
time stands still until the test advances it, and then the work that came due runs at once.

Waits that pace real I/O stay on asyncio, because a fake clock would only make them wrong:
the Redis resubscribe backoff (realtime/redis.py) waits for a server to come back, the ack
flush on shutdown (realtime/router.py) waits for bytes to leave a socket, the webhook retry
backoff (moderation/webhook.py) waits for an outside system, and HTTP timeouts measure a peer.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

log = logging.getLogger(__name__)

Repeated = Callable[[], Awaitable[object]]


class LoopingCall(Protocol):
    async def stop(self) -> None:
        """Run no more; a run under way is cancelled."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware in UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait this long."""
        ...

    def looping_call(
        self, call: Repeated, interval_s: float, *, run_now: bool = False
    ) -> LoopingCall:
        """Run `call` every `interval_s` from now on (first at once when `run_now`), one run
        at a time: the next wait starts when a run ends. A run that raises is logged and the
        call runs again at its next turn. Stop it with the answer's `stop()`."""
        ...


async def run_logged(call: Repeated, interval_s: float) -> None:
    """One run of a looping call: a failure is logged, never raised, so the loop goes on."""
    try:
        await call()
    except Exception:
        name = getattr(call, "__qualname__", repr(call))
        log.exception("%s failed; it runs again in %.1f s", name, interval_s)


def check_interval(interval_s: float) -> None:
    # A loop with no wait between runs would never give the event loop back.
    if not interval_s > 0:
        raise ValueError(f"a looping call needs an interval above 0 s, not {interval_s}")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def looping_call(
        self, call: Repeated, interval_s: float, *, run_now: bool = False
    ) -> LoopingCall:
        check_interval(interval_s)
        return TaskLoop(asyncio.create_task(self._repeat(call, interval_s, run_now)))

    @staticmethod
    async def _repeat(call: Repeated, interval_s: float, run_now: bool) -> None:
        if not run_now:
            await asyncio.sleep(interval_s)
        while True:
            await run_logged(call, interval_s)
            await asyncio.sleep(interval_s)


@dataclass
class TaskLoop:
    """A looping call of the system clock: one task that runs and sleeps in turn."""

    task: asyncio.Task[None]

    async def stop(self) -> None:
        await cancel(self.task)


async def cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


# ----- a clock for tests -----

# How long `ManualClock.advance` waits for the runs it started (real seconds).
RUN_TIMEOUT_S = 30.0


@dataclass(order=True)
class Timer:
    """Something due on a manual clock: a sleeper to wake, or a looping call to run."""

    due: float
    seq: int
    sleeper: asyncio.Future[None] | None = field(default=None, compare=False)
    loop: ManualLoop | None = field(default=None, compare=False)
    cancelled: bool = field(default=False, compare=False)


@dataclass
class ManualLoop:
    """A looping call of a manual clock: run by `ManualClock.advance`, never by itself."""

    clock: ManualClock
    call: Repeated
    interval_s: float
    timer: Timer | None = None
    running: asyncio.Task[None] | None = None
    stopped: bool = False

    async def stop(self) -> None:
        self.stopped = True
        if self.timer is not None:
            self.timer.cancelled = True
        if self.running is not None:
            await cancel(self.running)

    def start_run(self) -> asyncio.Task[None]:
        """Run once now, in a task of its own (as the system clock's runs are, so stopping
        can cancel it); the next run is due one interval after this one ends."""
        self.timer = None
        self.running = asyncio.create_task(run_logged(self.call, self.interval_s))
        self.running.add_done_callback(self._ran)
        return self.running

    def _ran(self, _task: asyncio.Task[None]) -> None:
        self.running = None
        if not self.stopped:
            self.timer = self.clock.schedule(self.interval_s, loop=self)


class ManualClock:
    """A clock that stands still until a test moves it.

    Two times, as on a real machine: `current`, the wall clock that `now()` reads, and the
    monotonic time that sleeps and looping calls are due on. `advance` moves both and then
    runs what came due; setting `current` moves the wall clock alone and wakes nobody, as
    setting a machine's clock does not end its processes' sleeps.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime.now(UTC)
        self._monotonic = 0.0
        self._timers: list[Timer] = []
        self._seq = itertools.count()
        self._advancing = asyncio.Lock()

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        timer = self.schedule(seconds, sleeper=woken)
        try:
            await woken
        finally:
            timer.cancelled = True

    def looping_call(
        self, call: Repeated, interval_s: float, *, run_now: bool = False
    ) -> LoopingCall:
        """Due one interval from now, or at once with `run_now`: either way it runs only when
        a test advances the clock (`await clock.advance()` runs what is due at once)."""
        check_interval(interval_s)
        loop = ManualLoop(self, call, interval_s)
        loop.timer = self.schedule(0.0 if run_now else interval_s, loop=loop)
        return loop

    def schedule(
        self,
        after_s: float,
        *,
        sleeper: asyncio.Future[None] | None = None,
        loop: ManualLoop | None = None,
    ) -> Timer:
        timer = Timer(self._monotonic + after_s, next(self._seq), sleeper, loop)
        heapq.heappush(self._timers, timer)
        return timer

    @property
    def pending(self) -> int:
        """How many sleepers and looping calls are waiting for time to pass."""
        return sum(1 for timer in self._timers if not timer.cancelled)

    async def advance(self, **delta: float) -> None:
        """Move time on by `timedelta(**delta)` (`advance(minutes=5)`), then, in the order they
        came due, wake the sleepers and run each looping call that is due, once: runs missed
        across a long advance fold into one, as they do for a loop held up that long. Answers
        when every run started here has ended and the woken sleepers have resumed, so a test
        can assert at once what a run did, or that it did nothing. To see several runs of a
        loop, advance by its interval several times."""
        step = timedelta(**delta)
        if step < timedelta(0):
            raise ValueError(f"time only moves forward, not by {step}")
        async with self._advancing:
            self.current += step
            self._monotonic += step.total_seconds()
            runs = self._start_due()
            if runs:
                _, hung = await asyncio.wait(runs, timeout=RUN_TIMEOUT_S)
                if hung:
                    # A test would otherwise hang here with nothing said.
                    raise TimeoutError(f"{len(hung)} looping call runs did not end")
            # Woken sleepers resume on the loop's next turns.
            for _ in range(3):
                await asyncio.sleep(0)

    def _start_due(self) -> list[asyncio.Task[None]]:
        runs: list[asyncio.Task[None]] = []
        # Within a nanosecond: advancing by 7.4 s and then 0.1 s reaches what is due at 7.5.
        while self._timers and self._timers[0].due <= self._monotonic + 1e-9:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            if timer.sleeper is not None and not timer.sleeper.done():
                timer.sleeper.set_result(None)
            elif timer.loop is not None and not timer.loop.stopped:
                runs.append(timer.loop.start_run())
        return runs


def iso_utc(moment: datetime | None) -> str | None:
    """The contract's time format: ISO 8601 in UTC with a Z suffix."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
