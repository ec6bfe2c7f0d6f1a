"""A control bus: messages every server process must act on (a user's access changed,
a user must leave a room). In one process it calls the handlers directly; a Redis-backed
subclass publishes to all processes instead."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

BusHandler = Callable[[dict[str, Any]], Awaitable[None]]


class ControlBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[BusHandler]] = {}

    def subscribe(self, kind: str, handler: BusHandler) -> None:
        self._handlers.setdefault(kind, []).append(handler)

    def after_outage(self, callback: Callable[[], None]) -> None:
        """Call `callback` when messages may have been lost (Redis was down) and the bus
        works again; in one process none ever is."""

    async def publish(self, kind: str, payload: dict[str, Any]) -> None:
        """Have every process (here: this one) run the handlers of `kind`."""
        await self.dispatch(kind, payload)

    async def dispatch(self, kind: str, payload: dict[str, Any]) -> None:
        for handler in self._handlers.get(kind, []):
            try:
                await handler(payload)
            except Exception:
                # One failing handler must not keep the others (other users) from running.
                log.exception("control bus handler for %s failed", kind)

    async def start(self) -> None:
        """Begin receiving from other processes (nothing to do in one process)."""

    async def close(self) -> None:
        """Stop receiving."""
