"""A paging or on-call system on a loopback port, for the tests of the alert webhook."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class WebhookReceiver:
    """Records every JSON body posted to it; answers the first `failing` of them 500, the
    rest 200."""

    failing: int = 0
    url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        status = 500 if len(self.bodies) <= self.failing else 200
        self.statuses.append(status)
        return web.json_response({"received": len(self.bodies)}, status=status)

    def pages(self) -> list[tuple[str, int]]:
        """The on-call pages received: (whom, step), in order."""
        return [(b["on_call"], b["step"]) for b in self.bodies if b["event"] == "page"]


@asynccontextmanager
async def webhook_receiver(failing: int = 0) -> AsyncIterator[WebhookReceiver]:
    found = WebhookReceiver(failing)
    app = web.Application()
    app.router.add_post("/hook", found.handle)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        yield found
    finally:
        await runner.cleanup()
