"""Posting each new alert, and each page to someone on call, to an outside URL (a paging or
on-call system), with retries."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

# An on-call system that takes longer than this to answer is treated as down and retried.
REQUEST_TIMEOUT_S = 10.0
# On shutdown, deliveries still retrying get this long to finish before they are dropped.
DRAIN_TIMEOUT_S = 5.0


@dataclass
class AlertWebhook:
    url: str
    attempts: int
    backoff_s: float
    _session: aiohttp.ClientSession | None = field(default=None, init=False)
    _pending: set[asyncio.Task[None]] = field(default_factory=set, init=False)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        )

    def deliver(self, alert: dict[str, Any]) -> None:
        """Send in the background: a slow receiver must not hold up the message or its ack."""
        self._send({"event": "alert", "alert": alert})

    def page(self, alert: dict[str, Any], on_call: str, step: int) -> None:
        """Ask the paging system to reach `on_call` (a name or handle it knows), the `step`th
        on the list, about this alert."""
        self._send({"event": "page", "on_call": on_call, "step": step, "alert": alert})

    def _send(self, body: dict[str, Any]) -> None:
        task = asyncio.create_task(self._post_with_retries(body))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _post_with_retries(self, body: dict[str, Any]) -> None:
        assert self._session is not None  # noqa: S101 - started by the app before any alert
        for attempt in range(1, self.attempts + 1):
            try:
                async with self._session.post(self.url, json=body) as response:
                    if response.status < 300:
                        return
                    problem = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as error:
                problem = error.__class__.__name__
            if attempt < self.attempts:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
        log.error(
            "alert webhook gave up on %s of alert %s after %d attempts (%s)",
            body["event"],
            body["alert"].get("id"),
            self.attempts,
            problem,
        )

    async def close(self) -> None:
        if self._pending:
            _, still_running = await asyncio.wait(self._pending, timeout=DRAIN_TIMEOUT_S)
            for task in still_running:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._session is not None:
            await self._session.close()
