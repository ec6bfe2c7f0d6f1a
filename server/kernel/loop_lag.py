"""How late this process's event loop runs what is due: the sign that its CPU is the limit.

A send costs mostly CPU (the gates, the insert, a delivery to each member). Past the process's
ceiling the work waits for the event loop, not for the database, so the sends under way stay
few (the admission's count of them does not rise) while each waits longer: 1.2 s for an
acknowledgement at 1.5 times the ceiling, measured by `python -m bench overload`. A timer due
every `interval_s` that fires late says how long every callback is waiting for its turn. The
lateness is smoothed over several ticks, so one pause (a full collection, a checkpoint) does
not read as overload, while a lag that lasts does within a second. Load shedders for other
event loops use the same measure (Node's toobusy, for one).
"""

from __future__ import annotations

import asyncio
import contextlib


class LoopLag:
    def __init__(self, interval_s: float = 0.05, newest_weight: float = 0.25) -> None:
        self._interval_s = interval_s
        self._newest_weight = newest_weight
        self._smoothed_s = 0.0
        self._task: asyncio.Task[None] | None = None

    def seconds(self) -> float:
        """The loop's recent lateness, smoothed (0 until started)."""
        return self._smoothed_s

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._measure(), name="loop lag")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._smoothed_s = 0.0

    async def _measure(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self._interval_s
            await asyncio.sleep(self._interval_s)
            self.record(max(0.0, loop.time() - due))

    def record(self, late_s: float) -> None:
        """One tick's lateness, into the smoothed figure."""
        weight = self._newest_weight
        self._smoothed_s = weight * late_s + (1 - weight) * self._smoothed_s
