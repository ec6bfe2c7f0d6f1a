"""The memory of a server process: the collector tuned, freed memory handed back.

Both act on the whole process, so only an app that owns its process installs them
(`create_app(..., owns_process=True)`, as `peerrooms serve` does).

A burst of connections (a group's session starting, everyone reconnecting after a restart)
allocates far more in passing (requests, queries, packets) than the connections keep. glibc's
malloc gives freed memory back only from the top of its heap, so what the burst freed below
the connections' objects stays in the process's resident memory. `malloc_trim` releases the
free pages anywhere in the heap. Measured by the idle benchmark (5,000 connections): 40.6 KiB
per connection 5 s after the last one joined, 36.9 KiB once a trim had run. A trim takes a few
milliseconds, on a thread of its own, so the event loop goes on meanwhile.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiohttp import web

from server.kernel.clock import Clock, LoopingCall
from server.kernel.lifetime import CleanupContext

log = logging.getLogger(__name__)

TRIM_EVERY_S = 10.0


def find_malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def trim_every(trim: Callable[[int], int], every_s: float, clock: Clock) -> LoopingCall:
    """Trim every `every_s` on the clock, on a thread of its own; stop it with `stop()`."""

    async def trim_on_a_thread() -> None:
        await asyncio.to_thread(trim, 0)

    return clock.looping_call(trim_on_a_thread, every_s)


def give_back_freed_memory(clock: Clock) -> CleanupContext:
    """While the server runs, return freed memory to the system every TRIM_EVERY_S."""

    @asynccontextmanager
    async def trimming_while_serving(_app: web.Application) -> AsyncIterator[None]:
        trim = find_malloc_trim()
        if trim is None:
            log.info("malloc_trim is not available; freed memory stays with the process")
            yield
            return
        trimming = trim_every(trim, TRIM_EVERY_S, clock)
        try:
            yield
        finally:
            await trimming.stop()

    return trimming_while_serving


# Tracked allocations between young-generation collections (CPython's default is 700), and
# how many collections of each generation before the next one up is considered.
GC_THRESHOLDS = (10_000, 10, 10)


async def freeze_startup_objects(_app: web.Application) -> None:
    """Move what start-up made (modules, models, compiled statements: most of the heap) out of
    the collector's sight, and collect the young generation less often.

    Every pause of the collector is felt by every message waiting behind it. Whatever is in
    flight when the young generation is collected (tasks, packets, futures) is promoted, and
    once enough was promoted, a full collection scans every connection's objects: under the
    fan-out benchmark, 150-250 ms every 5 s with the default thresholds. Collecting the young
    generation after 10,000 allocations instead of 700 promotes far less (most of it has died
    by then), so full collections come far less often. Higher still (50,000) left so
    much garbage waiting between collections that memory per idle connection grew by 2 KiB."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
