"""How a resource lives as long as the application serves: one aiohttp `cleanup_ctx` each.

aiohttp enters the contexts in order at start-up and leaves those it entered in reverse at
clean-up. A resource that fails to start therefore unwinds only what started before it, where
one context for many resources would leak whatever it had started when a later one failed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from aiohttp import web

CleanupContext = Callable[[web.Application], AbstractAsyncContextManager[None]]


class Startable(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...


@asynccontextmanager
async def _started_and_closed(
    start: Callable[[], Awaitable[None]] | None, close: Callable[[], Awaitable[None]]
) -> AsyncIterator[None]:
    if start is not None:
        await start()
    try:
        yield
    finally:
        await close()


def while_serving(service: Startable) -> CleanupContext:
    """Started before the application serves, closed after it stops."""
    return lambda _app: _started_and_closed(service.start, service.close)


def closed_after_serving(close: Callable[[], Awaitable[None]]) -> CleanupContext:
    """For what is open already (or opens on first use): `close` runs after the application
    stops."""
    return lambda _app: _started_and_closed(None, close)
